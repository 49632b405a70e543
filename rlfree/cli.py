"""What the scripts share: turning user errors into one line and exit code 2."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rlfree.backend import UnknownEnvError
from rlfree.checkpoint import CheckpointError
from rlfree.config import ConfigError
from rlfree.spaces import UnsupportedSpaceError
from rlfree.trainer import RunFolderError

USER_ERRORS = (ConfigError, UnknownEnvError, UnsupportedSpaceError, CheckpointError, RunFolderError, ValueError)


@contextmanager
def user_errors(program: str):
    """Print a user error as ``program: error: message`` and exit 2, as argparse does."""
    try:
        yield
    except USER_ERRORS as err:
        print(f"{program}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
