"""TensorBoard and CSV logging of a run, as an observer of the trainer.

The trainer knows nothing about where its numbers go: it hands each :class:`GenerationRecord`
to its observers. :class:`Board` writes them to TensorBoard (flushed every generation, so a
person watching sees live curves) and to ``progress.csv``. Tag names live here and only here;
they follow Stable-Baselines3 where it has an equivalent.
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


CSV_FIELDS = [f.name for f in dataclasses.fields(GenerationRecord)]


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


class Board:
    """Writes a run's TensorBoard events and ``progress.csv`` in ``run_dir``."""

    def __init__(self, run_dir: Path, config: dict[str, dict], resumed: bool = False):
        from torch.utils.tensorboard import SummaryWriter  # imported here: it is slow to import

        self.writer = SummaryWriter(log_dir=str(run_dir))
        csv_path = run_dir / "progress.csv"
        append = resumed and csv_path.exists()
        self.csv_file = open(csv_path, "a" if append else "w", newline="")
        self.csv = csv.DictWriter(self.csv_file, fieldnames=CSV_FIELDS)
        if not append:
            self.csv.writeheader()
            self.writer.add_text("config", markdown_table(config), 0)

    def on_generation(self, record: GenerationRecord, W: np.ndarray | None = None) -> None:
        step = record.env_steps
        for name, tag in TAGS.items():
            value = getattr(record, name)
            if value is not None:
                self.writer.add_scalar(tag, value, step)
        if record.check_mean is not None:
            self.writer.add_scalar(CHECK_TAG, record.check_mean, step)
        if W is not None:
            self.writer.add_image(WEIGHTS_TAG, weight_image(W), step)
        self.csv.writerow(dataclasses.asdict(record))
        self.csv_file.flush()
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        self.csv_file.close()
