"""The zoo's finished runs, and the file that keeps them (``rlfree zoo --json FILE``).

A comparison on an external simulator takes hours: HalfCheetah-v5 beside ARS and PPO on two seeds
is most of a working day on one core. The file lets it be stopped and resumed, or split into one
command per algorithm: the zoo rewrites it, whole and atomically, after every run, and a later
command with the same file runs only what the file does not already hold.

A run is reused only where it was made with this command's settings for its algorithm (its time
limit, threads and the task's threshold; rlfree's preset file, by its sha256; a baseline's
evaluation settings), so that every row of a table was trained and timed under the same rules; a
run made under other settings, or from a preset edited since, is refused in one line, never mixed in.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlfree.report_json import load_report_json, save_report_json


@dataclass
class RunOutcome:
    """One algorithm, one task, one seed."""

    solved: bool
    seconds: float  # counted wall time until solved (or until it stopped)
    eval_seconds: float  # of which (or, with --free-evals, besides which) cheap evaluations of a baseline
    steps: int
    final: np.ndarray  # (100,) returns of the final agent on FINAL_SEEDS


def run_settings(algorithm: str, time_limit: float, threads: int, eval_every: int, cheap_episodes: int,
                 free_evals: bool, target: float, preset: Path) -> dict:
    """The command's settings that shape a run of ``algorithm`` on a task whose threshold is
    ``target``: rlfree's also name its ``preset`` file by content and ignore the baselines' evaluation."""
    settings = {"time_limit": float(time_limit), "threads": int(threads), "target": float(target)}
    if algorithm == "rlfree":
        settings["preset_sha256"] = hashlib.sha256(Path(preset).read_bytes()).hexdigest()[:16]
    else:
        settings.update(eval_every=int(eval_every), cheap_episodes=int(cheap_episodes), free_evals=bool(free_evals))
    return settings


_FLAGS = {"time_limit": "--time-limit", "threads": "--threads", "eval_every": "--eval-every",
          "cheap_episodes": "--cheap-episodes", "free_evals": "--free-evals", "target": "threshold",
          "preset_sha256": "a preset of sha256"}


class ZooRuns:
    """The runs of ``path`` (none when it does not exist yet), keyed by (task, algorithm, seed).

    ValueError, in one line naming the file: a file that is not one this command wrote.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._runs: dict[tuple[str, str, int], dict] = {}
        if self.path.exists():
            for entry in load_report_json([str(self.path)], ("runs",), option="--json")["runs"]:
                try:
                    key = (str(entry["task"]), str(entry["algorithm"]), int(entry["seed"]))
                    _outcome(entry)  # every field of the outcome there and readable
                    if not isinstance(entry["settings"], dict):
                        raise TypeError("its 'settings' are not a table")
                except (KeyError, TypeError, ValueError) as err:
                    raise ValueError(f"--json {str(self.path)!r} is not a file rlfree zoo wrote "
                                     f"(one of its runs: {type(err).__name__}: {err})") from None
                self._runs[key] = entry

    def conflict(self, task: str, algorithm: str, seed: int, settings: dict) -> str | None:
        """Why the file's run of (task, algorithm, seed) cannot stand in this command's table; None when
        it can or when there is none."""
        entry = self._runs.get((task, algorithm, seed))
        if entry is None or entry["settings"] == settings:
            return None
        differences = [f"{_FLAGS.get(name, name)} {entry['settings'].get(name)} (this command: {value})"
                       for name, value in settings.items() if entry["settings"].get(name) != value]
        return (f"--json {str(self.path)!r} holds {task} {algorithm} seed {seed} run with "
                f"{', '.join(differences) or 'other settings'}: give the same settings, or another file")

    def get(self, task: str, algorithm: str, seed: int) -> RunOutcome | None:
        entry = self._runs.get((task, algorithm, seed))
        return None if entry is None else _outcome(entry)

    def add(self, task: str, algorithm: str, seed: int, settings: dict, outcome: RunOutcome) -> None:
        """Keep ``outcome`` and rewrite the file, with every run it held before."""
        self._runs[(task, algorithm, seed)] = {
            "task": task, "algorithm": algorithm, "seed": seed, "settings": settings,
            "solved": bool(outcome.solved), "seconds": float(outcome.seconds),
            "eval_seconds": float(outcome.eval_seconds), "steps": int(outcome.steps),
            "final": [float(x) for x in outcome.final],
        }
        save_report_json(self.path, runs=list(self._runs.values()))


def _outcome(entry: dict) -> RunOutcome:
    final = np.asarray(entry["final"], dtype=np.float64)
    if final.ndim != 1 or not final.size or not np.isfinite(final).all() or not math.isfinite(entry["seconds"]):
        raise ValueError("its 'final' returns or 'seconds' are not finite numbers")
    return RunOutcome(bool(entry["solved"]), float(entry["seconds"]), float(entry["eval_seconds"]),
                      int(entry["steps"]), final)
