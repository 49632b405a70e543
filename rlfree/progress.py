"""The console view of a run: one line per generation, and an optional progress bar."""

from __future__ import annotations

import sys
import time

from rlfree.board import GenerationRecord

HEADER = f"{'gen':>6} {'env steps':>11} {'pop mean':>9} {'pop max':>9} {'centre':>9} {'sigma':>7} {'steps/s':>10} {'elapsed':>8}"


def _fmt(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def generation_line(record: GenerationRecord) -> str:
    """The printed line for a generation; 'centre' is the centre's evaluation when it ran."""
    line = (
        f"{record.generation:>6} {record.env_steps:>11,} {_fmt(record.population_mean, 9)} "
        f"{_fmt(record.population_max, 9)} {_fmt(record.eval_mean, 9)} {record.sigma:>7.4f} "
        f"{record.steps_per_second:>10,.0f} {record.elapsed:>7.1f}s"
    )
    if record.check_mean is not None:
        line += f"  target check on gymnasium: {record.check_mean:.1f}"
    return line


class ConsoleProgress:
    """Prints the header once and a line per generation; with ``bar`` a progress bar on stderr."""

    def __init__(self, total_generations: int, bar: bool = False, stream=None):
        self.total = total_generations
        self.bar = bar
        self.stream = stream or sys.stdout
        self.started = time.perf_counter()
        print(HEADER, file=self.stream, flush=True)

    def on_generation(self, record: GenerationRecord, W=None) -> None:
        if self.bar:
            sys.stderr.write("\r\033[K")
        print(generation_line(record), file=self.stream, flush=True)
        if self.bar:
            done = record.generation / self.total
            filled = int(30 * done)
            sys.stderr.write(f"[{'#' * filled}{'.' * (30 - filled)}] {record.generation}/{self.total} generations")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar:
            sys.stderr.write("\n")
