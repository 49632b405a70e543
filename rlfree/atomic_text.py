"""Text files replaced whole: a reader (or a run stopped half-way) sees the old file or the new
one, never a half-written one."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to a hidden temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, newline="")  # the text as given: no line-ending translation (a CSV brings its own)
    os.replace(tmp, path)
