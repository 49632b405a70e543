"""The console view of a run: a header, a line per generation, and a live status line.

:class:`Console` prints whatever record type the run produces (each defines ``HEADER`` and
``line()``). Its status line on stderr says where the run stands: generations done against
the budget, the rate, the time left at that rate (ETA), and the best evaluation of the centre
against the target. At a terminal it is redrawn in place after every generation; elsewhere
(``--progress`` into a log file) it is a plain line at most every ``LOG_EVERY`` seconds.

A generation that runs longer than ``PROGRESS_AFTER`` seconds (long episodes, an env without a
time limit) says how far it is (:meth:`Console.on_progress`): in the status line at a terminal,
else as a plain line on stderr at most every ``LOG_EVERY`` seconds, with or without
``--progress``, so that a log never goes silent for minutes without a hint why.
"""

from __future__ import annotations

import math
import sys
import time

LOG_EVERY = 10.0  # seconds between status lines when stderr is not a terminal
PROGRESS_AFTER = 5.0  # seconds into a generation before the console says how far it is


def duration(seconds: float) -> str:
    """'42s', '3m05s', '2h07m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Console:
    """Prints ``record_type.HEADER`` once and ``record.line()`` per generation to ``stream``;
    with ``status``, the status line on stderr (see the module docstring)."""

    def __init__(self, record_type: type, total_generations: int, *, target: float | None = None, best: float | None = None,
                 status: bool = False, stream=None, status_stream=None):
        self.total = total_generations
        self.target = target
        self.best = best  # the best evaluation so far (a resumed run starts from its checkpoint's)
        self.status = status
        self.stream = stream or sys.stdout
        self.status_stream = status_stream or sys.stderr
        self.live = self.status and self.status_stream.isatty()
        self.started = time.perf_counter()
        self.first_generation: int | None = None
        self.last_logged = -float("inf")
        self.generation_started = self.started
        print(record_type.HEADER, file=self.stream, flush=True)

    def on_generation(self, record) -> None:
        if self.live:
            self.status_stream.write("\r\033[K")
        print(record.line(), file=self.stream, flush=True)
        evaluation = getattr(record, "eval_mean", None)
        if evaluation is not None and math.isfinite(evaluation) and (self.best is None or evaluation > self.best):
            self.best = evaluation
        if self.first_generation is None:  # a resumed run counts its rate from where it resumed
            self.first_generation = record.generation - 1
        now = time.perf_counter()
        self.generation_started = now
        if not self.status:
            return
        if self.live:
            self.status_stream.write(self.status_line(record.generation, now))
            self.status_stream.flush()
        elif now - self.last_logged >= LOG_EVERY or record.generation >= self.total:
            print(self.status_line(record.generation, now), file=self.status_stream, flush=True)
            self.last_logged = now

    def on_progress(self, progress) -> None:
        """``progress`` (:class:`rlfree.evaluate.StepProgress`) of the running generation, shown
        once the generation has run for PROGRESS_AFTER seconds."""
        now = time.perf_counter()
        seconds = now - self.generation_started
        if seconds < PROGRESS_AFTER:
            return
        line = (f"this generation has run {duration(seconds)}: step {progress.steps:,} of at most {progress.max_steps:,}, "
                f"{progress.running:,} of {progress.copies:,} episodes still running")
        if self.live:
            self.status_stream.write("\r\033[K" + line)
            self.status_stream.flush()
        elif now - self.last_logged >= LOG_EVERY:
            print(line, file=self.status_stream, flush=True)
            self.last_logged = now

    def status_line(self, generation: int, now: float) -> str:
        """'gen 120/1000 (12%) | 3.4 gen/s | ETA 4m19s | best centre 187.3, target 475.0 (287.7 to go)'."""
        done = generation - self.first_generation
        rate = done / max(now - self.started, 1e-9)
        parts = [f"gen {generation}/{self.total} ({generation / self.total:.0%})", f"{rate:.2f} gen/s"]
        left = self.total - generation
        parts.append(f"ETA {duration(left / rate)}" if rate > 0 and left > 0 else "ETA -")
        if self.best is not None:
            best = f"best centre {self.best:.1f}"
            if self.target is not None:
                gap = self.target - self.best
                best += f", target {self.target:g} ({'reached' if gap <= 0 else f'{gap:.1f} to go'})"
            parts.append(best)
        elif self.target is not None:
            parts.append(f"target {self.target:g}")
        return " | ".join(parts)

    def close(self) -> None:
        if self.live:
            self.status_stream.write("\n")
            self.status_stream.flush()
