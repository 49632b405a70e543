"""Supervised sequence tasks for ``rlfree fit``: data generators with a held-out test set.

Every batch is a pure function of integers (run seed, step, purpose) through
:func:`rlfree.seeding.hash_seed`, so that a run replays exactly and the test set, drawn under its
own purpose, never overlaps the training stream. A batch is ``(inputs, targets)``:

- inputs: (B, T, I) float32 (one input vector per tick, the reference's ``sequence_input``), or
  (B, T) int64 symbols for a task with ``symbols`` > 0, which the network sees one-hot encoded
  (the reference's ``net_input_add_onehot``; :func:`encode`);
- targets: (B, n_outputs) float32 for a regression task (mean squared error), (B,) int64 class
  indices for a classification task (cross-entropy over a softmax output).

The tasks:

- ``reference``: the reference's own ``DataIterator`` (``free-network-random-walk.txt``): 4 ticks
  of 3 inputs, ``x_t = x_0 + t`` for t = 1..3 and targets ``sigmoid(x0[0] + x0[1])``,
  ``sigmoid(x0[0] + x0[2])``. Its later ticks carry the answer too (each is the first plus a
  constant), so a network can read it from the last tick and needs no memory at all.
- ``memory``: the same targets from the first tick, but ticks 1..T-1 are fresh uniform noise:
  the answer has to be carried through T-1 applications of the weight matrix.
- ``recall``: the classification twin of ``memory``: T symbols out of ``classes``, one-hot
  encoded; the class to output is the first symbol, the rest are noise. Chance scores ln(classes).
- ``adding``: the adding problem (Hochreiter & Schmidhuber 1997; this layout as in Arjovsky et
  al. 2016): 2 inputs per tick, a value uniform in [0, 1) and a marker that is 1 at one tick of
  the first half and one of the second half; the target is the sum of the two marked values.
  Predicting its mean 1 scores Var(U + U') = 1/6 ~ 0.167 MSE. Its targets run from 0 to 2, past
  a tanh output's reach: :func:`rlfree.fit.output_map` reads the free network's outputs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from rlfree.config import ConfigError
from rlfree.seeding import hash_seed

TRAIN_STREAM, TEST_STREAM = 0, 1  # hash_seed's purpose part for training batches and the test set
LENGTHS = {"reference": 4, "memory": 10, "recall": 10, "adding": 50}  # the default sequence length of each task
SIGMOID_TARGETS = (0.0, 1.0)  # reference and memory: sigmoid(x0 + x1), sigmoid(x0 + x2)
ADDING_TARGETS = (0.0, 2.0)  # adding: the sum of two values in [0, 1)


@dataclass(frozen=True)
class SequenceTask:
    """What the network and the loss need to know of a task; ``draw`` makes its batches."""

    name: str
    length: int  # T: ticks per sequence
    n_inputs: int  # I: inputs per tick as the network sees them (after one-hot encoding)
    n_outputs: int
    loss: str  # "mse" or "cross_entropy"
    symbols: int  # > 0: inputs are symbols in [0, symbols), one-hot encoded; 0: real vectors
    # regression: (low, high), where every target lies; the free network's outputs are mapped onto
    # it where their own range falls short (rlfree.fit.output_map). None: classification (a softmax)
    target_range: tuple[float, float] | None
    draw: Callable[[torch.Generator, int, int], tuple[torch.Tensor, torch.Tensor]]  # (generator, B, T) -> batch

    def batch(self, seed: int, step: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The training batch of ``step``: (inputs, targets) of ``size`` sequences (module docstring)."""
        return self.draw(torch.Generator().manual_seed(hash_seed(seed, step, TRAIN_STREAM)), size, self.length)

    def test_set(self, seed: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` held-out sequences, drawn from a stream no training batch uses."""
        return self.draw(torch.Generator().manual_seed(hash_seed(seed, 0, TEST_STREAM)), size, self.length)


def _uniform(generator: torch.Generator, *shape: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, dtype=torch.float64).mul_(high - low).add_(low)


def _first_tick_targets(first: torch.Tensor) -> torch.Tensor:
    """first: (B, 3) -> the reference's targets (B, 2): sigmoid(x0 + x1), sigmoid(x0 + x2)."""
    return torch.sigmoid(torch.stack([first[:, 0] + first[:, 1], first[:, 0] + first[:, 2]], dim=1))


def reference_batch(generator: torch.Generator, size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's DataIterator: inputs (B, T, 3) with tick t = tick 0 + t; targets (B, 2)."""
    data = _uniform(generator, size, length, 3)
    data[:, 1:] = data[:, :1] + torch.arange(1, length, dtype=data.dtype)[None, :, None]
    return data.float(), _first_tick_targets(data[:, 0]).float()


def memory_batch(generator: torch.Generator, size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T, 3) uniform in [-1, 1], only tick 0 informative; the reference's targets (B, 2)."""
    data = _uniform(generator, size, length, 3)
    return data.float(), _first_tick_targets(data[:, 0]).float()


def recall_batch(classes: int) -> Callable[[torch.Generator, int, int], tuple[torch.Tensor, torch.Tensor]]:
    def draw(generator: torch.Generator, size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Symbols (B, T) int64 in [0, classes); the class (B,) is the first symbol."""
        symbols = torch.randint(0, classes, (size, length), generator=generator)
        return symbols, symbols[:, 0].clone()
    return draw


def adding_batch(generator: torch.Generator, size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T, 2): values uniform in [0, 1), markers at one tick of each half; targets (B, 1), the marked sum."""
    values = torch.rand(size, length, generator=generator, dtype=torch.float64)
    half = length // 2
    first = torch.randint(0, half, (size,), generator=generator)
    second = torch.randint(half, length, (size,), generator=generator)
    markers = torch.zeros(size, length, dtype=torch.float64)
    rows = torch.arange(size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=2).float(), target[:, None].float()


TASKS = ("reference", "memory", "recall", "adding")


def make_task(name: str, length: int = 0, classes: int = 4) -> SequenceTask:
    """The task ``name`` at sequence ``length`` (0: the task's default, :data:`LENGTHS`).

    ConfigError for an unknown name or a length the task cannot take (the adding problem needs
    2 ticks or more, one marker in each half; the others 1 or more)."""
    if name not in TASKS:
        raise ConfigError(f"task {name!r} is not accepted; use one of {', '.join(TASKS)}")
    length = length or LENGTHS[name]
    shortest = 2 if name == "adding" else 1
    if length < shortest:
        raise ConfigError(f"length={length} is not accepted for task {name}: use {shortest} or more ticks")
    if name == "recall" and classes < 2:
        raise ConfigError(f"classes={classes} is not accepted: recall needs 2 or more classes")
    if name == "reference":
        return SequenceTask(name, length, 3, 2, "mse", 0, SIGMOID_TARGETS, reference_batch)
    if name == "memory":
        return SequenceTask(name, length, 3, 2, "mse", 0, SIGMOID_TARGETS, memory_batch)
    if name == "recall":
        return SequenceTask(name, length, classes, classes, "cross_entropy", classes, None, recall_batch(classes))
    return SequenceTask(name, length, 2, 1, "mse", 0, ADDING_TARGETS, adding_batch)


def encode(task: SequenceTask, inputs: torch.Tensor) -> torch.Tensor:
    """inputs as drawn -> (B, T, I) float32: symbols one-hot encoded, real vectors as they are."""
    if task.symbols:
        return torch.nn.functional.one_hot(inputs, task.symbols).float()
    return inputs


def mean_prediction_loss(task: SequenceTask, targets: torch.Tensor) -> float:
    """The loss of the best constant answer on ``targets``, the floor any learning must beat:
    for MSE the targets' variance (their mean as the answer), for cross-entropy the entropy of
    the class frequencies."""
    if task.loss == "mse":
        return float(((targets - targets.mean(0)) ** 2).mean())
    p = torch.bincount(targets, minlength=task.n_outputs).double() / len(targets)
    return float(-(p[p > 0] * p[p > 0].log()).sum())
