"""The console view of a run: one line per generation, and an optional progress bar.

:class:`ConsoleProgress` shows a single-agent run, :class:`DuelConsole` a cat-versus-mouse one.
"""

from __future__ import annotations

import sys

from rlfree.board import YARDSTICK, DuelRecord, GenerationRecord

HEADER = f"{'gen':>6} {'env steps':>11} {'pop mean':>9} {'pop max':>9} {'centre':>9} {'sigma':>7} {'steps/s':>10} {'elapsed':>8}"
DUEL_HEADER = (
    f"{'gen':>6} {'games':>10} {'mouse pop':>9} {'cat pop':>8} {'caught':>7} {'length':>6} "
    f"{f'M vs C{YARDSTICK}':>9} {f'C vs M{YARDSTICK}':>9} {f'{YARDSTICK} vs {YARDSTICK}':>15} {'elapsed':>8}"
)


def _fmt(value: float | None, width: int, spec: str = ".1f") -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


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


class DuelConsole:
    """One line per generation: population returns, capture rate, and the yardstick matches."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        print(DUEL_HEADER, file=self.stream, flush=True)

    def on_generation(self, record: DuelRecord) -> None:
        r = record
        baseline = f"{_fmt(r.early_mouse_return, 6, '.2f')} {_fmt(r.early_capture_rate, 8, '.1%')}"
        print(
            f"{r.generation:>6} {r.episodes:>10,} {r.mouse_return:>9.2f} {r.cat_return:>8.2f} {_fmt(r.capture_rate, 7, '.1%')} "
            f"{_fmt(r.game_length, 6)} {_fmt(r.mouse_vs_early_cat_return, 9, '.2f')} {_fmt(r.cat_vs_early_mouse_capture_rate, 9, '.1%')} "
            f"{baseline} {r.elapsed:>7.1f}s",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass
