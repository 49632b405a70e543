#!/usr/bin/env python
"""What Ray costs and buys per generation (issue 11), beside today's local evaluators, in one run.

    python scripts/ray_bench.py                       # CartPole-v1 (twin) and LunarLander-v3 (gymnasium copies)
    python scripts/ray_bench.py --envs CartPole-v1 --generations 5 --markdown ray.md

Each env trains with its preset (agents/<env>.toml) from seed 0, once per executor:

- ``local sync``: today's default, every copy in this process;
- ``local workers``: gymnasium copies in worker processes (``--vectorization async``, one per
  core); not on a twin, which steps every copy as one batch in this process;
- ``ray 1 actor`` and ``ray 2 actors``: ``--ray`` on a local Ray of this machine's cores.

Every executor plays the same generations (the walk is a function of the seed, and the Ray runs
give the local one's results bitwise), so the times compare the same work: the median seconds
of ``--generations`` generations after one untimed (which builds the envs and the actors), and
the ratio to local sync. "overhead" is what Ray adds to a generation whose episodes are cut after
1 step (the evaluator alone, median of 20): scheduling, the object store, the pickling. Bytes are
those a generation sends and receives (rlfree.ray_evaluator), beside what sending every member's
weights would be (population x parameters x 4 bytes). Then a projection on paper for K machines
of C cores from the measured figures (see --help of the output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from rlfree.config import Config, load_toml
from rlfree.run_loop import RunState
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer

EXECUTORS = {
    "local sync": {},
    "local workers": {"vectorization": "async"},
    "ray 1 actor": {"executor": "ray", "ray_actors": 1},
    "ray 2 actors": {"executor": "ray", "ray_actors": 2},
}


def config_for(env_id: str, executor: dict) -> Config:
    config = Config()
    config.update(load_toml(preset_path(env_id)), "preset")
    config.update({"env": executor, "run": {"seed": 0, "eval_freq": 1000}}, "bench")  # no evaluation rows: every generation the same work
    return config


class Timed:
    """The trainer's evaluator, timed: seconds of each evaluate call."""

    def __init__(self, evaluator):
        self.evaluator, self.seconds = evaluator, []

    def evaluate(self, *args, **kwargs):
        started = time.perf_counter()
        rollout = self.evaluator.evaluate(*args, **kwargs)
        self.seconds.append(time.perf_counter() - started)
        return rollout

    def close(self):
        self.evaluator.close()


def measure(env_id: str, name: str, generations: int) -> dict | None:
    config = config_for(env_id, EXECUTORS[name])
    if config.env.vectorization == "async" and config.env.backend != "gym":
        return None  # a twin runs its copies as one batch in this process
    trainer = Trainer(config)
    timed = trainer.evaluator = Timed(trainer.evaluator)
    state = RunState(env_id=env_id, config=config.to_dict())
    seconds, records = [], []
    try:
        for generation in range(generations + 1):
            started = time.perf_counter()
            record = trainer.generation(state).record
            if generation:  # the first builds the envs (and the actors)
                seconds.append(time.perf_counter() - started)
                records.append(record)
        evaluations = timed.seconds[1:]
        params = trainer.optimiser.ask()  # a generation of 1-step episodes: what Ray adds around the episodes
        rows = trainer.optimiser.seeded_rows()
        seeds = torch.arange(config.run.episodes)
        timed.seconds.clear()
        for _ in range(20):
            timed.evaluate(params, seeds, max_steps=1, rows=rows)
        one_step = statistics.median(timed.seconds)
        # the floor of a block: one member's episodes, whole, in a batch of its own (the second call: the first builds its env)
        for _ in range(2):
            timed.seconds.clear()
            member = timed.evaluate(params[:1], seeds, rows=None)
    finally:
        trainer.close()
    return {
        "seconds": statistics.median(seconds),
        "evaluation": statistics.median(evaluations),
        "driver": statistics.median(g - e for g, e in zip(seconds, evaluations)),  # ask, tell, records: the driver's own part
        "one_step": one_step,
        "one_member": (timed.seconds[0], int(member.lengths.max()), trainer.horizon),
        "sent": records[-1].bytes_sent,
        "received": records[-1].bytes_received,
        "weights": config.walk.population * trainer.policy.spec.n_params * 4,
        "params": trainer.policy.spec.n_params,
        "population": config.walk.population,
        "episodes": config.run.episodes,
        "mean": records[-1].population_mean,
    }


def projection(env_id: str, local: dict, ray2: dict) -> str:
    """K machines of C cores, on paper: the driver's part and Ray's overhead stay, the episodes
    divide by K * C actors, down to the floor of one block (one member's episodes, whole)."""
    seconds, steps, horizon = local["one_member"]
    floor = seconds * horizon / max(steps, 1)  # a member whose episodes run to the horizon
    overhead = max(ray2["one_step"] - local["one_step"], 0.0)
    cells = []
    for machines, cores in ((1, 2), (4, 16), (16, 16), (64, 16)):
        actors = machines * cores
        t = local["driver"] + overhead + max(local["evaluation"] / min(actors, local["population"]), floor)
        cells.append(f"{machines} x {cores}: {t:.2f} s ({local['seconds'] / t:.1f}x)")
    return (f"{env_id}: driver {local['driver'] * 1000:.0f} ms + Ray overhead {overhead * 1000:.0f} ms + episodes "
            f"{local['evaluation']:.2f} s on 1 core / actors, floor {floor:.2f} s (one member, {horizon} steps) -> " + "; ".join(cells))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "LunarLander-v3"])
    parser.add_argument("--generations", type=int, default=3, help="timed generations per executor (after one untimed)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    import ray

    # one Ray for every row, on this machine's cores and loopback (rlfree.ray_evaluator joins it)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    load = os.getloadavg()[0]
    lines = [f"{os.cpu_count()} cores, load average {load:.1f} at the start (other jobs share the machine)", "",
             "| env | executor | s / generation | vs local sync | Ray overhead / generation | sent / generation | received | all weights would be |",
             "|-|-|-|-|-|-|-|-|"]
    print("\n".join(lines), flush=True)
    projections = []
    try:
        for env_id in args.envs:
            results = {name: measure(env_id, name, args.generations) for name in EXECUTORS}
            base = results["local sync"]
            for name, r in results.items():
                if r is None:
                    line = f"| {env_id} | {name} | - | - | - | - | - | - |"
                else:
                    same = r["mean"] == base["mean"]
                    overhead = f"{(r['one_step'] - base['one_step']) * 1000:.0f} ms" if name.startswith("ray") else "-"
                    sent = f"{r['sent']:,} B" if r["sent"] is not None else "-"
                    received = f"{r['received']:,} B" if r["received"] is not None else "-"
                    line = (f"| {env_id} | {name} | {r['seconds']:.3f} | {base['seconds'] / r['seconds']:.2f}x{'' if same else ' (other results!)'} | "
                            f"{overhead} | {sent} | {received} | {r['weights']:,} B ({r['population']} x {r['params']} x 4) |")
                lines.append(line)
                print(line, flush=True)
            projections.append(projection(env_id, base, results["ray 2 actors"]))
    finally:
        ray.shutdown()
    lines += ["", *projections]
    print("\n".join(projections))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
