"""Train a free network with the smart random walk.

    rlfree train --env CartPole-v1
    rlfree train --env Acrobot-v1 --population 64 --sigma 0.05 -n 300
    rlfree train --resume runs/CartPole-v1__rlfree__0__1700000000
    rlfree train --coevolve      # a cat and a mouse against each other (rlfree/CatMouseDuel-v0)

A preset agents/<env>.toml is used when it exists (or --config FILE); flags override it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlfree.checkpoint import load_checkpoint
from rlfree.cli import shown_path, user_errors
from rlfree.coevolve import DUEL_ENV_ID, CoevolutionTrainer, find_duel
from rlfree.config import Config, ConfigError, add_arguments, load_toml, overrides_from_args
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer, make_run_folder


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="TOML", help="a preset (default: agents/<env>.toml when it exists)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoints/latest")
    parser.add_argument("--coevolve", action="store_true", help=f"train a cat network and a mouse network against each other, each with its own walk (env: {DUEL_ENV_ID})")
    add_arguments(parser)
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> tuple[Config, object]:
    """The run's config and, for --resume, the checkpoint it continues from."""
    overrides = overrides_from_args(args)
    if args.coevolve:
        overrides.setdefault("env", {}).setdefault("env", DUEL_ENV_ID)
    if args.resume:
        # a co-evolution run resumes from its mouse's checkpoint; the trainer finds the cat beside it
        checkpoint = load_checkpoint(find_duel(args.resume) / "mouse" if args.coevolve else args.resume, which="latest")
        if "config" not in checkpoint.state:
            raise ConfigError(f"{args.resume!r} holds no run config; it cannot be resumed")
        config = Config.from_dict(checkpoint.state["config"], source=str(checkpoint.path / "state.json"))
        if "seed" in overrides.get("run", {}) and overrides["run"]["seed"] != config.run.seed:
            raise ConfigError(f"--seed {overrides['run']['seed']} is not accepted with --resume: the run was made with seed {config.run.seed}")
        config.update(overrides, "command line")
        return config, checkpoint
    env_id = overrides.get("env", {}).get("env", Config().env.env)
    preset = Path(args.config) if args.config else preset_path(env_id)
    config = Config()
    if args.config or preset.is_file():
        config.update(load_toml(preset), str(preset))
        print(f"preset: {shown_path(preset)}")
    config.update(overrides, "command line")
    return config, None


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree train"
    args = parse_args(argv, prog)
    with user_errors(prog):
        config, checkpoint = resolve_config(args)
        trainer = (CoevolutionTrainer if args.coevolve else Trainer)(config, run_dir=None, checkpoint=checkpoint)
        if checkpoint is not None:
            trainer.run_dir = checkpoint.path.parents[2 if args.coevolve else 1]
        else:
            trainer.run_dir = make_run_folder(config)
        from rlfree.board import Board, DuelBoard
        from rlfree.progress import ConsoleProgress, DuelConsole

        print(f"run folder: {trainer.run_dir}  (env {trainer.env_id}, backend {trainer.backend}, device {config.env.device})")
        if args.coevolve:
            trainer.observers = [DuelConsole(), DuelBoard(trainer.run_dir, config.to_dict(), resumed=checkpoint is not None)]
        else:
            trainer.observers = [
                ConsoleProgress(config.run.generations, bar=config.run.progress),
                Board(trainer.run_dir, config.to_dict(), resumed=checkpoint is not None),
            ]
        result = trainer.run()
    if result.interrupted:
        again = " --coevolve" if args.coevolve else ""
        print(f"\ninterrupted: checkpoint saved; continue with: rlfree train{again} --resume {result.run_dir}")
    elif args.coevolve:
        print(f"\ndone: {result.generations} generations, {result.episodes:,} games, {result.elapsed:.2f} s of training")
    elif result.solved:
        print(
            f"\nsolved: centre's mean {result.check_mean:.1f} over 100 episodes of gymnasium's {trainer.env_id} "
            f"(target {trainer.target}) after {result.generations} generations, {result.env_steps:,} env steps, "
            f"{result.elapsed:.2f} s of training"
        )
    else:
        best = "-" if result.best_eval is None else f"{result.best_eval:.1f}"
        goal = "" if trainer.target is None else f" without reaching the target {trainer.target}"
        print(f"\nstopped after {result.generations} generations{goal}; best evaluation {best}")
    print(f"run folder:  {result.run_dir}")
    print(f"watch it:    rlfree watch {result.run_dir}")
    print(f"TensorBoard: tensorboard --logdir {result.run_dir.parent}")
    return 130 if result.interrupted else 0

