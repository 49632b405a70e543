"""Supervised sequence learning with the random walk: the free-network reference's own mode.

Reference: ``seeds/free-network-random-walk.txt`` (nn_rnd_training). "We run the graph for each
datapoint in the batch, and then run it with slightly adjusted weights on the same datapoint.
This adjustment is different for each datapoint in the batch. Then we calculate the change in
the loss, and multiply the negative change with the adjustment [...], then update the weights
using the averages of these multiplied adjustments across the batch." Its settings: batch_size
1000, test_stddev 0.01; the text names no learning rate, so the step is the average itself (lr 1).

The network is rlfree's :class:`rlfree.network.FreeNetwork`, fed one input vector per tick of a
sequence (the reference's ``sequence_input``; ``ticks`` applications of W per input, 1 by
default, as the reference's ``timesteps`` iterations over a sequence of ``timesteps`` inputs),
the output read after the last tick or after every tick (``sequence_output``), through a softmax
for classification. For regression the outputs are mapped affinely onto the task's target range
where the activation's own range does not cover it (:func:`output_map`: tanh's (-1, 1) onto the
adding problem's [0, 2]), in :func:`sequence_outputs`, the one forward pass that both walks and
``bptt_free`` run. A population of P weight vectors runs B sequences each, every tick one
batched matmul, the same path as the RL evaluator's. Two walks move the weights, both from
:mod:`rlfree.walk`:

- :class:`ReferenceWalkFit` (method ``walk_reference``): :class:`rlfree.walk.FaithfulRandomWalk`
  with one datapoint per perturbation: row 0 (the centre) runs all B datapoints, member i runs
  datapoint i alone, and the walk's per-datapoint baseline makes its step
  ``lr * mean_i(-(L_i(w + sigma eps_i) - L_i(w)) * sigma eps_i)``, the reference exactly.
- :class:`SmartWalkFit` (method ``walk_smart``): :class:`rlfree.walk.SmartRandomWalk` on the same
  footing: the same B datapoints per step and the same 2B forward passes of one sequence, as B
  mirrored pairs, pair i judged on datapoint i (the centre's loss cancels within a pair),
  z-scored losses and Adam.

Any method (these two, :mod:`rlfree.backprop_baselines`) is a :class:`Learner`; :func:`train`
runs one for a budget of seconds, timing training only, and records its curve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from rlfree.config import ConfigError, WalkConfig, _f
from rlfree.network import ACTIVATIONS, OUTPUT_RANGES, FreeNetwork, NetworkSpec
from rlfree.seeding import weights_generator
from rlfree.sequence_tasks import SequenceTask, encode
from rlfree.walk import FaithfulRandomWalk, SmartRandomWalk


@dataclass(frozen=True)
class FitConfig:
    """Every knob of ``rlfree fit``; each field is a flag of the same name (``--walk-batch``)."""

    hidden: int = _f(30, "hidden activations of the free network (the reference's num_hidden)")
    ticks: int = _f(1, "applications of W per input tick of a sequence")
    activation: str = _f("tanh", "the nonlinearity f of a = f(W x)")
    sequence_output: bool = _f(False, "read an output after every tick and score each against the target (the reference's sequence_output); else the last output")
    init_scale: float = _f(0.5, "std of the initial weights, divided by sqrt(1 + inputs + activations)")
    walk_batch: int = _f(1000, "walks: datapoints per step, one perturbation each (the reference's batch_size)")
    walk_sigma: float = _f(0.01, "walks: std of the weight perturbations (the reference's test_stddev)")
    reference_lr: float = _f(1.0, "walk_reference: multiplier of the averaged step (the reference has none: 1)")
    smart_lr: float = _f(0.003, "walk_smart: Adam's step size on the z-scored estimate")
    bptt_batch: int = _f(100, "backprop methods: sequences per Adam step")
    bptt_lr: float = _f(0.003, "backprop methods: Adam's step size")
    test_size: int = _f(1000, "held-out test sequences")

    def __post_init__(self):
        checks = [
            (self.hidden >= 0, f"hidden={self.hidden} is not accepted: use 0 or more"),
            (self.ticks >= 1, f"ticks={self.ticks} is not accepted: use 1 or more"),
            (self.activation in ACTIVATIONS, f"activation {self.activation!r} is not accepted; use one of {', '.join(ACTIVATIONS)}"),
            (self.walk_batch >= 1, f"walk_batch={self.walk_batch} is not accepted: use 1 or more"),
            (self.walk_sigma > 0, f"walk_sigma={self.walk_sigma:g} is not accepted: use a number above 0"),
            (self.bptt_batch >= 1, f"bptt_batch={self.bptt_batch} is not accepted: use 1 or more"),
            (self.test_size >= 1, f"test_size={self.test_size} is not accepted: use 1 or more"),
            (self.init_scale >= 0, f"init_scale={self.init_scale:g} is not accepted: use 0 or more"),
        ]
        for lr in ("reference_lr", "smart_lr", "bptt_lr"):
            checks.append((getattr(self, lr) > 0, f"{lr}={getattr(self, lr):g} is not accepted: use a number above 0"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


def network_spec(task: SequenceTask, config: FitConfig) -> NetworkSpec:
    """The free network for ``task``: a softmax output exactly when the loss is cross-entropy."""
    return NetworkSpec(task.n_inputs, task.n_outputs, n_hidden=config.hidden, ticks=config.ticks, activation=config.activation,
                       softmax_output=task.loss == "cross_entropy")


@dataclass(frozen=True)
class OutputMap:
    """How a regression task reads the free network's output activations: ``scale * out + shift``."""

    scale: float = 1.0
    shift: float = 0.0

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.shift == 0.0

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        """Out of place: under autograd (``bptt_free``) the outputs are still needed."""
        return outputs if self.identity else outputs * self.scale + self.shift


def output_map(task: SequenceTask, spec: NetworkSpec) -> OutputMap:
    """The bounded activation's range (:data:`rlfree.network.OUTPUT_RANGES`) onto the task's
    ``target_range``, as a Box action maps it onto its bounds (:mod:`rlfree.spaces`, "linear").

    The identity where the outputs can already reach every target: a softmax, an unbounded
    activation, or a range that covers the targets. That rule maps tanh's (-1, 1) onto the adding
    problem's [0, 2] (otherwise out of reach above 1: the free network could not beat predicting
    the mean while torch's cells, with linear read-outs, could) and leaves the sigmoid targets in
    (0, 1) of ``reference`` and ``memory`` as the reference reads them: its network's tanh outputs
    are scored as they are, and ``walk_reference`` on its data stays its update exactly.
    """
    output_range = OUTPUT_RANGES.get(spec.activation)
    if task.target_range is None or spec.softmax_output or output_range is None:
        return OutputMap()
    (low, high), (target_low, target_high) = output_range, task.target_range
    if low <= target_low and target_high <= high:
        return OutputMap()
    scale = (target_high - target_low) / (high - low)
    return OutputMap(scale, target_low - low * scale)


def sequence_outputs(task: SequenceTask, spec: NetworkSpec, params: torch.Tensor, inputs: torch.Tensor,
                     sequence_output: bool) -> torch.Tensor:
    """Run P free networks over B sequences each, the outputs as ``task`` reads them (:func:`output_map`).

    params: (P, D); inputs: (P, B, T, I) or (1, B, T, I), the same sequences for every member.
    Returns (P, B, n_outputs) after the last tick, or (P, B, T, n_outputs) after every tick.
    """
    network = FreeNetwork(spec, params)
    inputs = inputs.to(params.device, params.dtype)
    population, batch, length = params.shape[0], inputs.shape[1], inputs.shape[2]
    activations = network.initial_activations(batch)
    outputs = []
    for t in range(length):
        activations, output = network.step(inputs[:, :, t].expand(population, batch, spec.n_inputs), activations)
        if sequence_output:
            outputs.append(output)
    return output_map(task, spec)(torch.stack(outputs, dim=2) if sequence_output else output)


def datapoint_losses(loss: str, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The loss of each member on each datapoint, (P, B).

    outputs: (P, B, O) or (P, B, T, O) (every tick scored against the one target);
    targets: (P or 1, B, O) float for "mse" (the mean over outputs and ticks), (P or 1, B) int64
    classes for "cross_entropy" (outputs are softmax probabilities; -log p of the class, averaged
    over ticks).
    """
    per_tick = outputs.ndim == 4
    if loss == "mse":
        error = outputs - (targets[:, :, None] if per_tick else targets)
        return error.square().flatten(2).mean(dim=2)
    if loss != "cross_entropy":
        raise ValueError(f"loss {loss!r} is not accepted; use mse or cross_entropy")
    index = targets.expand(outputs.shape[0], outputs.shape[1])
    index = (index[:, :, None].expand(-1, -1, outputs.shape[2]) if per_tick else index)[..., None]
    probability = outputs.gather(-1, index.to(outputs.device)).squeeze(-1)
    # clamped: a saturated softmax gives an exact 0, whose log would make one datapoint infinite
    log_p = probability.clamp_min(torch.finfo(outputs.dtype).tiny).log()
    return -(log_p.mean(dim=2) if per_tick else log_p)


def batch_losses(task: SequenceTask, spec: NetworkSpec, params: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor,
                 sequence_output: bool) -> torch.Tensor:
    """params (P, D) on inputs (P or 1, B, T, ...) as drawn and targets (P or 1, B, ...) -> losses (P, B)."""
    encoded = encode(task, inputs)
    return datapoint_losses(task.loss, sequence_outputs(task, spec, params, encoded, sequence_output), targets)


class Learner(Protocol):
    """One method fitting one task: a training step at a time, and the test loss of where it stands."""

    name: str
    n_params: int

    def step(self, index: int) -> dict[str, float]:
        """Train on batch ``index``; returns at least ``train_loss`` (backprop methods add
        ``grad_norm`` and ``first_input_grad``, :mod:`rlfree.backprop_baselines`)."""

    def test_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """The mean loss on held-out inputs (B, T, ...) and targets (B, ...), as drawn."""


class WalkFit:
    """What both walks share: the task, the network, the starting centre, the test loss."""

    name = "walk"

    def __init__(self, task: SequenceTask, config: FitConfig, seed: int, device: str | torch.device = "cpu"):
        self.task, self.config, self.seed = task, config, seed
        self.device = torch.device(device)
        self.spec = network_spec(task, config)
        self.n_params = self.spec.n_params
        self.centre = self.spec.initial_params(weights_generator(seed), config.init_scale).to(self.device)

    def losses(self, params: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(P, D), inputs (P or 1, B, ...), targets (P or 1, B, ...) -> (P, B) on this learner's device."""
        return batch_losses(self.task, self.spec, params, inputs.to(self.device), targets.to(self.device), self.config.sequence_output)

    def test_loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(self.losses(self.walk.centre[None], inputs[None], targets[None]).mean())

    def train_batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task.batch(self.seed, index, self.config.walk_batch)


class ReferenceWalkFit(WalkFit):
    """The reference's update, exactly (module docstring)."""

    name = "walk_reference"

    def __init__(self, task: SequenceTask, config: FitConfig, seed: int, device: str | torch.device = "cpu"):
        super().__init__(task, config, seed, device)
        walk = WalkConfig(population=config.walk_batch, sigma=config.walk_sigma, lr=config.reference_lr, variant="seed")
        self.walk = FaithfulRandomWalk(self.centre, walk, seed)

    def step(self, index: int) -> dict[str, float]:
        inputs, targets = self.train_batch(index)
        rows = self.walk.ask()  # (1 + B, D): the centre, then one perturbation per datapoint
        centre = self.losses(rows[:1], inputs[None], targets[None])[0]  # (B,) the centre on every datapoint
        members = self.losses(rows[1:], inputs[:, None], targets[:, None])[:, 0]  # (B,) member i on datapoint i
        returns = torch.cat([-centre.mean()[None], -members])[:, None]
        self.walk.tell(returns, baseline=-centre)
        return {"train_loss": float(centre.mean())}


class SmartWalkFit(WalkFit):
    """Mirrored pairs, z-scored losses and Adam, one datapoint per pair (module docstring)."""

    name = "walk_smart"

    def __init__(self, task: SequenceTask, config: FitConfig, seed: int, device: str | torch.device = "cpu"):
        super().__init__(task, config, seed, device)
        walk = WalkConfig(population=2 * config.walk_batch, sigma=config.walk_sigma, lr=config.smart_lr, variant="smart",
                          mirrored=True, shaping="zscore", optimizer="adam")
        self.walk = SmartRandomWalk(self.centre, walk, seed)

    def step(self, index: int) -> dict[str, float]:
        inputs, targets = self.train_batch(index)
        rows = self.walk.ask()  # (2B, D): centre + sigma eps_i, then centre - sigma eps_i
        both = torch.cat([inputs, inputs])[:, None], torch.cat([targets, targets])[:, None]
        losses = self.losses(rows, *both)  # (2B, 1): each member on its pair's datapoint
        self.walk.tell(-losses)
        # the members' mean: within sigma of the centre's loss, which this step never computes
        return {"train_loss": float(losses.mean())}


@dataclass
class Curve:
    """A learner's record over one run: one row per test evaluation."""

    method: str
    seconds: list[float] = field(default_factory=list)  # training seconds so far on the run's clock (tests excluded)
    wall_seconds: list[float] = field(default_factory=list)  # the same on the wall clock, whatever the run's clock
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # the last step's training loss
    test_loss: list[float] = field(default_factory=list)
    extras: dict[str, list[float]] = field(default_factory=dict)  # grad_norm, first_input_grad, ...: the last step's


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def train(learner: Learner, test_set: tuple[torch.Tensor, torch.Tensor], seconds: float, evaluations: int = 20,
          max_steps: int = 0, on_point: Callable[[Curve], None] | None = None, clock: str = "wall") -> Curve:
    """Step ``learner`` until ``seconds`` of training (or ``max_steps`` steps, when above 0) have
    passed, testing it at the start and after each ``seconds / evaluations`` of training.

    Only the steps are timed: the test evaluations stand outside the clock, so every method is
    charged for its training alone. ``clock``: "wall", or "cpu", this process's CPU time, which on
    cores shared with other jobs charges a run for the time it computed and not for the time it
    waited (with one torch thread it is the wall clock of an idle core). ``on_point`` sees the
    curve after each new point.
    """
    curve = Curve(learner.name)
    interval = seconds / evaluations
    elapsed, wall, index, figures = 0.0, 0.0, 0, {}
    now = CLOCKS[clock]

    def record():
        curve.seconds.append(elapsed)
        curve.wall_seconds.append(wall)
        curve.steps.append(index)
        curve.train_loss.append(figures.get("train_loss", float("nan")))
        curve.test_loss.append(learner.test_loss(*test_set))
        for name, value in figures.items():
            if name != "train_loss":  # NaN at the points before the first step
                curve.extras.setdefault(name, [float("nan")] * (len(curve.seconds) - 1)).append(value)
        if on_point is not None:
            on_point(curve)

    record()
    next_test = interval
    while elapsed < seconds and not (max_steps and index >= max_steps):
        start, wall_start = now(), time.perf_counter()
        figures = learner.step(index)
        elapsed += now() - start
        wall += time.perf_counter() - wall_start
        index += 1
        if elapsed >= next_test or elapsed >= seconds or index == max_steps:
            record()
            next_test = (int(elapsed / interval) + 1) * interval
    return curve
