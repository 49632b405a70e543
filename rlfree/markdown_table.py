"""The pipe tables that every report (rlfree bench, rlfree zoo, scripts/*_report.py) prints and
pastes into the README."""

from __future__ import annotations


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table: ``header`` (C names) over ``rows`` (each C cells, already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
