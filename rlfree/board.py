"""TensorBoard and CSV logging of a run, as an observer of the trainer.

The trainer knows nothing about where its numbers go: it hands each :class:`GenerationRecord`
to its observers. :class:`Board` writes them to TensorBoard (flushed every generation, so a
person watching sees live curves) and to ``progress.csv``; :class:`DuelBoard` does the same for
a cat-versus-mouse run (:mod:`rlfree.coevolve`) and its :class:`DuelRecord`. Tag names live here
and only here; they follow Stable-Baselines3 where it has an equivalent.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TAGS = {
    "population_mean": "rollout/ep_rew_mean",
    "episode_length_mean": "rollout/ep_len_mean",
    "eval_mean": "eval/mean_reward",
    "eval_std": "eval/std_reward",
    "steps_per_second": "time/fps",
    "env_steps": "time/total_timesteps",
    "episodes": "time/episodes",
    "sigma": "walk/sigma",
    "step_norm": "walk/step_norm",
    "weight_norm": "walk/weight_norm",
    "population_max": "walk/population_max",
    "population_min": "walk/population_min",
    "nan_returns": "walk/nan_returns",
}
CHECK_TAG = "eval/target_check"
WEIGHTS_TAG = "walk/W"

YARDSTICK = 10  # the earlier co-evolution generation the centres are measured against
DUEL_TAGS = {
    "mouse_return": "coevolve/mouse_return",  # mouse population vs the cat centre
    "cat_return": "coevolve/cat_return",  # cat population vs the mouse centre (= - mouse's)
    "capture_rate": "coevolve/capture_rate",  # centre vs centre, held-out games
    "game_length": "coevolve/game_length",
    "centre_mouse_return": "coevolve/centre_mouse_return",
    "mouse_vs_early_cat_return": f"coevolve/mouse_vs_cat_gen{YARDSTICK}_return",
    "cat_vs_early_mouse_capture_rate": f"coevolve/cat_vs_mouse_gen{YARDSTICK}_capture_rate",
    "early_mouse_return": f"coevolve/gen{YARDSTICK}_vs_gen{YARDSTICK}_return",  # the two yardsticks' baseline
    "early_capture_rate": f"coevolve/gen{YARDSTICK}_vs_gen{YARDSTICK}_capture_rate",
    "mouse_sigma": "walk/mouse_sigma",
    "cat_sigma": "walk/cat_sigma",
    "mouse_step_norm": "walk/mouse_step_norm",
    "cat_step_norm": "walk/cat_step_norm",
    "steps_per_second": "time/fps",
    "episodes": "time/episodes",
}


@dataclass
class GenerationRecord:
    """What one generation did; None where a figure was not measured this generation."""

    generation: int  # generations done, counting this one
    env_steps: int  # environment steps so far, evaluations included
    episodes: int  # episodes (games) played so far, evaluations included
    population_mean: float
    population_max: float
    population_min: float
    episode_length_mean: float
    sigma: float
    step_norm: float
    weight_norm: float
    nan_returns: int
    steps_per_second: float
    elapsed: float  # seconds of training so far (over resumes)
    eval_mean: float | None = None
    eval_std: float | None = None
    check_mean: float | None = None  # the target check on gymnasium's own env, when it ran


@dataclass
class DuelRecord:
    """What one generation of co-evolution did; None where a figure was not measured."""

    generation: int
    env_steps: int
    episodes: int  # games played so far, evaluations included
    mouse_return: float  # mean over the mouse population (vs the cat centre)
    cat_return: float  # mean over the cat population (vs the mouse centre); = - mouse's return
    mouse_sigma: float
    cat_sigma: float
    mouse_step_norm: float
    cat_step_norm: float
    steps_per_second: float
    elapsed: float
    centre_mouse_return: float | None = None  # centre vs centre, held-out games
    capture_rate: float | None = None
    game_length: float | None = None
    mouse_vs_early_cat_return: float | None = None  # mouse centre vs the cat of generation YARDSTICK
    cat_vs_early_mouse_capture_rate: float | None = None  # cat centre vs the mouse of generation YARDSTICK
    early_mouse_return: float | None = None  # the mouse of generation YARDSTICK vs its cat, the same games
    early_capture_rate: float | None = None


def markdown_table(config: dict[str, dict]) -> str:
    """The resolved config as a Markdown table, the way CleanRL logs hyper-parameters."""
    rows = [f"|{section}.{name}|{value}|" for section, values in config.items() for name, value in values.items()]
    return "|param|value|\n|-|-|\n" + "\n".join(rows)


def weight_image(W: np.ndarray) -> np.ndarray:
    """W (A, K) -> an RGB image (3, A, K) in [0, 1]: red positive, blue negative, white 0."""
    scale = float(np.abs(W).max()) or 1.0
    x = np.clip(W / scale, -1.0, 1.0)
    red = np.where(x < 0, 1.0 + x, 1.0)
    blue = np.where(x > 0, 1.0 - x, 1.0)
    green = 1.0 - np.abs(x)
    return np.stack([red, green, blue]).astype(np.float32)


class _RunLog:
    """TensorBoard events and ``progress.csv`` in ``run_dir``, one CSV row per ``record_type``.

    A resumed run appends to its CSV; a new one writes the header and logs the config once.
    """

    record_type: type

    def __init__(self, run_dir: Path, config: dict[str, dict], resumed: bool = False):
        from torch.utils.tensorboard import SummaryWriter  # imported here: it is slow to import

        self.writer = SummaryWriter(log_dir=str(run_dir))
        csv_path = run_dir / "progress.csv"
        append = resumed and csv_path.exists()
        self.csv_file = open(csv_path, "a" if append else "w", newline="")
        self.csv = csv.DictWriter(self.csv_file, fieldnames=[f.name for f in dataclasses.fields(self.record_type)])
        if not append:
            self.csv.writeheader()
            self.writer.add_text("config", markdown_table(config), 0)

    def _add_scalars(self, tags: dict[str, str], record, step: int) -> None:
        for name, tag in tags.items():
            value = getattr(record, name)
            if value is not None:
                self.writer.add_scalar(tag, value, step)

    def _end_generation(self, record) -> None:
        """The record's CSV row, then both files flushed, so a person watching sees it now."""
        self.csv.writerow(dataclasses.asdict(record))
        self.csv_file.flush()
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        self.csv_file.close()


class Board(_RunLog):
    """Writes a run's TensorBoard events and ``progress.csv`` in ``run_dir``."""

    record_type = GenerationRecord

    def on_generation(self, record: GenerationRecord, W: np.ndarray | None = None) -> None:
        step = record.env_steps
        self._add_scalars(TAGS, record, step)
        if record.check_mean is not None:
            self.writer.add_scalar(CHECK_TAG, record.check_mean, step)
        if W is not None:
            self.writer.add_image(WEIGHTS_TAG, weight_image(W), step)
        self._end_generation(record)


class DuelBoard(_RunLog):
    """TensorBoard events and ``progress.csv`` of a co-evolution run; tags in :data:`DUEL_TAGS`,
    stepped by generation."""

    record_type = DuelRecord

    def on_generation(self, record: DuelRecord) -> None:
        self._add_scalars(DUEL_TAGS, record, record.generation)
        self._end_generation(record)
