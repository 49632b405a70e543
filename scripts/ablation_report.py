"""Which of ARS's options matter, per task: the preset against the preset with one option changed.

    python scripts/ablation_report.py                                 # seed 0 of the README's table (about 80 minutes on 2 cores)
    python scripts/ablation_report.py --tasks Hopper-v5 --seeds 0,1
    python scripts/ablation_report.py --json ablation.json            # every run's figures, rewritten after each run
    python scripts/ablation_report.py --from-json a.json b.json       # run nothing: the table of saved runs
    python scripts/ablation_report.py --tasks BipedalWalker-v3 --variant "without normalisation" --json bw_a.json
                                       # one variant (repeatable; the rest in another process, then --from-json)

For each task, seed and variant (interleaved: seed 0 of every variant, then seed 1, ...), one
training run in this process from the task's preset (``agents/<task>.toml``) with one thing
changed: observation normalisation off, every mirrored pair in the step instead of the top B,
no reward shift, or the policy's shape (hidden units where the preset is linear, ARS's linear
policy where the preset has hidden units). Everything else, the seed included, is the preset's.

A run stops at the preset's own stop (``[run] target``: the centre's evaluation, then 100
episodes of gymnasium's own env) or at the task's budget of env steps, whichever comes first.
Then the centre it ended with plays 100 more held-out episodes of gymnasium's own env (seeds
that neither training nor the target checks use): the "final" column, which says where a run
that did not stop stood. BipedalWalker-v3 (38 to 55 minutes a run here, two at a time) runs only when
--tasks names it; its preset is the first of the four runs that made the shipped agent, and the
budget is what that run took to its best agent. Reported per variant: runs that reached the stop, env steps and seconds
to it (median over those that did), the best evaluation of the centre, and the final score.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import gymnasium as gym
import torch

from rlfree.atomic_text import write_text_atomically
from rlfree.config import Config, NetworkConfig, load_toml
from rlfree.markdown_table import markdown_table
from rlfree.report_json import load_report_json, save_report_json
from rlfree.run_loop import RunLoop
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer

# one option changed from the preset: what it is called in the table -> the config it overrides
WITHOUT_NORMALISATION = {"network": {"normalize_obs": False}}
WITHOUT_TOP_B = {"walk": {"top_directions": 0}}
WITHOUT_REWARD_SHIFT = {"walk": {"reward_shift": 0.0}}
HIDDEN_UNITS = {"network": {"hidden": 8, "ticks": 2, "activation": "tanh", "feed_forward": False,
                            "action_mapping": "auto", "init_scale": NetworkConfig().init_scale}}
LINEAR = {"network": {"hidden": 0, "ticks": 1, "activation": "identity", "feed_forward": True, "action_mapping": "clip"}}

WITH_NORMALISATION = {"network": {"normalize_obs": True}}
# Swimmer-v5's preset is CMA-ES, which has no top-b: its top-b rows are the walk of the README's attempts (sigma 0.2,
# lr 0.1, 16 members: 8 mirrored pairs) on the preset's linear policy, with ARS's top-b and without it
SWIMMER_WALK = {"algo": {"algo": "walk"}, "walk": {"population": 16, "sigma": 0.2, "lr": 0.1}}
SWIMMER_WALK_TOP_B = {**SWIMMER_WALK, "walk": {**SWIMMER_WALK["walk"], "top_directions": 4}}

# task -> (budget in env steps, {variant: overrides}): 1.3x (Hopper-v5) and 1.7x what the preset's seed 0 took;
# Swimmer-v5 1.4x the steps to its preset's best agent; HalfCheetah-v5 half of the 8.25 M its one-episode preset's seed 0 took
# to 4369 (the README's rows were made with that preset; it plays two episodes a member since); BipedalWalker-v3 the 8.04 M
# its preset's seed 0 took to its best agent (256.1 at generation 260), the first of the four runs behind the shipped agent
TASKS: dict[str, tuple[int, dict[str, dict]]] = {
    "Hopper-v5": (1_500_000, {
        "preset (linear, normalised, top 4 of 8 pairs, reward shift 1)": {},
        "without normalisation": WITHOUT_NORMALISATION,
        "without top-b (all 8 pairs)": WITHOUT_TOP_B,
        "without the reward shift": WITHOUT_REWARD_SHIFT,
        "8 hidden units, 2 ticks, tanh": HIDDEN_UNITS,
    }),
    "LunarLanderContinuous-v3": (2_000_000, {
        "preset (8 hidden units, 2 ticks, tanh, normalised)": {},
        "without normalisation": WITHOUT_NORMALISATION,
        "linear (ARS's policy, clipped)": LINEAR,
    }),
    "Swimmer-v5": (1_500_000, {
        "preset (linear, CMA-ES, raw observations)": {},
        "with normalisation": WITH_NORMALISATION,
        "8 hidden units, 2 ticks, tanh": HIDDEN_UNITS,
        "the walk, top 4 of 8 pairs": SWIMMER_WALK_TOP_B,
        "the walk, all 8 pairs": SWIMMER_WALK,
    }),
    "HalfCheetah-v5": (4_000_000, {
        "preset (linear, normalised, top 4 of 32 pairs)": {},
        "without normalisation": WITHOUT_NORMALISATION,
        "without top-b (all 32 pairs)": WITHOUT_TOP_B,
        "8 hidden units, 2 ticks, tanh": HIDDEN_UNITS,
    }),
    "BipedalWalker-v3": (8_100_000, {
        "preset (16 hidden units, 2 ticks, tanh, normalised, reward shift 0.1)": {},
        "without normalisation": WITHOUT_NORMALISATION,
        "linear (ARS's policy, clipped)": LINEAR,
        "with top-b (the best 8 of 32 pairs)": {"walk": {"top_directions": 8}},
    }),
}
DEFAULT_TASKS = ["Hopper-v5", "LunarLanderContinuous-v3", "Swimmer-v5", "HalfCheetah-v5"]  # BipedalWalker-v3 when named
FINAL_CHECK_GENERATION = 10**9  # the generation number that seeds the final score's held-out episodes: no run reaches it


def task_config(task: str, seed: int, overrides: dict) -> Config:
    config = Config()
    config.update(load_toml(preset_path(task)), str(preset_path(task)))
    config.update(overrides, "ablation_report")
    config.run.seed = seed
    config.run.generations = 1_000_000  # the budget or the preset's target stops it
    config.run.save_freq = 1_000_000
    return config


def train(task: str, seed: int, variant: str) -> dict:
    budget, variants = TASKS[task]
    config = task_config(task, seed, variants[variant])
    trainer = Trainer(config)
    loop = RunLoop(trainer, Path("unused"), [], config=config, stop=lambda state: state.env_steps >= budget)
    loop.save = lambda *args, **kwargs: None  # time the learning, not the disk
    result = loop.run()
    result.raise_if_interrupted()  # Ctrl-C or SIGTERM ends the report, not only the run
    state = result.state
    final, _ = trainer.target_check(FINAL_CHECK_GENERATION, trainer.optimiser.state_dict()["centre"])
    trainer.close()
    return {"task": task, "seed": seed, "variant": variant, "solved": state.solved, "generations": state.generation,
            "env_steps": state.env_steps, "seconds": state.elapsed, "best_eval": state.best_eval, "final": final}


def summary_rows(results: list[dict], task: str) -> list[list[str]]:
    budget, variants = TASKS[task]
    rows = []
    for variant in variants:
        runs = [r for r in results if r["task"] == task and r["variant"] == variant]
        if not runs:
            continue
        solved = [r for r in runs if r["solved"]]

        def median(key: str, fmt: str) -> str:
            return format(statistics.median(r[key] for r in solved), fmt) if solved else f">{budget:,}" if key == "env_steps" else "-"

        rows.append([variant, f"{len(solved)}/{len(runs)}", median("env_steps", ",.0f"), median("seconds", ".0f"),
                     " ".join(f"{r['best_eval']:.0f}" if r["best_eval"] is not None else "-" for r in runs),
                     " ".join(f"{r['final']:.0f}" for r in runs)])
    return rows


HEADER = ["variant", "reached the preset's stop", "median env steps to it", "median s to it",
          "best evaluation per seed", "final centre, 100 held-out episodes, per seed"]


def tables(results: list[dict], header_line: str) -> str:
    lines = [header_line, ""]
    for task, (budget, _) in TASKS.items():
        runs = [r for r in results if r["task"] == task]
        if not runs:
            continue
        seeds = ",".join(str(s) for s in sorted({r["seed"] for r in runs}))
        target = task_config(task, 0, {}).run.target
        target = gym.spec(task).reward_threshold if target is None else target  # a preset without its own: the env's, as training
        lines += [f"**{task}** (the preset stops at {target:g}; budget {budget:,} env steps; seeds {seeds}):", "",
                  markdown_table(HEADER, summary_rows(results, task)), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help=f"comma-separated task ids, of {', '.join(TASKS)} (default: {', '.join(DEFAULT_TASKS)})")
    parser.add_argument("--variant", action="append", metavar="NAME",
                        help="run only this variant, named as in the table (repeatable; default: every variant of each task)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--json", help="write every run's figures here (rewritten after each run)")
    parser.add_argument("--markdown", help="write the table here")
    parser.add_argument("--from-json", nargs="+", metavar="JSON", help="run nothing: the tables of runs saved by --json (merged)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tasks = [t for t in args.tasks.split(",") if t]
    for task in tasks:
        if task not in TASKS:
            parser.error(f"task {task!r} is not one of {', '.join(TASKS)}")
    for variant in args.variant or []:
        if not any(variant in TASKS[task][1] for task in tasks):
            named = "; ".join(f"{v!r}" for task in tasks for v in TASKS[task][1])
            parser.error(f"--variant {variant!r} is not a variant of {', '.join(tasks)}: use one of {named}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r} is not accepted: use comma-separated integers, e.g. 0,1")
    results: list[dict] = []
    loads: list[float] = []
    if args.from_json:
        try:
            saved = load_report_json(args.from_json, ("runs", "load"))
        except ValueError as err:
            parser.error(str(err))
        results, loads = saved["runs"], saved["load"]
    else:
        loads.append(os.getloadavg()[0])
        for task in tasks:
            for seed in seeds:
                for variant in [v for v in TASKS[task][1] if not args.variant or v in args.variant]:
                    result = train(task, seed, variant)
                    results.append(result)
                    print(f"{task} seed {seed} {variant}: {'reached the stop' if result['solved'] else 'budget spent'} after "
                          f"{result['generations']} generations, {result['env_steps']:,} env steps, {result['seconds']:.0f} s, "
                          f"best evaluation {result['best_eval']}, final {result['final']:.1f}", file=sys.stderr, flush=True)
                    if args.json:
                        save_report_json(args.json, runs=results, load=loads)
    shown = ", ".join(f"{load:.2f}" for load in loads)
    text = tables(results, f"`python scripts/ablation_report.py` (torch {torch.__version__}, 1 thread; load average {shown} "
                           "at the start)")
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
