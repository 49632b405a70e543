"""Observation normalisation as ARS V2 does it (Mania et al. 2018): the network sees
``(obs - mean) / std`` instead of ``obs``.

``mean`` and ``std`` are those of every observation the walk's members were fed: every step of
every member whose episode was still running, over every generation so far. They are frozen
within a generation: its rollouts (members, the centre's evaluation, a target check) use the
statistics from before it, and its members' observations are merged after it. So the saved
agent holds the very statistics its weights were evaluated with.

- :class:`RunningStats`: ``count``, ``mean`` and ``M2`` (the sum of squared deviations from the
  mean) in float64. Two sets merge exactly by the formula of Chan, Golub and LeVeque (1979),
  in any grouping, so that a distributed evaluator may return one set per worker.
- :class:`ObservationSums`: what a rollout accumulates on its device, per copy, while it runs
  (sums of the observations less the frozen mean, and of their squares, in float64), turned
  into one RunningStats per row (member) at the end.
- :class:`Normalizer`: the frozen ``(mean, std)`` a policy applies, written into network.json.

**The std floor.** ``std = sqrt(M2 / count)`` (the population std), replaced by 1 wherever it is
below ``STD_FLOOR`` = 1e-8; before anything is counted, mean 0 and std 1. An input that has never
varied is then its (zero) deviation from the mean, not a division by almost nothing that would
blow up the first time it moves. (ARS divides by ``std + 1e-8`` and sets a std below 1e-7 to
infinity, which zeroes such an input for good; with std 1 it still reaches the network if it
starts to vary, at its own scale.) The std saved in network.json is the floored one, so a
runner without rlfree applies ``(obs - mean) / std`` and nothing else.

Only flat (Box) observations are normalised: a one-hot input is 0 or 1 already, and dividing
it by the std of how often it was seen would make a rarely seen state a huge input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FORMULA = "(obs - mean) / std"
STD_FLOOR = 1e-8  # a std below this is taken as 1 (module docstring)


@dataclass(frozen=True)
class RunningStats:
    """Moments of observations of I dimensions; one set, or R sets side by side.

    count: () or (R,) int64; mean, m2: (I,) or (R, I) float64 (m2: sum of squared deviations).
    """

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, size: int) -> "RunningStats":
        """Nothing counted yet, of ``size`` dimensions."""
        return cls(np.array(0, dtype=np.int64), np.zeros(size), np.zeros(size))

    def rows(self, index: slice) -> "RunningStats":
        """The sets ``index`` picks out of R sets side by side."""
        return RunningStats(self.count[index], self.mean[index], self.m2[index])

    def total(self) -> "RunningStats":
        """R sets (count (R,), ...) -> the one set of all their observations together (Chan et al.)."""
        n = int(self.count.sum())
        if n == 0:
            return RunningStats.empty(self.mean.shape[-1])
        weights = self.count.astype(np.float64)[:, None]
        mean = (weights * self.mean).sum(axis=0) / n
        m2 = self.m2.sum(axis=0) + (weights * (self.mean - mean) ** 2).sum(axis=0)
        return RunningStats(np.array(n, dtype=np.int64), mean, m2)

    def merge(self, other: "RunningStats") -> "RunningStats":
        """Two single sets -> the set of both sets' observations."""
        return RunningStats(np.stack([self.count, other.count]), np.stack([self.mean, other.mean]), np.stack([self.m2, other.m2])).total()

    @property
    def std(self) -> np.ndarray:
        """(I,) float64: sqrt(M2 / count), 1 where below STD_FLOOR or before anything was counted."""
        if int(self.count) == 0:
            return np.ones_like(self.mean)
        std = np.sqrt(self.m2 / int(self.count))
        return np.where(std < STD_FLOOR, 1.0, std)

    # -- a checkpoint's arrays (walk.npz) -----------------------------------------------------------
    NAMES = ("obs_count", "obs_mean", "obs_m2")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """A single set as arrays: obs_count (1,) int64 (an npz keeps no 0-d array through the
        checkpoint's writer), obs_mean and obs_m2 (I,) float64."""
        return dict(zip(self.NAMES, (self.count.reshape(1), self.mean, self.m2)))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], size: int) -> "RunningStats":
        """A single set from :meth:`to_arrays`' names; ValueError naming what does not fit ``size`` dimensions."""
        missing = [name for name in cls.NAMES if name not in arrays]
        if missing:
            raise ValueError(f"it holds no {', '.join(missing)}")
        count, mean, m2 = (np.asarray(arrays[name]) for name in cls.NAMES)
        if count.shape != (1,) or count.dtype.kind not in "iu" or int(count[0]) < 0:
            raise ValueError(f"obs_count is {count!r}; expected one whole number >= 0")
        for name, array in (("obs_mean", mean), ("obs_m2", m2)):
            if array.shape != (size,) or array.dtype != np.float64:
                raise ValueError(f"{name} is {array.dtype} of shape {array.shape}; expected float64 of shape ({size},)")
        return cls(count.astype(np.int64).reshape(()), mean.copy(), m2.copy())


class Normalizer:
    """The frozen statistics a policy applies: inputs (N, I) -> (inputs - mean) / std.

    mean, std: (I,) float64, std already floored (:data:`STD_FLOOR`); count: the observations behind them.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, count: int = 0):
        self.mean, self.std, self.count = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64), int(count)
        self._tensors: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_stats(cls, stats: RunningStats) -> "Normalizer":
        return cls(stats.mean.copy(), stats.std, int(stats.count))

    @classmethod
    def identity(cls, size: int) -> "Normalizer":
        """Before any observation was counted: mean 0, std 1."""
        return cls.from_stats(RunningStats.empty(size))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs: (N, I) -> (N, I) of the same dtype, a new tensor (``inputs`` may be an env's own)."""
        key = (inputs.device, inputs.dtype)
        if key not in self._tensors:
            self._tensors[key] = (torch.as_tensor(self.mean, dtype=inputs.dtype, device=inputs.device),
                                  torch.as_tensor(self.std, dtype=inputs.dtype, device=inputs.device))
        mean, std = self._tensors[key]
        return torch.sub(inputs, mean).div_(std)

    def sums(self, copies: int, device: torch.device) -> "ObservationSums":
        """Empty per-copy sums for a rollout of ``copies`` copies on ``device``, shifted by this mean."""
        where = torch.device("cpu") if device.type == "mps" else device  # MPS has no float64
        return ObservationSums(torch.as_tensor(self.mean, dtype=torch.float64, device=where), copies)

    def to_json(self) -> dict:
        return {
            "formula": FORMULA,
            "statistics": f"mean and std = sqrt(M2 / count) of the count observations the walk's members were fed; std 1 where below {STD_FLOOR:g}",
            "count": self.count,
            "mean": self.mean.tolist(),  # Python's float repr: float64 read back exactly
            "std": self.std.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict, size: int) -> "Normalizer":
        """ValueError (or KeyError, TypeError) for a table that does not give ``size`` means and stds."""
        if data.get("formula") != FORMULA:
            raise ValueError(f"observation normalization has formula {data.get('formula')!r}; this rlfree applies {FORMULA!r}")
        mean, std = np.array(data["mean"], dtype=np.float64), np.array(data["std"], dtype=np.float64)
        if mean.shape != (size,) or std.shape != (size,) or not (np.all(np.isfinite(mean)) and np.all(std > 0) and np.all(np.isfinite(std))):
            raise ValueError(f"observation normalization needs {size} finite means and {size} finite stds > 0")
        return cls(mean, std, int(data["count"]))


class ObservationSums:
    """Per-copy sums of the observations a rollout feeds its networks, kept on the device.

    shift: (I,) float64, the frozen mean: sums of ``obs - shift`` stay small, so the M2 made of
    them at the end loses nothing to cancellation. count: (N,) int64; s1, s2: (N, I) float64.
    """

    def __init__(self, shift: torch.Tensor, copies: int):
        self.shift = shift
        self.count = torch.zeros(copies, dtype=torch.int64, device=shift.device)
        self.s1 = torch.zeros(copies, len(shift), dtype=torch.float64, device=shift.device)
        self.s2 = torch.zeros_like(self.s1)

    def add(self, obs: torch.Tensor, running: torch.Tensor) -> None:
        """obs: (N, *obs_shape), the observations about to be fed; running: (N,) bool, the copies
        whose episode has not ended. A copy's non-finite observation is left out, so that one
        unstable simulation cannot make the statistics NaN for the rest of the run."""
        x = obs.reshape(len(obs), -1).to(self.shift.device, torch.float64) - self.shift
        counted = running.to(self.shift.device) & torch.isfinite(x).all(dim=1)
        x = torch.where(counted[:, None], x, 0.0)  # where, not a product: inf * 0 is NaN
        self.count += counted
        self.s1 += x
        self.s2.addcmul_(x, x)

    def per_row(self, rows: int, episodes: int) -> RunningStats:
        """The copies' sums (member-major, ``rows * episodes`` copies) as one set per row:
        count (rows,), mean and m2 (rows, I)."""
        count = self.count.reshape(rows, episodes).sum(dim=1).cpu().numpy()
        s1 = self.s1.reshape(rows, episodes, -1).sum(dim=1).cpu().numpy()
        s2 = self.s2.reshape(rows, episodes, -1).sum(dim=1).cpu().numpy()
        n = np.maximum(count, 1).astype(np.float64)[:, None]  # a row that counted nothing has s1 = s2 = 0
        m2 = np.maximum(s2 - s1 * s1 / n, 0.0)  # rounding may take a constant input a hair below 0
        return RunningStats(count, self.shift.cpu().numpy() + s1 / n, m2)
