#!/usr/bin/env python
"""Sparse rewards and tied returns: the library defaults with and without the tie adaptation.

    python scripts/ties_report.py                      # the README's table (a few minutes on 2 cores)
    python scripts/ties_report.py --seeds 5 --time-limit 120 --markdown ties.md

Each task is trained from rlfree's library defaults (no preset: what a user meets with a new
task), once as they are and once with ``--adapt-ties`` (:mod:`rlfree.ties`: more
episodes per member, then a larger sigma, while most of the walk's comparisons tie at the worst
return), for the same seeds, generations and time limit. A run is solved when the centre's
evaluation and then 100 held-out episodes of gymnasium's own env reach the target; the final
agent (``checkpoints/best``) is then scored on 100 fresh episodes of gymnasium's env. Times are
the trainer's ``elapsed``; a run that hits the limit counts as not solved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from rlfree.agent import load_agent
from rlfree.config import Config
from rlfree.run_loop import RunLoop, make_run_folder
from rlfree.trainer import Trainer

FINAL_SEEDS = [1_500_000_000 + i for i in range(100)]  # rlfree watch's seeds: never trained on
# (env id, gym.make arguments, target): discrete observations, a reward only at the goal
TASKS = [
    ("FrozenLake-v1", {"is_slippery": False, "map_name": "8x8"}, 1.0),  # the goal 14 moves away, found by chance or not at all
    ("FrozenLake-v1", {}, 0.7),  # slippery 4x4: gymnasium's reward_threshold; a reward found, but too rare to rank by
    ("MountainCar-v0", {}, -110.0),  # every return -200 until a car reaches the flag (twin backend)
]


def run_once(env_id: str, env_kwargs: dict, target: float, seed: int, adapt: bool, args, logdir: Path) -> tuple[bool, float, int, float, str]:
    """(solved, seconds, generations, final 100-episode mean, settings at the end)."""
    config = Config()
    config.env.env, config.env.env_kwargs = env_id, dict(env_kwargs)
    config.run.seed, config.run.target, config.run.generations = seed, target, args.generations
    config.run.eval_freq, config.run.adapt_ties, config.run.logdir = 5, adapt, str(logdir)
    trainer = Trainer(config)
    run_dir = make_run_folder(config)
    state = RunLoop(trainer, run_dir, config=config, stop=lambda s: s.elapsed >= args.time_limit).run().state
    final = float(load_agent(run_dir).score(FINAL_SEEDS).mean()) if (run_dir / "checkpoints" / "best").exists() else float("nan")
    return state.solved, state.elapsed, state.generation, final, f"episodes {config.run.episodes}, sigma {trainer.optimiser.sigma:g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    parser.add_argument("--generations", type=int, default=300, help="generations per run at most (default: 300)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds of training per run at most (default: 60)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = ["| task | target | tie adaptation | solved | time to target, s (median of solved) | final 100-episode mean | settings at the end (seed 0) |",
            "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="rlfree-ties-") as tmp:
        for env_id, env_kwargs, target in TASKS:
            name = env_id + "".join(f" {k}={v}" for k, v in env_kwargs.items())
            for adapt in (False, True):
                outcomes = []
                for seed in range(args.seeds):
                    print(f"{name}, adapt {adapt}, seed {seed} ...", file=sys.stderr, flush=True)
                    outcomes.append(run_once(env_id, env_kwargs, target, seed, adapt, args, Path(tmp)))
                    print(f"  solved {outcomes[-1][0]} in {outcomes[-1][1]:.1f} s, {outcomes[-1][2]} generations; final {outcomes[-1][3]:.2f}", file=sys.stderr, flush=True)
                solved = [o for o in outcomes if o[0]]
                time = f"{statistics.median(o[1] for o in solved):.1f}" if solved else "-"
                finals = [o[3] for o in outcomes]
                rows.append(f"| {name} | {target:g} | {'on' if adapt else 'off'} | {len(solved)}/{len(outcomes)} | {time} | "
                            f"{statistics.mean(finals):.2f} | {outcomes[0][4]} |")
    command = "python scripts/ties_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = f"`{command.strip()}` (limits: {args.generations} generations, {args.time_limit:g} s of training per run)\n\n" + "\n".join(rows)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
