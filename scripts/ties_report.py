#!/usr/bin/env python
"""Sparse rewards and tied returns: the library defaults with and without the tie adaptation.

    python scripts/ties_report.py                        # the README's tables (about 20 minutes on 2 busy cores)
    python scripts/ties_report.py --tasks FrozenLake      # the tasks whose name holds FrozenLake
    python scripts/ties_report.py --markdown ties.md      # also write the tables to a file
    python scripts/ties_report.py --presets               # what the adaptation does to the shipped presets (about 20 minutes)

Each task is trained from rlfree's library defaults (no preset: what a user meets with a new
task), once with ``--no-adapt-ties`` ("off": the settings as given) and once with the default
tie adaptation ("on", :mod:`rlfree.ties`), for the same seeds and limits. A run stops when it is
solved (the centre's evaluation and then 100 held-out episodes of gymnasium's own env reach the
target) or after the task's generations; it is also counted against an env-step budget (steps
of every episode played, evaluations included), so that a change that buys generations with
more episodes per member shows what it costs. Seconds are the trainer's ``elapsed`` (one torch
thread), reported but never a limit: they depend on the machine's load. The final agent
(``checkpoints/best``) is scored on 100 fresh episodes of gymnasium's env.

A second table counts, for the initial centre of seed 0, the members that score above the
floor in the first generations, by sigma: the chance the wider search of the adaptation buys.

``--presets`` trains each shipped preset (agents/*.toml, seed 0, the single-agent trainer) with
the adaptation on, for its first ``--preset-generations`` generations or until solved, and says
what the adaptation changed. Ties at the floor come before a reward is first found, so the first
generations are where it could act; a run in which it changed nothing is, generation for
generation, the run without it (it draws no random numbers). Where it did change something,
the same run without it is trained too and both are shown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rlfree.atomic_text import write_text_atomically
from rlfree.agent import load_agent
from rlfree.config import Config, load_toml
from rlfree.run_loop import RunLoop, RunState, make_run_folder
from rlfree.seeding import episode_seeds, perturbations
from rlfree.shipped import agents_dir
from rlfree.trainer import GenerationRecord, Trainer

FINAL_SEEDS = [1_500_000_000 + i for i in range(100)]  # rlfree watch's seeds: never trained on
TIME_CAP = 900.0  # seconds of training per run: a guard against a stalled machine, never reached in the README's run


@dataclass(frozen=True)
class Task:
    env_id: str
    env_kwargs: dict
    target: float
    generations: int  # the run's limit
    env_steps: int  # the budget a solve is also counted against
    seeds: int
    why: str
    floor: float | None = None  # the return every member scores before the reward is found (the reach table)

    @property
    def name(self) -> str:
        return self.env_id + "".join(f" {k}={v}" for k, v in self.env_kwargs.items())


TASKS = [
    Task("FrozenLake-v1", {"is_slippery": False, "map_name": "8x8"}, 1.0, 300, 4_000_000, 3,
         "deterministic: the goal 14 moves away, found by chance or not at all", floor=0.0),
    Task("FrozenLake-v1", {}, 0.7, 300, 2_000_000, 3, "slippery 4x4: a reward found every generation, too rare to rank members by"),
    Task("MountainCar-v0", {}, -110.0, 400, 12_000_000, 10,
         "every return -200 until a car reaches the flag; chaotic from seed to seed, hence 10 seeds", floor=-200.0),
    Task("CartPole-v1", {}, 475.0, 100, 2_000_000, 3, "ties at the top (500) must change nothing"),
    Task("Acrobot-v1", {}, -100.0, 100, 5_000_000, 3, "a dense reward must change nothing"),
]
REACH_SIGMAS = (0.2, 0.5, 1.0, 2.0)


@dataclass
class Outcome:
    solved: bool
    generations: int
    env_steps: int
    seconds: float
    final: float
    changes: list[str] = field(default_factory=list)  # the adaptation's, as progress.csv's 'adapted'


class Records:
    """An observer that keeps every generation's record."""

    def __init__(self):
        self.records: list[GenerationRecord] = []

    def on_generation(self, record: GenerationRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


def task_config(task: Task, seed: int, adapt: bool, logdir: Path) -> Config:
    config = Config()
    config.env.env, config.env.env_kwargs = task.env_id, dict(task.env_kwargs)
    config.run.seed, config.run.target, config.run.generations = seed, task.target, task.generations
    config.run.eval_freq, config.run.adapt_ties, config.run.logdir = 5, adapt, str(logdir)
    return config


def run_once(task: Task, seed: int, adapt: bool, logdir: Path) -> Outcome:
    config = task_config(task, seed, adapt, logdir)
    records = Records()
    run_dir = make_run_folder(config)
    state = RunLoop(Trainer(config), run_dir, [records], config=config, stop=lambda s: s.elapsed >= TIME_CAP).run().state
    final = float(load_agent(run_dir).score(FINAL_SEEDS).mean()) if (run_dir / "checkpoints" / "best").exists() else float("nan")
    changes = [r.adapted for r in records.records if r.adapted]
    return Outcome(state.solved, state.generation, state.env_steps, state.elapsed, final, changes)


def tally(outcomes: list[Outcome]) -> str:
    """What the adaptation did over all seeds, counted by kind."""
    changes = [part.split(" (")[0] for o in outcomes for change in o.changes for part in change.split("; ")]
    widened = sum(1 for c in changes if c.startswith("sigma") and float(c.split()[3]) > float(c.split()[1]))
    counts = [(widened, "sigma widened"), (sum(c.startswith("centre ->") for c in changes), "centre moved to a member"),
              (sum(c.startswith("episodes") for c in changes), "episodes doubled")]
    return ", ".join(f"{label} {n}x" for n, label in counts if n) or "none"


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def row(task: Task, adapt: bool, outcomes: list[Outcome]) -> str:
    solved = [o for o in outcomes if o.solved]
    in_budget = [o for o in solved if o.env_steps <= task.env_steps]
    figures = (f"{median([o.generations for o in solved]):.0f} | {median([o.env_steps for o in solved]) / 1e6:.2f} | "
               f"{median([o.seconds for o in solved]):.1f}") if solved else "- | - | -"
    return (f"| {task.name} | {task.target:g} | {'on' if adapt else 'off'} | {len(solved)}/{len(outcomes)} | "
            f"{len(in_budget)}/{len(outcomes)} | {figures} | {statistics.mean(o.final for o in outcomes):.2f} | "
            f"{tally(outcomes) if adapt else '-'} |")


def reach(task: Task, sigma: float, generations: int, logdir: Path) -> tuple[int, int, int]:
    """Members of seed 0's initial centre, +-sigma, that score above ``task.floor`` in ``generations``
    generations of the walk's perturbations and episodes. -> (members above, members, generations with one)."""
    trainer = Trainer(task_config(task, 0, False, logdir))
    try:
        centre, population = trainer.optimiser.centre, trainer.config.walk.population
        above = lucky = 0
        for generation in range(generations):
            eps = perturbations(0, generation, population // 2, centre.numel(), centre.device, centre.dtype)
            params = torch.cat([centre + sigma * eps, centre - sigma * eps])
            seeds = episode_seeds(0, generation, 1).expand(population, 1)
            returns = trainer.evaluator.evaluate(params, seeds, max_steps=trainer.horizon).returns[:, 0]
            count = int((returns > task.floor).sum())
            above, lucky = above + count, lucky + (count > 0)
        return above, generations * population, lucky
    finally:
        trainer.close()


def run_preset(preset: Path, adapt: bool, generations: int, logdir: Path) -> tuple[RunState, list[GenerationRecord]]:
    config = Config.from_dict(load_toml(preset))
    config.run.adapt_ties, config.run.logdir = adapt, str(logdir)
    config.run.generations = min(config.run.generations, generations)
    records = Records()
    state = RunLoop(Trainer(config), make_run_folder(config), [records], config=config, stop=lambda s: s.elapsed >= TIME_CAP).run().state
    return state, records.records


def preset_rows(generations: int, logdir: Path) -> list[str]:
    """One row per shipped preset: what the adaptation did in its first ``generations`` generations."""
    rows = ["| preset | generations run | solved at | generations with every return tied | most comparisons tied "
            "| what the adaptation changed | without it |", "|---|---|---|---|---|---|---|"]
    for preset in sorted(agents_dir().glob("*.toml")):
        config = Config.from_dict(load_toml(preset))
        if "Duel" in preset.stem:
            rows.append(f"| {preset.stem} | - | - | - | - | not used: the duel (--coevolve) has its own trainer | - |")
            continue
        if not config.run.adapt_ties:
            rows.append(f"| {preset.stem} | - | - | - | - | opts out (adapt_ties = false, its reason in the preset) | - |")
            continue
        print(f"preset {preset.stem}, adaptation on ...", file=sys.stderr, flush=True)
        state, records = run_preset(preset, True, generations, logdir)
        changed = [f"gen {r.generation}: {r.adapted}" for r in records if r.adapted]
        without = "identical (nothing changed)"
        if changed:
            print(f"preset {preset.stem}, adaptation off ...", file=sys.stderr, flush=True)
            off, _ = run_preset(preset, False, generations, logdir)
            without = f"solved at {off.generation}" if off.solved else f"not solved in {off.generation}; best {off.best_eval}"
        all_tied = sum(r.population_max == r.population_min for r in records)
        rows.append(f"| {preset.stem} | {state.generation} | {state.generation if state.solved else '-'} | {all_tied} | "
                    f"{max(r.tied_share for r in records):.0%} | {'<br>'.join(changed) or 'nothing'} | {without} |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="", help="only the task of this name, or else the tasks whose name holds this text (default: all)")
    parser.add_argument("--seeds", type=int, help="seeds 0..N-1 for every task (default: each task's own, 3 or 10)")
    parser.add_argument("--reach-generations", type=int, default=40, help="generations of the reach table (0: no reach table; default: 40)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    parser.add_argument("--presets", action="store_true", help="instead: what the adaptation does to each shipped preset")
    parser.add_argument("--preset-generations", type=int, default=60, help="with --presets: generations per preset at most (default: 60)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.presets:
        with tempfile.TemporaryDirectory(prefix="rlfree-ties-") as tmp:
            rows = preset_rows(args.preset_generations, Path(tmp))
        command = "python scripts/ties_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
        text = f"`{command.strip()}`\n\n" + "\n".join(rows)
        print(text)
        if args.markdown:
            write_text_atomically(args.markdown, text + "\n")
        return 0
    tasks = [task for task in TASKS if args.tasks == task.name] or [task for task in TASKS if args.tasks in task.name]  # a full name: that task only
    if not tasks:
        parser.error(f"--tasks {args.tasks!r} names no task; the tasks are: {', '.join(t.name for t in TASKS)}")
    rows = ["| task | target | tie adaptation | solved | solved within the env-step budget | generations | env steps, M | seconds "
            "| final 100-episode mean | what the adaptation did (all seeds) |", "|---|---|---|---|---|---|---|---|---|---|"]
    limits = []
    reach_rows = ["| task | " + " | ".join(f"sigma {s:g}" for s in REACH_SIGMAS) + " |", "|---|" + "---|" * len(REACH_SIGMAS)]
    with tempfile.TemporaryDirectory(prefix="rlfree-ties-") as tmp:
        for task in tasks:
            seeds = args.seeds or task.seeds
            limits.append(f"{task.name}: {task.generations} generations, env-step budget {task.env_steps / 1e6:g}M, seeds 0-{seeds - 1} ({task.why})")
            for adapt in (False, True):
                outcomes = []
                for seed in range(seeds):
                    print(f"{task.name}, adaptation {'on' if adapt else 'off'}, seed {seed} ...", file=sys.stderr, flush=True)
                    outcome = run_once(task, seed, adapt, Path(tmp))
                    outcomes.append(outcome)
                    print(f"  solved {outcome.solved} after {outcome.generations} generations, {outcome.env_steps:,} env steps, "
                          f"{outcome.seconds:.1f} s; final {outcome.final:.2f}; {len(outcome.changes)} changes", file=sys.stderr, flush=True)
                rows.append(row(task, adapt, outcomes))
        for task in tasks:
            if task.floor is None or not args.reach_generations:
                continue
            cells = []
            for sigma in REACH_SIGMAS:
                above, members, lucky = reach(task, sigma, args.reach_generations, Path(tmp))
                cells.append(f"{above}/{members} ({lucky} of {args.reach_generations} generations)")
            reach_rows.append(f"| {task.name} | " + " | ".join(cells) + " |")
    command = "python scripts/ties_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (f"`{command.strip()}`\n\n" + "\n".join(f"- {line}" for line in limits) + "\n\n"
            "Solved: within the generations; generations, env steps and seconds: medians of the solved runs.\n\n" + "\n".join(rows))
    if len(reach_rows) > 2:
        text += (f"\n\nMembers of seed 0's initial centre above the floor in {args.reach_generations} generations of {Config().walk.population}, "
                 "by sigma (and the generations with at least one):\n\n" + "\n".join(reach_rows))
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
