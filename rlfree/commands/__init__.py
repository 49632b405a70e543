"""The ``rlfree`` command: one entry point, a subcommand per task (also ``python -m rlfree``).

    rlfree train --env CartPole-v1        train (rlfree.commands.train)
    rlfree watch --env CartPole-v1        play a trained or shipped agent (rlfree.commands.watch)
    rlfree zoo --tasks CartPole-v1        retrain presets, compare with PPO/ARS (rlfree.commands.zoo)
    rlfree bench --skip-solve             speed figures (rlfree.commands.bench)
    rlfree fit --task adding              supervised sequences, walk vs backprop (rlfree.commands.fit)
    rlfree tune --env CartPole-v1         search the settings with Optuna, write the best preset (rlfree.commands.tune)

Each subcommand's module has ``main(argv=None, prog=None) -> exit code`` and is imported only
when it runs, so ``rlfree watch`` does not pay for the zoo's imports.
"""

from __future__ import annotations

import importlib
import sys

import rlfree

COMMANDS = {
    "train": "train a free network with the smart random walk",
    "watch": "play episodes of a trained or shipped agent (window, text, GIF/MP4, or scores)",
    "zoo": "retrain the presets over several seeds; --compare adds PPO and ARS",
    "bench": "speed of the batched evaluation beside named alternatives",
    "fit": "supervised sequence data: the random walk beside backpropagation (BPTT, RNN, GRU, LSTM)",
    "tune": "search a task's settings with Optuna (time to target) and write the best as a preset",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: rlfree {{{','.join(COMMANDS)}}} ...", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "rlfree COMMAND --help describes a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"rlfree {rlfree.__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"rlfree: error: unknown command {name!r}; choose one of {', '.join(COMMANDS)} (rlfree --help)", file=sys.stderr)
        return 2
    try:
        command = importlib.import_module(f"rlfree.commands.{name}")  # torch and gymnasium: seconds
        return command.main(argv[1:], prog=f"rlfree {name}")
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling starts (while importing)
        print(f"\nrlfree {name}: interrupted", file=sys.stderr)
        return 130
