"""The JSON file a report script keeps of its runs (``--json``), and reading it back (``--from-json``).

A report that trains for hours rewrites its file after every run, whole and atomically, so that a
report stopped at any moment keeps every run it finished; ``--from-json`` merges several such
files (one per seed, say, run in separate processes) into one table without training anything.

The file is one JSON object of lists: ``{"runs": [...], "load": [...], ...}``; lists of the same
name from several files are concatenated, in the order the files are given.
"""

from __future__ import annotations

import json
from pathlib import Path

from rlfree.atomic_text import write_text_atomically


def save_report_json(path: str | Path, **lists: list) -> None:
    """Replace ``path`` with ``{name: list, ...}``."""
    write_text_atomically(path, json.dumps(lists, indent=1) + "\n")


def load_report_json(paths: list[str], names: tuple[str, ...], option: str = "--from-json") -> dict[str, list]:
    """The lists ``names`` of every file, merged; ``runs`` must be in each (a bare list is read as the
    runs alone, as the first report files were written), the others default to empty.
    ValueError, naming the file and the ``option`` that gave it: a file that is missing, not JSON, or
    not a report's."""
    merged: dict[str, list] = {name: [] for name in names}
    for path in paths:
        try:
            saved = json.loads(Path(path).read_text())
            saved = {"runs": saved} if isinstance(saved, list) else saved
            if not isinstance(saved, dict) or not isinstance(saved.get("runs"), list):
                raise TypeError("it has no list of runs")
            for name in names:
                value = saved.get(name, [])
                if not isinstance(value, list):
                    raise TypeError(f"its {name!r} is not a list")
                merged[name] += value
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"{option} {path!r} is not a file this script's --json wrote ({type(err).__name__}: {err})") from None
    return merged
