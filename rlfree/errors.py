"""The one base of every error a user fixes by changing their input.

Config values, env ids, spaces, checkpoints, run folders and missing packages raise subclasses
of :class:`UserError`; the commands print those as one line (``rlfree.cli.user_errors``) and
let every other exception keep its traceback, since that one is a bug to report, not an input
to change. Each subclass keeps the builtin base it had (ValueError, OSError), so code that
caught those still does.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input; the message names the bad value and what would be accepted."""


class NonFiniteRun(UserError, FloatingPointError):
    """A run whose numbers stopped being numbers: every member's return, or the centre, is NaN or
    infinite. Raised by the algorithm before it moves to such a state, so the run loop's last
    completed generation (what it saves) is still finite; the message names the generation."""
