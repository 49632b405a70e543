"""One weight-agnostic search generation: rlfree's one batched evaluation against the reference's loop.

    python scripts/wann_speed.py                      # 64 genomes x 6 shared weights on the swing-up
    python scripts/wann_speed.py --genomes 32 --loop-rows 12
    python scripts/wann_speed.py --from RUN_DIR       # the population a swing-up run's search ended with

The genomes are a ``WeightAgnosticSearch``'s population after ``--generations`` generations fed
made-up returns (their wiring grows, but they mostly push the cart off the track within a few
hundred steps), or with ``--from`` the last population of a real ``--algo wann`` run on the
swing-up (its checkpoints/latest), which mostly plays whole 1000-step episodes as the search's
generations do; on ``rlfree/CartPoleSwingUp-v0`` with one episode per row, as
``rlfree train --algo wann --episodes 1`` plays them:

- **batched**: every genome at every shared weight in one :func:`rlfree.evaluate.evaluate` call
  on the torch twin (what a search generation runs);
- **loop**: the reference's way, one network at one weight, one episode, one step at a time in
  numpy on gymnasium's own env. The first ``--loop-rows`` rows are played and their time per env
  step multiplied by the env steps the batched evaluation played (the same episodes: a loop's
  time grows with the steps it plays, the batch's with its longest episode).

Both are timed in the same run, on whatever else the machine runs, so the ratio is the figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import rlfree.envs  # noqa: F401  registers the swing-up
from rlfree.config import WalkConfig
from rlfree.evaluate import evaluate
from rlfree.network import NEURON_ACTIVATIONS
from rlfree.policy import Policy
from rlfree.registry import make_twin
from rlfree.wann import WeightAgnosticSearch

ENV_ID = "rlfree/CartPoleSwingUp-v0"
NUMPY_ACTIVATIONS = [lambda x: x, lambda x: 1.0 * (x > 0), lambda x: np.sin(np.pi * x), lambda x: np.exp(-x * x / 2), np.tanh,
                     lambda x: (np.tanh(x / 2) + 1) / 2, lambda x: -x, np.abs, lambda x: np.maximum(0, x), lambda x: np.cos(np.pi * x)]


def numpy_episode(W: np.ndarray, codes: np.ndarray, ticks: int, n_outputs: int, seed: int) -> tuple[float, int]:
    """One episode of one network in numpy on gymnasium's env (the reference's loop): (return, steps)."""
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=seed)
    fs = [NUMPY_ACTIVATIONS[c] for c in codes]
    a, total, steps, done = np.zeros(W.shape[0]), 0.0, 0, False
    while not done:
        for _ in range(ticks):
            z = W @ np.concatenate([[1.0], obs, a])
            a = np.array([f(v) for f, v in zip(fs, z)])
        obs, reward, terminated, truncated, _ = env.step(np.clip(a[:n_outputs], -1.0, 1.0))
        total, steps, done = total + reward, steps + 1, terminated or truncated
    env.close()
    return total, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genomes", type=int, default=64)
    parser.add_argument("--generations", type=int, default=20, help="search generations before the timed one (a grown wiring)")
    parser.add_argument("--loop-rows", type=int, default=12, help="rows the numpy loop plays (its time per row is scaled to the generation)")
    parser.add_argument("--hidden", type=int, default=12)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--from", dest="source", metavar="RUN_DIR", help="time the last population of this --algo wann run on the swing-up")
    args = parser.parse_args(argv)
    if min(args.genomes, args.loop_rows, args.hidden + 1, args.ticks) < 1 or args.genomes < 2 or args.generations < 0:
        print("wann_speed: error: --genomes 2 or more, --loop-rows and --ticks 1 or more, --hidden and --generations 0 or more", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    if args.source:
        saved = json.loads((Path(args.source) / "checkpoints" / "latest" / "network.json").read_text())
        if saved.get("env_id") != ENV_ID or saved["network"].get("activation") != "per_neuron":
            print(f"wann_speed: error: --from {args.source} is not an --algo wann run on {ENV_ID}", file=sys.stderr)
            return 2
        args.hidden, args.ticks = saved["network"]["n_hidden"], saved["network"]["ticks"]
    probe = gym.make(ENV_ID)
    policy = Policy.for_spaces(ENV_ID, probe.observation_space, probe.action_space, hidden=args.hidden, ticks=args.ticks,
                               activation="per_neuron")
    probe.close()
    spec = policy.spec
    search = WeightAgnosticSearch(spec, population=args.genomes, search_generations=10**9, elites=1, tournament=4, prob_moo=0.8,
                                  add_connection=0.5, add_node=0.25, change_activation=0.5, init_connection=0.5,
                                  walk=WalkConfig(), seed=0)
    rng = torch.Generator().manual_seed(0)
    for _ in range(args.generations):  # grow the wiring with made-up returns: only its size matters here
        rows = search.ask()
        search.tell(torch.rand(len(rows), 1, generator=rng, dtype=torch.float64))
    if args.source:
        with np.load(Path(args.source) / "checkpoints" / "latest" / "walk.npz") as state:
            masks, codes = torch.from_numpy(state["masks"]) != 0, torch.from_numpy(state["codes"]).round().to(torch.int64)
        search.population, search.masks, search.codes = len(masks), masks, codes
        args.generations = "its"
    rows = search.ask()  # (genomes * 6, D)
    seeds = torch.arange(1)
    twin = make_twin(ENV_ID, len(rows))

    started = time.perf_counter()
    rollout = evaluate(policy, rows, twin, seeds)
    batched = time.perf_counter() - started
    batched_steps = int(rollout.lengths.sum())

    flat = rows.to(torch.float64).numpy()
    started = time.perf_counter()
    loop_steps = 0
    for r in range(args.loop_rows):
        W = spec.matrix(flat[r])
        codes = [list(NEURON_ACTIVATIONS).index(n) for n in spec.neurons(flat[r])]
        loop_steps += numpy_episode(W, np.array(codes), spec.ticks, spec.n_outputs, seed=r)[1]
    loop = (time.perf_counter() - started) / loop_steps * batched_steps

    connections = float((rows[:, : spec.n_weights] != 0).sum(1).to(torch.float64).mean())
    print(f"one search generation: {search.population} genomes x 6 shared weights = {len(rows)} episodes on {ENV_ID}, "
          f"wiring of {connections:.1f} connections on average after {args.generations} generations")
    print(f"  batched (one evaluate() on the torch twin): {batched:8.2f} s  ({batched_steps:,} env steps)")
    print(f"  loop (numpy, gymnasium's env, one row at a time; {args.loop_rows} rows played, {loop_steps:,} steps, "
          f"scaled to {batched_steps:,}): {loop:8.2f} s")
    print(f"  batched / loop speed: {loop / batched:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
