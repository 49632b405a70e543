"""A searched preset beside today's hand-tuned one: time to the target on held-out seeds.

    python scripts/tune_report.py --studies tune --tasks Acrobot-v1 MountainCar-v0 Pendulum-v1 --seeds 5

For each task, ``agents/<env>.toml`` (hand-tuned) and ``<studies>/<env>/best.toml`` (written by
``rlfree tune --env <env> --out <studies>/<env>``) train as ``rlfree zoo`` trains a preset
(:func:`rlfree.commands.zoo.run_rlfree`): stopped at the task's threshold (the env's
reward_threshold, else the preset's target) or at ``--time-limit`` counted seconds, timed by the
trainer's clock, on seeds that neither the search's trials (``--seed``, 0) nor its re-check
(1,000,000 on) used. The table gives, for each preset, the seeds solved, the median time and
env steps to the target with their range, and the ratio of the medians (hand-tuned over
searched: above 1, the searched preset is faster). ``--markdown FILE`` writes the table.

The clock is wall time of training on this machine: on shared cores the seconds move with the
load, the env steps do not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from rlfree.atomic_text import write_text_atomically
from rlfree.commands.zoo import _median_range, _seconds, _steps, median_time, preset_config, run_rlfree, task_threshold
from rlfree.markdown_table import markdown_table
from rlfree.shipped import agents_dir, preset_path

HELD_OUT_SEED = 2_000_000  # beside the trials' seed 0 and the re-check's 1,000,000 + i


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", default="tune", help="the folder holding <env>/best.toml of each study (default: tune)")
    parser.add_argument("--tasks", nargs="+", default=["Acrobot-v1", "MountainCar-v0", "Pendulum-v1"])
    parser.add_argument("--hand-tuned", metavar="DIR", help="the folder of the hand-tuned presets <env>.toml (default: agents/, "
                                                             "or $RLFREE_AGENTS); an older preset that a searched one replaced, from git")
    parser.add_argument("--seeds", type=int, default=5, help="held-out seeds per preset (default: 5)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="counted seconds per run before it is 'not solved' (default: 300)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", metavar="FILE", help="also write the table here")
    args = parser.parse_args(argv)
    seeds = [HELD_OUT_SEED + i for i in range(args.seeds)]
    header = ["task", "target", "preset", "solved", "time to target, s", "env steps to target", "hand-tuned / searched time"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlfree-tune-report-") as scratch:
        searched_dir, logdir = Path(scratch) / "searched", Path(scratch) / "runs"
        searched_dir.mkdir()
        for env_id in args.tasks:
            study_preset = Path(args.studies) / env_id.replace("/", "-") / "best.toml"
            if not study_preset.is_file():
                print(f"{env_id}: no {study_preset}; run rlfree tune --env {env_id} --out {study_preset.parent} first", file=sys.stderr)
                return 2
            shutil.copy(study_preset, preset_path(env_id, searched_dir))
            hand_dir = Path(args.hand_tuned) if args.hand_tuned else agents_dir()
            target = task_threshold(preset_config(env_id, hand_dir))
            runs = {"hand-tuned": [], "searched": []}
            for seed in seeds:  # the two presets take turns, so that a change in the machine's load falls on both
                for name, folder in (("hand-tuned", hand_dir), ("searched", searched_dir)):
                    outcome = run_rlfree(env_id, folder, seed, args, logdir)
                    runs[name].append(outcome)
                    verdict = f"solved in {outcome.seconds:.2f} s, {outcome.steps:,} steps" if outcome.solved else f"not solved ({outcome.seconds:.1f} s)"
                    print(f"{env_id} {name} seed {seed}: {verdict}", flush=True)
            hand, hand_exact = median_time(runs["hand-tuned"])
            found, found_exact = median_time(runs["searched"])
            # a median of unsolved runs is a lower bound on that preset's time
            bound = {(True, True): "", (False, True): ">", (True, False): "<"}.get((hand_exact, found_exact))
            ratio = "—" if bound is None else f"{bound}{hand / found:.2f}x"
            for name, outcomes in runs.items():
                solved = [o.solved for o in outcomes]
                rows.append([env_id, f"{target:g}", name, f"{sum(solved)}/{len(outcomes)}",
                             _median_range([o.seconds for o in outcomes], solved, _seconds),
                             _median_range([float(o.steps) for o in outcomes], solved, _steps),
                             ratio if name == "searched" else ""])
    table = markdown_table(header, rows)
    print(f"\nheld-out seeds {seeds[0]}-{seeds[-1]}, time limit {args.time_limit:g} s a run (wall time of training; 2 shared cores)\n")
    print(table)
    if args.markdown:
        write_text_atomically(args.markdown, table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
