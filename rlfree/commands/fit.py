"""Fit a free network to supervised sequence data: the random walk beside backpropagation.

    rlfree fit --task reference                       # the reference's own data, every method, 30 s each
    rlfree fit --task adding --length 100 --seconds 60
    rlfree fit --task memory --length 20 --methods walk_smart,bptt_free,lstm
    rlfree fit --task recall --classes 8 --sequence-output

Every method trains for the same number of seconds (wall clock, or with --clock cpu this
process's CPU time; test evaluations are not counted) on the same task and seed. The run
folder holds TensorBoard events, with the train and test loss of every method on one chart
(the CUSTOM SCALARS tab) and the backprop methods' gradient norms, and curves.json with every
point and the ``output_map`` through which the free network's outputs meet the targets
(:func:`rlfree.fit.output_map`: on the adding problem tanh's (-1, 1) becomes [0, 2]). Methods:
walk_reference (the reference's update exactly), walk_smart (mirrored pairs, z-scores, Adam),
bptt_free (the same free network by backpropagation through time), rnn, gru, lstm (torch's, at
about the same parameter count).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from rlfree.atomic_text import write_text_atomically
from rlfree.backprop_baselines import free_network_bptt, torch_recurrent
from rlfree.cli import ArgumentParser, shown_path, user_errors
from rlfree.config import ConfigError, check_device, to_toml
from rlfree.fit import CLOCKS, Curve, FitConfig, ReferenceWalkFit, SmartWalkFit, network_spec, output_map, train
from rlfree.run_loop import new_run_folder
from rlfree.sequence_tasks import TASKS, SequenceTask, make_task

# name -> (task, config, seed, device) -> Learner
METHODS = {
    "walk_reference": ReferenceWalkFit,
    "walk_smart": SmartWalkFit,
    "bptt_free": free_network_bptt,
    "rnn": torch_recurrent("rnn"),
    "gru": torch_recurrent("gru"),
    "lstm": torch_recurrent("lstm"),
}
FREE_NETWORK_METHODS = ("walk_reference", "walk_smart", "bptt_free")  # rlfree's network, its outputs read through output_map


def task_label(task: SequenceTask) -> str:
    """The task's name and length, as charts and tables name it: ``adding-50``."""
    return f"{task.name}-{task.length}"


def check_methods(methods: list[str]) -> None:
    for method in methods:
        if method not in METHODS:
            raise ConfigError(f"method {method!r} is not accepted; use any of {', '.join(METHODS)}")
    if not methods:
        raise ConfigError(f"no method given; use any of {', '.join(METHODS)}")


class FitBoard:
    """TensorBoard for a fit: per method ``{label}/{method}/train`` and ``/test`` on one custom
    chart per task, and the backprop figures; the step is milliseconds of training, so that every
    method's curve stands on the same axis of time."""

    def __init__(self, run_dir: Path, label: str, config_table: str):
        from torch.utils.tensorboard import SummaryWriter  # slow to import

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.label = label
        self.writer.add_custom_scalars({"fit": {
            f"{label}: train and test loss": ["Multiline", [f"^{label}/[^/]+/(train|test)$"]],
            f"{label}: gradient norm (backprop)": ["Multiline", [f"^{label}/[^/]+/grad_norm$"]],
            f"{label}: gradient at the first / last input tick (backprop)": ["Multiline", [f"^{label}/[^/]+/(first|last)_input_grad$"]],
        }})
        self.writer.add_text("config", config_table, 0)
        self.shown: dict[str, int] = {}

    def on_point(self, curve: Curve) -> None:
        i = len(curve.seconds) - 1
        step = round(curve.seconds[i] * 1000)
        prefix = f"{self.label}/{curve.method}"
        self.writer.add_scalar(f"{prefix}/test", curve.test_loss[i], step)
        if i > 0:
            self.writer.add_scalar(f"{prefix}/train", curve.train_loss[i], step)
        for name, values in curve.extras.items():
            if i > 0:
                self.writer.add_scalar(f"{prefix}/{name}", values[i], step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def write_json(path: Path, data: dict) -> None:
    """Atomically: a temporary file, then a rename."""
    write_text_atomically(path, json.dumps(data, indent=1))


def fit(task: SequenceTask, methods: list[str], config: FitConfig = FitConfig(), seconds: float = 30.0, seed: int = 0,
        device: str = "cpu", evaluations: int = 20, max_steps: int = 0, run_dir: Path | None = None,
        log=None, clock: str = "wall") -> dict[str, Curve]:
    """Train each of ``methods`` on ``task`` for ``seconds`` of training (or ``max_steps`` steps)
    on ``clock`` (:func:`rlfree.fit.train`) from ``seed``; returns {method: its curve}. With ``run_dir``, TensorBoard events and
    curves.json are written there; ``log`` (a print-like callable) hears one line per method."""
    check_methods(methods)
    check_device(device)
    if seconds <= 0:
        raise ConfigError(f"seconds={seconds:g} is not accepted: use a number above 0")
    if clock not in CLOCKS:
        raise ConfigError(f"clock {clock!r} is not accepted; use {' or '.join(CLOCKS)}")
    test_set = task.test_set(seed, config.test_size)
    label = task_label(task)
    mapping = output_map(task, network_spec(task, config))
    if log is not None and not mapping.identity and any(m in FREE_NETWORK_METHODS for m in methods):
        log(f"{label}: the free network's outputs y are read as {mapping.scale:g} y + {mapping.shift:g}, "
            f"onto the targets' range [{task.target_range[0]:g}, {task.target_range[1]:g}]")
    board = None
    if run_dir is not None:
        board = FitBoard(run_dir, label, "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in dataclasses.asdict(config).items()))
    curves = {}
    try:
        for method in methods:
            learner = METHODS[method](task, config, seed, device)
            curve = train(learner, test_set, seconds, evaluations, max_steps, board.on_point if board else None, clock)
            curves[method] = curve
            if log is not None:
                log(f"{label} {method:<15} {learner.n_params:>6} params  {curve.steps[-1]:>7} steps in {curve.seconds[-1]:6.1f} s  "
                    f"test loss {curve.test_loss[0]:.4f} -> {curve.test_loss[-1]:.4f}")
            if run_dir is not None:
                write_json(run_dir / "curves.json", {"task": label, "seed": seed, "config": dataclasses.asdict(config),
                                                     "output_map": dataclasses.asdict(mapping),
                                                     "curves": {m: dataclasses.asdict(c) for m, c in curves.items()}})
    finally:
        if board is not None:
            board.close()
    return curves


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """FitConfig's fields as flags of the same names (``walk_batch`` -> ``--walk-batch``)."""
    for f in dataclasses.fields(FitConfig):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default, metavar=type(f.default).__name__.upper(),
                                help=f"{f.metadata['help']} (default {f.default})")


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, help=f"the data: {', '.join(TASKS)}")
    parser.add_argument("--length", type=int, default=0, help="ticks per sequence (0: the task's default: reference 4, memory and recall 10, adding 50)")
    parser.add_argument("--classes", type=int, default=4, help="recall: symbols and classes (default 4)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, any of {', '.join(METHODS)} (default all)")
    parser.add_argument("--seconds", type=float, default=30.0, help="training seconds per method on --clock, tests not counted (default 30)")
    parser.add_argument("--clock", default="wall", help="wall, or cpu: this process's CPU time, fairer on cores other jobs share (default wall)")
    parser.add_argument("--max-steps", type=int, default=0, help="also stop a method after this many steps (0: seconds alone)")
    parser.add_argument("--evaluations", type=int, default=20, help="test evaluations per method over its seconds (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, test set, initial weights and perturbations")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--logdir", default="runs", help="where the run folder fit-{task}-{length}__{seed}__{time} is made")
    add_config_arguments(parser)
    return parser.parse_args(argv)


def resolve(args: argparse.Namespace) -> tuple[SequenceTask, list[str], FitConfig]:
    """The task, methods and config the flags name; ConfigError (one line) for any bad one, before anything is written."""
    task = make_task(args.task, args.length, args.classes)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    check_methods(methods)
    config = FitConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(FitConfig)})
    checks = [
        (args.seconds > 0, f"--seconds {args.seconds:g} is not accepted: use a number above 0"),
        (args.clock in CLOCKS, f"--clock {args.clock!r} is not accepted; use {' or '.join(CLOCKS)}"),
        (args.max_steps >= 0, f"--max-steps {args.max_steps} is not accepted: use 0 or more"),
        (args.evaluations >= 1, f"--evaluations {args.evaluations} is not accepted: use 1 or more"),
        (args.threads >= 0, f"--threads {args.threads} is not accepted: use 0 or more"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    check_device(args.device)
    return task, methods, config


def main(argv=None, prog: str | None = None) -> int:
    program = prog or "rlfree fit"
    args = parse_args(argv, program)
    with user_errors(program):
        task, methods, config = resolve(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        label = task_label(task)
        settings = {"fit": {"task": task.name, "length": task.length, "classes": args.classes, "methods": methods, "seconds": args.seconds,
                            "max_steps": args.max_steps, "clock": args.clock, "seed": args.seed, "device": args.device}, "config": dataclasses.asdict(config)}
        run_dir = new_run_folder(Path(args.logdir), f"fit-{label}__{args.seed}__{int(time.time())}", to_toml(settings))
        print(f"{program}: {label}, {len(methods)} methods x {args.seconds:g} s -> {shown_path(run_dir)}")
        fit(task, methods, config, args.seconds, args.seed, args.device, args.evaluations, args.max_steps, run_dir, log=print, clock=args.clock)
        print(f"tensorboard --logdir {shown_path(args.logdir)}  (CUSTOM SCALARS: every method's loss on one chart)")
    return 0
