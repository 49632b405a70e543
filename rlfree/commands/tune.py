"""Search a task's settings with Optuna and write the fastest as a preset (rlfree.tuning).

    rlfree tune --env CartPole-v1 --trials 50
    rlfree tune --env Acrobot-v1 --trials 200 --budget 20 --jobs 2
    rlfree tune --env Acrobot-v1 --trials 400 --jobs 2         # again, later: the study goes on to 400
    rlfree tune --env Pendulum-v1 --space my_ranges.toml --storage postgresql://user:pw@db-host/optuna
    rlfree tune --print-space > my_ranges.toml                 # the default ranges, to edit

Each trial trains the task's preset (agents/<env>.toml, or --config) with settings sampled from
the search space (--space replaces the default ranges it names) until it reaches the target,
for at most --budget seconds of training (or env steps with --measure steps); trials behind the
median at a tenth of the budget are pruned. Lower is better: the time to the target, and past
the budget, the budget plus the distance the best centre evaluation stayed from the target.

The study lives in a database (default: sqlite:///<out>/study.db), so running the same command
again resumes it (to --trials in all), and --jobs K worker processes, or other machines given
the same --storage and --study, add trials to it. When the trials are done, the best few
(--finalists) are trained again on --recheck-seeds held-out seeds, and the fastest on average
there is written to <out>/best.toml (rlfree train --config <out>/best.toml), beside report.html
(history, the finalists, parameter importances) and trials.csv. Ctrl-C keeps the study.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from rlfree.atomic_text import write_text_atomically
from rlfree.cli import ArgumentParser, shown_path, user_errors
from rlfree.config import Config, ConfigError, load_toml
from rlfree.shipped import preset_path
from rlfree.vector import MissingDependencyError

DEFAULT_BUDGET = {"seconds": 10.0, "steps": 1_000_000.0}


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", help="gymnasium id of the task (required unless --print-space)")
    parser.add_argument("--trials", type=int, default=50, help="trials the study holds when done, over resumes and workers (default: 50)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds (each worker); the finalists are re-checked after")
    parser.add_argument("--budget", type=float, help=f"the most a trial may spend, in --measure units (default: {DEFAULT_BUDGET['seconds']:g} s, "
                                                     f"or {DEFAULT_BUDGET['steps']:,.0f} steps)")
    parser.add_argument("--measure", choices=["seconds", "steps"], default="seconds",
                        help="what a trial's time to the target counts: seconds of training (default) or env steps (the same on any machine)")
    parser.add_argument("--target", type=float, help="the score that solves the task (default: the preset's [run] target, else the env's reward_threshold)")
    parser.add_argument("--config", metavar="TOML", help="the preset every trial starts from (default: agents/<env>.toml when it exists)")
    parser.add_argument("--space", metavar="TOML", help="ranges to search in place of the default ones they name (see --print-space)")
    parser.add_argument("--print-space", action="store_true", help="print the search space (the default, with --space's changes) as a space file and exit")
    parser.add_argument("--seed", type=int, default=0, help="every trial's training seed (the re-check uses others) (default: 0)")
    parser.add_argument("--study", help="the study's name in the storage (default: the env id)")
    parser.add_argument("--out", metavar="DIR", help="the study's folder: best.toml, report.html, trials.csv, and study.db (default: tune/<study>)")
    parser.add_argument("--storage", metavar="URL", help="Optuna's database: sqlite:///PATH on one machine, postgresql://... or mysql://... across "
                                                          "machines (default: sqlite:///<out>/study.db)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes adding trials to the study at once (default: 1)")
    parser.add_argument("--finalists", type=int, default=3, help="best trials trained again on held-out seeds (default: 3)")
    parser.add_argument("--recheck-seeds", type=int, default=3, help="held-out seeds of each finalist's re-check (default: 3)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # set by --jobs for the processes it starts
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """One line for a value that cannot be used, before anything is written."""
    checks = [
        (args.env is not None, "--env is required: the gymnasium id of the task to tune, e.g. --env CartPole-v1"),
        (args.trials >= 1, f"--trials {args.trials} is not accepted: use 1 or more"),
        (args.jobs >= 1, f"--jobs {args.jobs} is not accepted: use 1 or more worker processes"),
        (args.budget is None or args.budget > 0, f"--budget {args.budget:g} is not accepted: use a value > 0" if args.budget is not None else ""),
        (args.timeout is None or args.timeout > 0, f"--timeout {args.timeout:g} is not accepted: use seconds > 0" if args.timeout is not None else ""),
        (args.finalists >= 1, f"--finalists {args.finalists} is not accepted: use 1 or more"),
        (args.recheck_seeds >= 1, f"--recheck-seeds {args.recheck_seeds} is not accepted: use 1 or more"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise MissingDependencyError('rlfree tune needs Optuna, which is not installed: pip install "rlfree[tune]"') from None


def base_config(args: argparse.Namespace) -> tuple[Config, str]:
    """The preset every trial starts from, with --env, and where it came from."""
    from rlfree.backend import resolve_env_id

    preset = Path(args.config) if args.config else preset_path(args.env)
    config = Config()
    source = "the library's defaults"
    if args.config or preset.is_file():
        config.update(load_toml(preset), str(preset))
        source = shown_path(preset)
    config.update({"env": {"env": args.env}}, "--env")
    config.validate()
    resolve_env_id(config.env.env, [args.env.partition(":")[0]] if ":" in args.env else [])
    return config, source


def worker_command(args: argparse.Namespace, worker: int, storage: str, study: str, out: Path) -> list[str]:
    """The command line of worker process ``worker``: this one's search, one trial at a time."""
    command = [sys.executable, "-m", "rlfree", "tune", "--env", args.env, "--trials", str(args.trials), "--measure", args.measure,
               "--seed", str(args.seed), "--study", study, "--out", str(out), "--storage", storage, "--worker", str(worker)]
    for flag, value in (("--timeout", args.timeout), ("--budget", args.budget), ("--target", args.target),
                        ("--config", args.config), ("--space", args.space)):
        if value is not None:
            command += [flag, str(value)]
    return command


def run_workers(commands: list[list[str]]) -> None:
    """Start the workers and wait for them; KeyboardInterrupt (after they stopped) when one was interrupted."""
    processes = [subprocess.Popen(command) for command in commands]
    try:
        codes = [process.wait() for process in processes]
    except KeyboardInterrupt:  # Ctrl-C reached the workers too (one process group); a kill -INT of this one only: pass it on
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait()
        raise
    if any(code in (130, 143) for code in codes):
        raise KeyboardInterrupt
    failed = [f"worker {i} exited {code}" for i, code in enumerate(codes) if code]
    if failed:
        raise RuntimeError(f"{', '.join(failed)}; its output above says why")


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree tune"
    args = parse_args(argv, prog)
    with user_errors(prog):
        if args.print_space:
            from rlfree.search_space import SearchSpace

            print(SearchSpace.load(args.space).to_toml(), end="")
            return 0
        check_args(args)
        require_optuna()
        from rlfree.run_loop import Terminated

        try:
            return tune(args, prog)
        except KeyboardInterrupt as err:
            cause = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
            if args.worker is None:
                print(f"\n{prog}: {cause}; the study is kept: run the same command again to resume it", file=sys.stderr)
            return 143 if isinstance(err, Terminated) else 130


def tune(args: argparse.Namespace, prog: str) -> int:
    import optuna

    from rlfree import tuning
    from rlfree.search_space import SearchSpace
    from rlfree.study_report import write_report, write_trials_csv

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the progress lines below say what Optuna would
    config, source = base_config(args)
    space = SearchSpace.load(args.space)
    budget = args.budget if args.budget is not None else DEFAULT_BUDGET[args.measure]
    task = tuning.Task(config, tuning.task_target(config, args.target), budget, args.measure, args.seed)
    study_name = args.study or args.env.split(":")[-1].replace("/", "-")
    out = Path(args.out) if args.out else Path("tune") / study_name
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"--out {str(out)!r} cannot be made ({err.strerror or err}); choose another folder") from None
    storage = args.storage or f"sqlite:///{out / 'study.db'}"
    worker = args.worker
    prefix = f"worker {worker}: " if worker is not None else ""
    try:
        study = tuning.open_study(storage, study_name, task, space, startup_trials=min(10, max(5, args.trials // 4)),
                                  sampler_seed=None if worker is not None or args.jobs > 1 else args.seed)
    except ConfigError:
        if made and not any(out.iterdir()):  # a refused --storage leaves nothing behind
            out.rmdir()
        raise
    if worker is None:
        print(f"study {study_name!r} in {storage}: {tuning.trials_done(study)} of {args.trials} trials done; env {task.env_id}, "
              f"target {task.target:g}, budget {task.shown(budget)} a trial, preset {source}"
              + (f", {args.jobs} worker processes" if args.jobs > 1 else ""), flush=True)

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        print(prefix + trial_line(task, study, trial, args.trials), flush=True)
        if tuning.trials_done(study) >= args.trials:
            study.stop()

    left = args.trials - tuning.trials_done(study)
    if left > 0 and args.jobs > 1 and worker is None:
        run_workers([worker_command(args, i, storage, study_name, out) for i in range(args.jobs)])
    with tuning.Interrupts().installed() as interrupts:
        if left > 0 and (args.jobs == 1 or worker is not None):
            study.optimize(tuning.objective(task, space, worker or 0, interrupts), n_trials=left, timeout=args.timeout, callbacks=[progress])
            interrupts.check()
        if worker is not None:
            return 0
        finalists = tuning.finalists(study, args.finalists)
        if not finalists:
            write_trials_csv(out / "trials.csv", study, task)
            print(f"no trial completed in {tuning.trials_done(study)} trials (each was pruned or refused); nothing to re-check. "
                  f"Try a larger --budget or other ranges (--space); trials: {shown_path(out / 'trials.csv')}")
            return 1
        seeds = [tuning.RECHECK_SEED + i for i in range(args.recheck_seeds)]
        print(f"re-checking the best {len(finalists)} trials on seeds {seeds[0]}-{seeds[-1]}", flush=True)
        rechecks = tuning.recheck(task, space, finalists, seeds, interrupts=interrupts, on_outcome=lambda number, seed, outcome: print(
            f"  trial {number}, seed {seed}: {outcome.shown(task)}", flush=True))
        interrupts.check()
    best = min(rechecks, key=lambda check: (check.score(task), check.trial))
    preset = tuning.best_preset(task, best.values, tuning.preset_generations(task, rechecks))
    comment = [f"{task.env_id}: found by rlfree tune (study {study_name!r}, trial {best.trial} of {tuning.trials_done(study)}), "
               f"target {task.target:g};",
               f"re-checked on seeds {seeds[0]}-{seeds[-1]}: {'; '.join(o.shown(task) for o in best.outcomes)}.",
               f"Search: rlfree tune --env {args.env} --budget {budget:g} --measure {args.measure}"
               + (f" --space {args.space}" if args.space else "") + (f" --config {args.config}" if args.config else "")]
    write_text_atomically(out / "best.toml", tuning.preset_toml(preset, comment))  # a user's --config never reads half a file
    write_trials_csv(out / "trials.csv", study, task)
    write_report(out / "report.html", study, task, rechecks, best, preset)
    print(f"\nbest: trial {best.trial} ({'; '.join(o.shown(task) for o in best.outcomes)})")
    if not any(o.solved for o in best.outcomes):
        print(f"no finalist reached the target {task.target:g} on the held-out seeds: best.toml holds the one that came closest")
    print(f"preset: {shown_path(out / 'best.toml')}  (rlfree train --config {shown_path(out / 'best.toml')})")
    print(f"report: {shown_path(out / 'report.html')}, {shown_path(out / 'trials.csv')}")
    return 0


def trial_line(task, study, trial, total: int) -> str:
    """'trial 7 [walk population=64 sigma=0.21 ...]: solved in 0.42 s | best: trial 3, 0.31 s | 8/50 done'."""
    import optuna

    from rlfree import tuning
    from rlfree.search_space import shown

    attrs = trial.user_attrs
    if "error" in attrs:
        result = f"refused: {attrs['error']}"
    elif "used" in attrs:
        outcome = tuning.Outcome(**{name: attrs[name] for name in ("solved", "used", "best_eval", "generations", "env_steps", "seconds", "pruned")})
        result = outcome.shown(task)
    else:
        result = str(trial.state.name.lower())
    try:
        leader = study.best_trial
        figure = task.shown(leader.value) if leader.user_attrs.get("solved") else f"not solved, value {leader.value:.4g}"
        best = f"best: trial {leader.number}, {figure}"
    except ValueError:  # no trial completed yet
        best = "best: -"
    done = tuning.trials_done(study)
    return f"trial {trial.number} [{shown(trial.params)}]: {result} | {best} | {done}/{total} done"
