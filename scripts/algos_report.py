"""Every optimiser on the same tasks and networks: time and env steps to each task's target.

    python scripts/algos_report.py                                   # the README's tables (hours on 2 busy cores)
    python scripts/algos_report.py --tasks CartPole-v1 --seeds 0,1   # a quick look
    python scripts/algos_report.py --markdown algos.md --json algos.json

For each task, seed and optimiser (interleaved: seed 0 of every optimiser, then seed 1, ..., so
that a machine that slows down slows all of them alike), one training run in this process from
the task's preset (``agents/<task>.toml``; Swimmer-v5: its preset's linear policy, with the
walk settings of the README's attempts), the preset's network, episodes per member, evaluation and target check kept,
and only the optimiser changed:

- ``walk``: the smart random walk with the preset's ``[walk]`` settings (CartPole-v1's was the
  walk when this table was made); Pendulum-v1's preset is diagonal CMA-ES, found by ``rlfree
  tune``, so its walk row runs the hand-tuned walk preset that one replaced, whole (elu, 8
  episodes a member, Adam, a decaying sigma), the walk's best known settings for the task;
- ``ga``: the reference's genetic algorithm with its defaults (64 networks, the best kept, the
  others its copies with N(0, 0.1) added);
- ``ga-truncation``: the elitist truncation GA (64 networks, children of the top 8, 2 elites
  re-evaluated);
- ``cmaes``, ``cmaes-diagonal``: CMA-ES, full and separable, the tutorial's population
  4 + floor(3 ln D) and initial sigma 0.2 (Pendulum-v1: its preset's 128 samples and sigma 1.2,
  the searched preset itself being the ``cmaes-diagonal`` row).

A run stops at the target (the centre's evaluation, then 100 episodes of gymnasium's own env)
or at the task's budget, in env steps or seconds of training, whichever comes first; the table
gives the budgets. Pendulum-v1 gets 20 M env steps and no time limit (its searched CMA-ES preset
needs about 8 M, the hand-tuned walk about 60 M and more), so that its row does not depend on
the machine's load. Swimmer-v5 is not solved within any budget this script can afford on 2 cores,
and gets a fixed budget of env steps alone, so that each table row is the score reached with the
same steps whatever the machine's load: 480 k steps (30 generations of 16 episodes of 1000 steps,
every optimiser given the walk's 16 rows, the centre evaluated on 5 episodes every 5th).

Reported per optimiser: runs solved; the median env steps (everything played, the centre's
evaluations and target checks included, as rlfree counts them) and training steps (the
optimiser's own rows only) and seconds of training to the target, over the solved runs when
most are (else a ">" and the budget); the median best evaluation of the centre (and, where most
runs were not solved, each seed's).

Then the reference GA run as the reference describes it (CartPole, 64 networks, 15 episodes
each, 5 generations, mutation 0.1): the same five generations with the rows evaluated by
rlfree's batched twin, and by a loop that plays one network's one episode at a time on
gymnasium's CartPole-v1 with numpy, as the reference's does: what the batched evaluation alone
changes.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlfree.atomic_text import write_text_atomically
from rlfree.config import Config, load_toml
from rlfree.evaluator import LocalEvaluator
from rlfree.backend import make_batched_env
from rlfree.genetic import GeneticAlgorithm
from rlfree.markdown_table import markdown_table
from rlfree.policy import Policy
from rlfree.report_json import load_report_json, save_report_json
from rlfree.run_loop import RunLoop
from rlfree.seeding import episode_seeds, weights_generator
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer

OPTIMISERS = {
    "walk": {"algo": {"algo": "walk"}},  # the preset's [walk], whatever algo the preset names
    "ga": {"algo": {"algo": "ga"}},
    "ga-truncation": {"algo": {"algo": "ga", "ga_parents": 8, "ga_elites": 2}},
    "cmaes": {"algo": {"algo": "cmaes", "cmaes_covariance": "full"}},  # full even where the preset names the diagonal
    "cmaes-diagonal": {"algo": {"algo": "cmaes", "cmaes_covariance": "diagonal"}},
}

# Pendulum-v1's walk row: the hand-tuned walk preset that the searched CMA-ES preset replaced (git show fbc3122^:agents/Pendulum-v1.toml)
PENDULUM_WALK = {
    "network": {"activation": "elu"},
    "walk": {"population": 128, "sigma": 0.2, "sigma_decay": 0.995, "sigma_min": 0.02, "lr": 0.02, "shaping": "zscore", "optimizer": "adam"},
    "run": {"episodes": 8},
}

# Swimmer-v5: the linear policy of its preset (CMA-ES, made after this table's first runs) with the walk settings of the
# README's attempts (sigma 0.2, lr 0.1, 16 members), evaluated every 5 generations
SWIMMER = {
    "env": {"env": "Swimmer-v5", "backend": "gym"},
    "network": {"hidden": 0, "ticks": 1, "activation": "identity", "feed_forward": True, "action_mapping": "clip"},
    "walk": {"population": 16, "sigma": 0.2, "lr": 0.1},
    "run": {"episodes": 1, "eval_freq": 5, "eval_episodes": 5, "target": 360.0},
}
# Swimmer's episodes cost 1000 steps each on gymnasium's MuJoCo: every optimiser gets the walk's 16 rows a
# generation, so that the budget buys each the same generations and evaluations (the GA's 64 would get one)
SWIMMER_ROWS = {"ga_population": 16, "cmaes_population": 16}

# task -> (env steps, seconds of training): a run stops at whichever it reaches first
BUDGETS = {
    "CartPole-v1": (3_000_000, 60.0),
    "Acrobot-v1": (3_000_000, 60.0),
    "MountainCarContinuous-v0": (3_000_000, 60.0),
    "Pendulum-v1": (20_000_000, math.inf),  # steps alone: the searched preset solves it in about 8 M
    "rlfree/CatMouseTeacher-v0": (15_000_000, 60.0),
    "Swimmer-v5": (480_000, math.inf),  # 30 generations of 16 episodes, the centre evaluated every 5th
}


def task_config(task: str, seed: int, optimiser: str) -> Config:
    config = Config()
    if task == "Swimmer-v5":
        config.update(SWIMMER, "algos_report")
    else:
        config.update(load_toml(preset_path(task)), str(preset_path(task)))
    config.update(OPTIMISERS[optimiser], optimiser)
    if task == "Pendulum-v1" and optimiser == "walk":
        config.update(PENDULUM_WALK, "algos_report")
    if task == "Swimmer-v5":
        config.update({"algo": SWIMMER_ROWS}, "algos_report")
    config.run.seed = seed
    config.run.generations = 1_000_000  # the budget stops it
    config.run.save_freq = 1_000_000
    config.run.adapt_ties = False
    return config


class TrainingSteps:
    """Counts the optimiser's own env steps (its rows' episodes), leaving evaluations out."""

    def __init__(self, rows: int, episodes: int):
        self.rows, self.episodes, self.steps = rows, episodes, 0

    def on_generation(self, record) -> None:
        self.steps += round(record.episode_length_mean * self.rows * self.episodes)

    def close(self) -> None:
        pass


def train(task: str, seed: int, optimiser: str) -> dict:
    config = task_config(task, seed, optimiser)
    max_steps, max_seconds = BUDGETS[task]
    trainer = Trainer(config)
    counter = TrainingSteps(trainer.optimiser.rows, config.run.episodes)
    loop = RunLoop(trainer, Path("unused"), [counter], config=config,
                   stop=lambda state: state.env_steps >= max_steps or state.elapsed >= max_seconds)
    loop.save = lambda *args, **kwargs: None  # time the learning, not the disk
    result = loop.run()
    result.raise_if_interrupted()  # Ctrl-C or SIGTERM ends the report, not only the run
    state = result.state
    return {"task": task, "seed": seed, "optimiser": optimiser, "solved": state.solved, "generations": state.generation,
            "env_steps": state.env_steps, "training_steps": counter.steps, "seconds": state.elapsed,
            "best_eval": state.best_eval, "check": state.check_mean, "rows": trainer.optimiser.rows}


def seconds(value: float) -> str:
    """Seconds to two decimals below 10 (CartPole-v1 solves in tenths of a second), else to one."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def summary_rows(results: list[dict], task: str) -> list[list[str]]:
    max_steps, max_seconds = BUDGETS[task]
    rows = []
    for optimiser in OPTIMISERS:
        runs = [r for r in results if r["task"] == task and r["optimiser"] == optimiser]
        if not runs:
            continue
        solved = [r for r in runs if r["solved"]]
        enough = len(solved) * 2 > len(runs)  # a median over the solved runs means something only for most of them

        def median(key: str, fmt: str, budget: str) -> str:
            return format(statistics.median(r[key] for r in solved), fmt) if enough else f">{budget}" if budget != "-" else "-"

        best = [r["best_eval"] for r in runs if r["best_eval"] is not None]
        rows.append([
            f"`{optimiser}`", f"{runs[0]['rows']}", f"{len(solved)}/{len(runs)}",
            median("env_steps", ",.0f", f"{max_steps:,}"), median("training_steps", ",.0f", "-"),
            seconds(statistics.median(r["seconds"] for r in solved)) if enough else
            f">{max_seconds:.0f} s" if math.isfinite(max_seconds) else "-",
            (f"{statistics.median(best):.1f}" + ("" if enough else f" ({' '.join(f'{b:.0f}' for b in best)})")) if best else "-",
            " ".join(seconds(r["seconds"]) if r["solved"] else f"({seconds(r['seconds'])})" for r in runs),
        ])
    return rows


HEADER = ["optimiser", "rows per generation", "solved", "median env steps to target", "median training steps",
          "median s to target", "median best evaluation", "s per seed (in brackets: the budget spent unsolved)"]


# -- the reference GA run: batched against one episode at a time -----------------------------------
def numpy_returns(policy: Policy, params: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """The reference's evaluation: each network, each episode, one step at a time, numpy, on
    gymnasium's CartPole-v1. params: (P, D) -> returns (P, E). Flat observations and a Discrete
    action, as the CartPole preset's network has."""
    spec = policy.spec
    env = gym.make("CartPole-v1")
    returns = np.zeros((len(params), len(seeds)))
    for p, row in enumerate(params.double().numpy()):
        W = spec.matrix(row)
        for e, seed in enumerate(seeds.tolist()):
            obs, _ = env.reset(seed=seed)
            a, done, total = np.zeros(W.shape[0]), False, 0.0
            while not done:
                for _ in range(spec.ticks):
                    a = np.tanh(W @ np.concatenate([[1.0], obs, a]))
                obs, reward, terminated, truncated, _ = env.step(int(np.argmax(a[: spec.n_outputs])))
                total, done = total + reward, terminated or truncated
            returns[p, e] = total
    env.close()
    return torch.from_numpy(returns)


def reference_ga(seed: int, generations: int = 5, population: int = 64, episodes: int = 15) -> dict:
    """The reference's run (its population, episodes, generations and mutation) with rlfree's GA,
    its rows evaluated batched on the twin and one at a time with numpy: seconds and the best return."""
    config = task_config("CartPole-v1", seed, "ga")
    env = make_batched_env("CartPole-v1", 1, "torch")
    policy = Policy.from_config("CartPole-v1", env.observation_space, env.action_space, config.network)
    env.close()
    centre = policy.initial_params(weights_generator(seed), config.network.init_scale)
    out = {}
    for name in ("batched", "numpy"):
        ga = GeneticAlgorithm(centre, population=population, sigma=0.1, parents=1, elites=1, seed=seed,
                              initial_std=policy.initial_std(config.network.init_scale))
        evaluator = LocalEvaluator(policy, lambda n: make_batched_env("CartPole-v1", n, "torch"))
        started, best, steps = time.perf_counter(), [], 0
        for generation in range(generations):
            rows, seeds = ga.ask(), episode_seeds(seed, generation, episodes)
            if name == "batched":
                rollout = evaluator.evaluate(rows, seeds)
                returns, steps = rollout.returns, steps + rollout.env_steps
            else:
                returns = numpy_returns(policy, rows, seeds)
                steps += int(returns.sum())  # CartPole's return is its length
            best.append(float(returns.mean(dim=1).max()))
            ga.tell(returns)
        out[name] = {"seconds": time.perf_counter() - started, "best": best, "steps": steps}
        if name == "batched":  # the centre the run ends with, on 100 held-out episodes (gymnasium's own CartPole plays as the twin)
            out["held_out"] = float(evaluator.evaluate(ga.centre[None], episode_seeds(seed, generations, 100, "check")).returns.mean())
        evaluator.close()
    return out


def reference_rows(references: list[dict]) -> list[list[str]]:
    rows = []
    for run in references:
        ratio = run["numpy"]["seconds"] / run["batched"]["seconds"]
        rows.append([str(run["seed"]), f"{run['batched']['seconds']:.2f}", f"{run['numpy']['seconds']:.2f}", f"{ratio:.1f}x",
                     f"{run['batched']['steps']:,}", " ".join(f"{b:.0f}" for b in run["batched"]["best"]),
                     " ".join(f"{b:.0f}" for b in run["numpy"]["best"]), f"{run['held_out']:.1f}"])
    return rows


def tables(results: list[dict], references: list[dict], tasks: list[str], header_line: str) -> str:
    lines = [header_line, ""]
    for task in tasks:
        runs = [r for r in results if r["task"] == task]
        if not runs:
            continue
        max_steps, max_seconds = BUDGETS[task]
        seeds = ",".join(str(s) for s in sorted({r["seed"] for r in runs}))
        budget = f"{max_steps:,} env steps" + (f" or {max_seconds:.0f} s of training" if math.isfinite(max_seconds) else "")
        lines += [f"**{task}** (budget {budget}; seeds {seeds}):", "",
                  markdown_table(HEADER, summary_rows(results, task)), ""]
    if references:
        lines += ["**The reference's GA run** (CartPole-v1, 64 networks x 15 episodes, 5 generations, mutation 0.1; the CartPole "
                  "preset's network): the same five generations, rows evaluated by rlfree's batched twin and one episode at a "
                  "time in numpy on gymnasium's env, as the reference's loop does:", "",
                  markdown_table(["seed", "batched s", "one at a time s", "one at a time / batched", "env steps (batched)",
                            "best member's mean return per generation, batched", "same, one at a time",
                            "final centre, 100 held-out episodes"], reference_rows(references)), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(BUDGETS), help="comma-separated task ids (default: all six; '' for none)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--optimisers", default=",".join(OPTIMISERS))
    parser.add_argument("--json", help="write every run's figures here (rewritten after each run)")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--skip-reference", action="store_true", help="leave out the reference GA run")
    parser.add_argument("--from-json", nargs="+", metavar="JSON", help="run nothing: the tables of runs saved by --json (several files are merged)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tasks, seeds, optimisers = [t for t in args.tasks.split(",") if t], [int(s) for s in args.seeds.split(",")], args.optimisers.split(",")
    for task in tasks:
        if task not in BUDGETS:
            parser.error(f"task {task!r} is not one of {', '.join(BUDGETS)}")
    for optimiser in optimisers:
        if optimiser not in OPTIMISERS:
            parser.error(f"optimiser {optimiser!r} is not one of {', '.join(OPTIMISERS)}")
    results: list[dict] = []
    references: list[dict] = []
    loads = []
    if args.from_json:
        try:
            saved = load_report_json(args.from_json, ("runs", "reference", "load"))
        except ValueError as err:
            parser.error(str(err))
        results, references, loads = saved["runs"], saved["reference"], saved["load"]
    else:
        loads.append(os.getloadavg()[0])

        def save() -> None:
            if args.json:
                save_report_json(args.json, runs=results, reference=references, load=loads)

        for task in tasks:
            for seed in seeds:
                for optimiser in optimisers:
                    result = train(task, seed, optimiser)
                    results.append(result)
                    print(f"{task} seed {seed} {optimiser}: {'solved' if result['solved'] else 'not solved'} after "
                          f"{result['generations']} generations, {result['env_steps']:,} env steps, {result['seconds']:.1f} s, "
                          f"best evaluation {result['best_eval']}", file=sys.stderr, flush=True)
                    save()
        if not args.skip_reference:
            for seed in seeds:
                references.append({"seed": seed, **reference_ga(seed)})
                print(f"reference GA seed {seed}: batched {references[-1]['batched']['seconds']:.2f} s, "
                      f"numpy {references[-1]['numpy']['seconds']:.2f} s", file=sys.stderr, flush=True)
                save()
    shown = ", ".join(f"{load:.2f}" for load in loads)
    busy = any(load >= 1.5 for load in loads)  # one run keeps one core busy; more means other jobs
    text = tables(results, references, list(BUDGETS), f"`python scripts/algos_report.py` (torch {torch.__version__}, 1 thread; "
                  f"load average {shown} at the start" + (": other jobs shared the 2 cores, so read seconds as ratios within a table):"
                                                          if busy else ", nothing else running):"))
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
