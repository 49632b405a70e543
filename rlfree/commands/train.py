"""Train a free network with the smart random walk.

    rlfree train --env CartPole-v1
    rlfree train --env Acrobot-v1 --population 64 --sigma 0.05 -n 300
    rlfree train --resume runs/CartPole-v1__rlfree__0__1700000000
    rlfree train --coevolve      # a cat and a mouse against each other (rlfree/CatMouseDuel-v0)
    rlfree train --env my_pkg:MyEnv-v0                 # imports my_pkg, whose import registers MyEnv-v0
    rlfree train --resume runs/MyEnv-v0__... --import my_pkg
    rlfree train --env LunarLander-v3 --ray auto       # episodes on the Ray cluster `ray start` runs here
    rlfree train --env Acrobot-v1 --track wandb        # also to Weights & Biases (WANDB_MODE=offline: no network)

A preset agents/<env>.toml is used when it exists (or --config FILE); flags override it.
A package is imported only when --env or --import names it, never because a preset or a
resumed run's state.json does. Ctrl-C or SIGTERM saves the last completed generation and exits
(130 or 143); --resume continues from there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlfree.board import Board
from rlfree.backend import check_vectorization, choose_backend, resolve_env_id
from rlfree.cli import ArgumentParser, add_import_argument, shown_path, user_errors
from rlfree.coevolve import DUEL_ENV_ID, CoevolutionTrainer, DuelRecord
from rlfree.config import Config, ConfigError, add_arguments, load_toml, overrides_from_args
from rlfree.evaluate import time_limit_notice
from rlfree.optimiser import WALK_ONLY
from rlfree.progress import Console
from rlfree.run_loop import RunLoop, RunResult, load_run, make_run_folder
from rlfree.shipped import preset_path
from rlfree.tracking import DEFAULT_PROJECT, TRACKERS, check_tracker, make_tracker
from rlfree.trainer import TARGET_CHECK_EPISODES, Trainer


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="TOML", help="a preset (default: agents/<env>.toml when it exists)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoints/latest, in its own folder (another --logdir, --exp-name or --seed is refused)")
    add_import_argument(parser)
    parser.add_argument("--coevolve", action="store_true", help=f"train a cat network and a mouse network against each other, each with its own walk (env: {DUEL_ENV_ID})")
    parser.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                        help="play the episodes on Ray actors (executor ray): alone, a local Ray started for this run; auto, the cluster "
                             "`ray start` runs on this machine; HOST:PORT, that cluster's head (needs pip install 'rlfree[ray]')")
    parser.add_argument("--track", choices=list(TRACKERS),
                        help="also send the scalars, the config and the final agent to Weights & Biases (pip install 'rlfree[wandb]') "
                             "or MLflow (pip install 'rlfree[mlflow]'; a file store in <logdir>/mlruns unless MLFLOW_TRACKING_URI says otherwise)")
    parser.add_argument("--track-project", metavar="NAME", help=f"the W&B project or MLflow experiment (default: {DEFAULT_PROJECT})")
    add_arguments(parser)
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> tuple[Config, tuple | None]:
    """The run's config and, for --resume, (run folder, run state, checkpoint of each part)."""
    overrides = overrides_from_args(args)
    if args.ray is not None:
        overrides.setdefault("env", {}).update(executor="ray", ray_address=args.ray)
    if args.coevolve:
        overrides.setdefault("env", {}).setdefault("env", DUEL_ENV_ID)
    if args.resume:
        run_dir, state, parts = load_run(args.resume)
        source = str(next(iter(parts.values())).path / "state.json")
        config = Config.from_dict(state.config, source=source)
        given = overrides.get("run", {})
        if "seed" in given and given["seed"] != config.run.seed:
            raise ConfigError(f"--seed {given['seed']} is not accepted with --resume: the run was made with seed {config.run.seed}")
        if "logdir" in given and Path(given["logdir"]).resolve() != run_dir.resolve().parent:
            raise ConfigError(f"--logdir {given['logdir']} is not accepted with --resume: the run continues in its own folder {run_dir}; leave --logdir out")
        if "exp_name" in given and given["exp_name"] != config.run.exp_name:
            raise ConfigError(f"--exp-name {given['exp_name']} is not accepted with --resume: the run continues in its own folder {run_dir}; leave --exp-name out")
        # the run's own id is accepted, with its package or bare ('my_pkg:MyEnv-v0', 'MyEnv-v0')
        if args.env is not None and args.env not in (config.env.env, config.env.env.split(":")[-1]):
            raise ConfigError(f"--env {args.env} is not accepted with --resume: the run was made with env {config.env.env}; leave --env out")
        algo = overrides.get("algo", {}).get("algo", config.algo.algo)
        if algo != config.algo.algo:  # another optimiser's state cannot continue this one's
            raise ConfigError(f"--algo {algo} is not accepted with --resume: the run was made with algo {config.algo.algo}; leave --algo out")
        if "env_kwargs" in overrides.get("env", {}) and overrides["env"]["env_kwargs"] != config.env.env_kwargs:
            raise ConfigError(f"--env-kwargs is not accepted with --resume: the run was made with env_kwargs {config.env.env_kwargs}")
        if "init_from" in given:
            raise ConfigError(f"--init-from is not accepted with --resume: the run continues from its own checkpoint in {run_dir}; "
                              "leave --init-from out, or start a new run with it")
        config.run.init_from = ""  # the run's checkpoint holds the weights now (config.toml still names where it began)
        route_shared_flags(overrides, config.algo.algo)
        config.update(overrides, "command line")
        check_env(config, args, overrides, source)
        return config, (run_dir, state, parts)
    env_id = overrides.get("env", {}).get("env", Config().env.env)
    preset = Path(args.config) if args.config else preset_path(env_id)
    config = Config()
    with_preset = bool(args.config) or preset.is_file()
    if with_preset:
        config.update(load_toml(preset), str(preset))
    route_shared_flags(overrides, overrides.get("algo", {}).get("algo", config.algo.algo))
    config.update(overrides, "command line")
    if config.algo.algo == "wann" and "activation" not in overrides.get("network", {}):
        config.network.activation = "per_neuron"  # what wann searches; a preset's single activation does not apply
    check_env(config, args, overrides, str(preset))
    if with_preset:
        print(f"preset: {shown_path(preset)}")
    unused = check_algo_options(config, overrides)
    if unused:
        print(f"algo {config.algo.algo}: the preset's walk settings {', '.join(unused)} are the walk's and not used")
    return config, None


# --population and --sigma given with these optimisers set their own fields: every optimiser has rows per
# generation and a step size, so a command that works with the walk keeps working when a preset names another
SHARED_FLAGS = {"ga": {"population": "ga_population", "sigma": "ga_sigma"},
                "cmaes": {"population": "cmaes_population", "sigma": "cmaes_sigma"}}


def route_shared_flags(overrides: dict, algo: str) -> None:
    """Moves --population and --sigma from overrides' walk section to ``algo``'s own fields (in place);
    ConfigError when the optimiser's own flag is given too with another value."""
    for flag, field in SHARED_FLAGS.get(algo, {}).items():
        if flag not in overrides.get("walk", {}):
            continue
        value = overrides["walk"].pop(flag)
        own = overrides.setdefault("algo", {})
        if own.get(field, value) != value:
            raise ConfigError(f"--{flag} {value} and --{field.replace('_', '-')} {own[field]} disagree: with --algo {algo} "
                              f"both set {field}; give one of them")
        own[field] = value


def check_algo_options(config: Config, overrides: dict) -> list[str]:
    """ConfigError for a walk-only setting (rlfree.optimiser.WALK_ONLY) given on the command line
    with another algo; returns those a preset set away from their defaults, which that algo ignores."""
    if config.algo.algo == "walk":
        return []
    if overrides.get("run", {}).get("adapt_ties"):  # on by default, and then only the walk's: asked for by name, it is refused
        raise ConfigError(f"--adapt-ties is not accepted with --algo {config.algo.algo}: it adapts the walk's sigma and episodes; "
                          "leave it out, or use --algo walk")
    if config.algo.algo == "wann":
        return []  # its tuning is the walk, with every [walk] setting
    given = overrides.get("walk", {})
    for name in WALK_ONLY:
        if name in given:
            raise ConfigError(f"--{name.replace('_', '-')} is not accepted with --algo {config.algo.algo}: it is a setting of the walk; "
                              "leave it out, or use --algo walk")
    defaults = Config().walk
    return [name for name in WALK_ONLY if getattr(config.walk, name) != getattr(defaults, name)]


def check_env(config: Config, args: argparse.Namespace, overrides: dict, source: str) -> None:
    """One line before anything is built or written: an env id whose package the user did not
    name (read from ``source``, a preset or a resumed state.json), or a setting its backend ignores."""
    config.validate()
    typed = overrides.get("env", {}).get("env")
    allowed = [*args.imports, *([typed.partition(":")[0]] if typed else [])]
    env_id = resolve_env_id(config.env.env, allowed, source=source)
    check_vectorization(choose_backend(env_id, config.env.backend, config.env.env_kwargs), config.env.vectorization, config.env.workers)


# Options of the single-agent trainer that the cat-versus-mouse duel (rlfree.coevolve) does not carry out.
DUEL_REFUSES = {
    "network.feed_forward": "the duel's networks keep every column of W",
    "network.normalize_obs": "the duel's trainer keeps no observation statistics",
    "walk.reward_shift": "the duel's walks learn from the game's own rewards",
    "walk.action_cost": "the duel's walks learn from the game's own rewards",
    "env.executor": "the duel's games run in this process",
    "algo.algo": "each side of the duel trains with its own walk",
    "run.init_from": "the duel starts both sides from random weights",
}


def check_duel_options(config: Config) -> None:
    """ConfigError for a setting --coevolve would ignore (DUEL_REFUSES), rather than ignore it."""
    defaults = Config().to_dict()
    for key, why in DUEL_REFUSES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value != defaults[section][name]:
            raise ConfigError(f"{name}={value} is not accepted with --coevolve: {why}; leave it out")


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree train"
    args = parse_args(argv, prog)
    with user_errors(prog):
        config, resume = resolve_config(args)
        if args.track:
            check_tracker(args.track)  # before anything is written
        duel = "mouse" in resume[2] if resume else args.coevolve
        if duel:
            check_duel_options(config)
        algorithm = CoevolutionTrainer(config) if duel else Trainer(config)
        try:
            if resume:
                run_dir, state, parts = resume
                algorithm.restore(parts)
            else:
                run_dir, state = make_run_folder(config), None
            print(f"run folder: {run_dir}  (env {algorithm.env_id}, backend {algorithm.backend}, device {config.env.device})")
            if config.env.executor == "ray":
                print(algorithm.evaluator.summary())
            notice = time_limit_notice(algorithm.env_id, config.run.horizon)
            if notice:
                print(notice)
            record_type = DuelRecord if duel else algorithm.record_type
            console = Console(record_type, config.run.generations, target=algorithm.target, best=state.best_eval if state else None,
                              status=config.run.progress or sys.stderr.isatty())
            algorithm.on_progress = console.on_progress
            observers = [console, Board(run_dir, record_type, config.to_dict(), resume=state, texts=algorithm.texts())]
            if args.track:
                observers.append(make_tracker(args.track, run_dir, record_type, config.to_dict(), args.track_project))
        except BaseException:
            algorithm.close()
            raise
        result = RunLoop(algorithm, run_dir, observers, config=config, state=state).run()
    print_summary(result, algorithm, duel)
    print(f"run folder:  {result.run_dir}")
    print(f"watch it:    rlfree watch {result.run_dir}")
    print(f"TensorBoard: tensorboard --logdir {result.run_dir.parent}")
    return 143 if result.terminated else 130 if result.interrupted else 0


def print_summary(result: RunResult, algorithm, duel: bool) -> None:
    state = result.state
    if result.interrupted:
        cause = "terminated (SIGTERM)" if result.terminated else "interrupted"
        print(f"\n{cause}: checkpoint saved; continue with: rlfree train --resume {result.run_dir}")
    elif duel:
        print(f"\ndone: {state.generation} generations, {state.episodes:,} games, {state.elapsed:.2f} s of training")
    elif state.solved:
        print(
            f"\nsolved: centre's mean {state.check_mean:.1f} over {TARGET_CHECK_EPISODES} episodes of gymnasium's {algorithm.env_id} "
            f"(target {algorithm.target}) after {state.generation} generations, {state.env_steps:,} env steps, "
            f"{state.elapsed:.2f} s of training"
        )
    else:
        best = "-" if state.best_eval is None else f"{state.best_eval:.1f}"
        goal = "" if algorithm.target is None else f" without reaching the target {algorithm.target}"
        print(f"\nstopped after {state.generation} generations{goal}; best evaluation {best}")
