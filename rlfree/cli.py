"""What the commands share: their argument parser, the --import flag, and turning user errors
into one line and exit code 2 (1 for a crashing env)."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from rlfree.errors import UserError
from rlfree.gym_copies import EnvCrashed


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose refusal of a command line is one line, argparse's message and a
    pointer to --help, instead of the whole usage above it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_import_argument(parser: argparse.ArgumentParser) -> None:
    """``--import PACKAGE`` (repeatable): the packages an env id read from a run may import."""
    parser.add_argument(
        "--import", dest="imports", metavar="PACKAGE", action="append", default=[],
        help="allow importing PACKAGE for an env id 'PACKAGE:Env-v0' read from a checkpoint or preset (repeatable); "
             "a package that only a file names is never imported",
    )


@contextmanager
def user_errors(program: str):
    """Print a user error as ``program: error: message`` and exit 2, as argparse does.

    Only :class:`UserError` (and a crashing env) becomes one line: any other exception is a bug
    and keeps its traceback.
    """
    try:
        yield
    except UserError as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except EnvCrashed as err:  # the env's own bug: its id, seed and step say how to replay it
        print(f"{program}: error: {err}", file=sys.stderr)
        raise SystemExit(1) from None


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies below it (shorter to read)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
