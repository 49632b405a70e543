"""TensorBoard and ``progress.csv``: an observer of the run loop that writes any record type.

The run loop knows nothing about where its numbers go: it hands each record to its observers.
:class:`Board` writes a record's fields to ``progress.csv`` and each field that carries a
``tag`` in its metadata to TensorBoard (an ``image`` field as a picture), stepped by the
record's ``STEP`` field; the tags are defined beside the records, by the algorithms that
produce them (:class:`rlfree.trainer.GenerationRecord`, :class:`rlfree.coevolve.DuelRecord`).
Both files are flushed every generation, so a person watching sees live curves.

On resume, the generations after the checkpoint that a hard kill left behind are dropped:
their CSV rows are cut off and TensorBoard is told to purge their steps (``purge_step``), so
no generation shows twice.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

from rlfree.atomic_text import write_text_atomically
from rlfree.run_loop import RunState


def markdown_table(config: dict[str, dict]) -> str:
    """The resolved config as a Markdown table, the way CleanRL logs hyper-parameters."""
    rows = [f"|{section}.{name}|{value}|" for section, values in config.items() for name, value in values.items()]
    return "|param|value|\n|-|-|\n" + "\n".join(rows)


def record_tags(record_type: type) -> dict[str, str]:
    """{field: TensorBoard tag} of the record's scalar fields (those whose metadata carries a ``tag``)."""
    return {f.name: f.metadata["tag"] for f in dataclasses.fields(record_type) if "tag" in f.metadata}


def scalars(record, tags: dict[str, str]) -> dict[str, float]:
    """{tag: value} of the figures ``record`` measured (None: not measured this generation)."""
    return {tag: getattr(record, name) for name, tag in tags.items() if getattr(record, name) is not None}


def csv_fields(record_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(record_type) if f.metadata.get("csv", True)]


def truncate_csv(path: Path, generation: int, fields: list[str]) -> None:
    """Keep the rows of generations up to ``generation``, under a header of ``fields`` (atomically).

    The header is rewritten because a run resumed by a newer rlfree may record more columns than
    the one that wrote the file: old rows get those columns empty, and every appended row then
    lines up with the header.
    """
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [row for row in reader if int(row["generation"]) <= generation]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(path, text.getvalue())


class Board:
    """Writes ``record_type`` records to TensorBoard events and ``progress.csv`` in ``run_dir``.

    ``resume``: the state of the checkpoint a resumed run continues from; a new run logs the
    config and ``texts`` ({tag: Markdown}) once.
    """

    def __init__(self, run_dir: Path, record_type: type, config: dict[str, dict], resume: RunState | None = None, texts: dict[str, str] | None = None):
        from torch.utils.tensorboard import SummaryWriter  # imported here: it is slow to import

        self.record_type = record_type
        self.tags = record_tags(record_type)
        self.images = {f.name: f.metadata["image"] for f in dataclasses.fields(record_type) if "image" in f.metadata}
        csv_path = run_dir / "progress.csv"
        append = resume is not None and csv_path.exists()
        if append:
            truncate_csv(csv_path, resume.generation, csv_fields(record_type))
        purge_step = getattr(resume, record_type.STEP) + 1 if resume is not None else None
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)
        self.csv_file = open(csv_path, "a" if append else "w", newline="")
        self.csv = csv.DictWriter(self.csv_file, fieldnames=csv_fields(record_type))
        if not append:
            self.csv.writeheader()
            self.writer.add_text("config", markdown_table(config), 0)
            for tag, text in (texts or {}).items():
                self.writer.add_text(tag, text, 0)

    def on_generation(self, record) -> None:
        step = getattr(record, self.record_type.STEP)
        for tag, value in scalars(record, self.tags).items():
            self.writer.add_scalar(tag, value, step)
        for name, tag in self.images.items():
            image = getattr(record, name)
            if image is not None:
                self.writer.add_image(tag, image, step)
        self.csv.writerow({name: getattr(record, name) for name in self.csv.fieldnames})
        self.csv_file.flush()
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        self.csv_file.close()
