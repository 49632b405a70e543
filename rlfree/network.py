"""The free network: one fully connected layer applied ``ticks`` times per environment step.

Following the seed (``free-network-random-walk.txt``): ``A = n_outputs + n_hidden``
activations, an input vector ``x = [1, obs, a_prev]`` of length ``K = 1 + I + A`` and one
weight matrix ``W`` of shape ``(A, K)``::

    a <- f(W [1, obs, a])      repeated `ticks` times per environment step

The output is the prefix ``a[:n_outputs]``; the rest is hidden state. Activations carry over
from step to step (a recurrent controller) and start at 0 when an episode starts.

A population is a tensor ``(P, A, K)``. One tick for every member and every episode is a single
batched matmul; the bias-and-observation part ``W[:, :, :1+I] [1, obs]`` does not change between
the ticks of one step, so it is computed once per step and only the recurrent part is repeated.

**Feed-forward** (``feed_forward``): the recurrent block ``W[:, 1+I:]`` is held at zero and is no
parameter at all: a flat parameter vector is then ``W[:, :1+I]`` alone (``D = A (1 + I)``), so
that the walk neither perturbs nor steps it and its perturbation norms are those of the weights
that act. With no hidden units and one tick, ``a = f(W[:, :1+I] [1, obs])`` is ARS's linear
policy (Mania et al. 2018) plus a bias column. Hidden units would have no path to the outputs
without the recurrent block, and a second tick would repeat the first exactly, so a
feed-forward network takes ``n_hidden = 0`` and ``ticks = 1``. :meth:`NetworkSpec.matrix` and
:meth:`NetworkSpec.flat` map between the flat vector and the full ``W`` that a checkpoint saves
(its recurrent block zero), so that a saved agent runs the same with or without rlfree.

**Per-neuron activations** (``activation = "per_neuron"``, what ``--algo wann`` searches; the
weight-agnostic networks reference, ``seeds/weight-agnostic-networks.txt``): every neuron has
its own f, one of :data:`NEURON_ACTIVATIONS` (the reference's ten, with its definitions), and
which weights exist is a 0/1 mask over W, carried as W's zeros. A flat parameter vector is then
``[W row-major (A K), code of each neuron's activation (A)]``, ``D = A K + A``: the codes are
indices into :data:`NEURON_ACTIVATIONS`, so that members with different activations still run
in one batched step (each neuron of each member picks its own f, :class:`NeuronActivations`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rlfree.config import ConfigError

FAST_TANH_MIN_ELEMENTS = 16384


def tanh_(z: torch.Tensor) -> torch.Tensor:
    """tanh in place (z is a fresh pre-activation tensor).

    Large float32 batches on the CPU take ``2 * sigmoid(2 z) - 1`` (within 2e-7 of tanh):
    torch's CPU tanh kernel measured about twice as slow as its sigmoid at 300k elements,
    while below ~16k elements the single tanh kernel wins over four in-place passes.
    """
    if z.dtype == torch.float32 and z.device.type == "cpu" and z.numel() >= FAST_TANH_MIN_ELEMENTS:
        return z.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
    return z.tanh_()


# Each takes a fresh pre-activation tensor and may work in place.
ACTIVATIONS = {
    "tanh": tanh_,
    "relu": torch.relu_,
    "sigmoid": torch.sigmoid_,
    "identity": lambda z: z,
    "softsign": torch.nn.functional.softsign,
    "elu": torch.nn.functional.elu,
}

# The range of each bounded activation (and of a softmax output). A Box action maps it linearly
# onto the bounds (rlfree.policy), a regression target range likewise (rlfree.fit.output_map);
# unbounded activations are squashed by tanh for a Box action instead.
OUTPUT_RANGES = {"tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0)}

# The same functions without writing into their argument: autograd (rlfree.backprop_baselines'
# backpropagation through time) needs the pre-activations that the in-place ones overwrite.
DIFFERENTIABLE_ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda z: z,
    "softsign": torch.nn.functional.softsign,
    "elu": torch.nn.functional.elu,
}


# The weight-agnostic networks reference's activations (prettyNEAT's applyAct), in its order; a
# per-neuron network's codes index this list. Each leaves its argument unchanged.
NEURON_ACTIVATIONS = {
    "linear": lambda z: z,
    "step": lambda z: (z > 0).to(z.dtype),  # the reference's unsigned step
    "sin": lambda z: torch.sin(torch.pi * z),
    "gaussian": lambda z: torch.exp(-0.5 * z * z),
    "tanh": torch.tanh,
    "sigmoid": lambda z: (torch.tanh(0.5 * z) + 1.0) * 0.5,
    "inverse": torch.neg,
    "abs": torch.abs,
    "relu": torch.relu,
    "cos": lambda z: torch.cos(torch.pi * z),
}
PER_NEURON = "per_neuron"  # NetworkSpec.activation for a network whose every neuron has its own f


class _NetworkActivations:
    """What [network] activation accepts: ACTIVATIONS as they are now (a registry one may add to), then per_neuron."""

    def __iter__(self):
        return iter([*ACTIVATIONS, PER_NEURON])

    def __contains__(self, name) -> bool:
        return name in ACTIVATIONS or name == PER_NEURON


NETWORK_ACTIVATIONS = _NetworkActivations()


def neuron_codes(names) -> list[int]:
    """Activation names -> their codes (indices into NEURON_ACTIVATIONS); ValueError naming an unknown one."""
    codes = []
    for name in names:
        if name not in NEURON_ACTIVATIONS:
            raise ValueError(f"neuron activation {name!r} is not accepted; use one of {', '.join(NEURON_ACTIVATIONS)}")
        codes.append(list(NEURON_ACTIVATIONS).index(name))
    return codes


def neuron_names(codes) -> list[str]:
    """Codes -> activation names: the inverse of :func:`neuron_codes`."""
    names = list(NEURON_ACTIVATIONS)
    return [names[int(round(float(code)))] for code in codes]


class NeuronActivations:
    """Each neuron of each member its own f. codes: (P, A) int64 indices into NEURON_ACTIVATIONS.

    Called on pre-activations (P, B, A); one pass per activation kind present, each selecting its
    neurons with ``torch.where``, so a population of mixed genomes still steps as one tensor.
    """

    def __init__(self, codes: torch.Tensor):
        functions = list(NEURON_ACTIVATIONS.values())
        present = torch.unique(codes).tolist()
        if present and (present[0] < 0 or present[-1] >= len(functions)):
            raise ValueError(f"activation codes {present} are not accepted: use 0 to {len(functions) - 1}")
        self.kinds = [(functions[k], (codes == k).unsqueeze(1)) for k in present]  # (f, (P, 1, A) bool)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.kinds) == 1:
            return self.kinds[0][0](z)
        out = torch.zeros_like(z)
        for f, where in self.kinds:
            out = torch.where(where, f(z), out)
        return out


@dataclass(frozen=True)
class NetworkSpec:
    """The shape and options of a free network; everything needed to run a saved ``W``."""

    n_inputs: int  # I: length of the encoded observation
    n_outputs: int  # read as the prefix of the activations
    n_hidden: int = 16  # activations that are not outputs: the recurrent state
    ticks: int = 2  # applications of W per environment step
    activation: str = "tanh"  # f, one of ACTIVATIONS, or per_neuron (module docstring)
    softmax_output: bool = False  # the seed's net_add_softmax: softmax over the outputs
    sequence_output: bool = False  # the seed's sequence_output: average the outputs of every tick
    feed_forward: bool = False  # the recurrent block of W held at zero, outside the parameters (module docstring)

    def __post_init__(self):
        if self.activation not in NETWORK_ACTIVATIONS:
            raise ConfigError(f"activation {self.activation!r} is not accepted; use one of {', '.join(NETWORK_ACTIVATIONS)}")
        if self.per_neuron and self.feed_forward:
            raise ConfigError("activation per_neuron is not accepted with feed_forward: a per-neuron network's mask says which weights exist")
        if self.ticks < 1:
            raise ConfigError(f"ticks={self.ticks} is not accepted: a network needs at least 1 tick per step")
        if self.n_hidden < 0:
            raise ConfigError(f"hidden={self.n_hidden} is not accepted: use 0 or more hidden units")
        if self.n_inputs < 1 or self.n_outputs < 1:
            raise ValueError(f"a network needs inputs and outputs; got {self.n_inputs} inputs, {self.n_outputs} outputs")
        check_feed_forward(self.feed_forward, self.n_hidden, self.ticks)

    @property
    def per_neuron(self) -> bool:
        """Whether every neuron has its own activation, coded in the flat vector's tail."""
        return self.activation == PER_NEURON

    @property
    def n_activations(self) -> int:
        """A = n_outputs + n_hidden."""
        return self.n_outputs + self.n_hidden

    @property
    def n_columns(self) -> int:
        """K = 1 + I + A: bias, observation, previous activations."""
        return 1 + self.n_inputs + self.n_activations

    @property
    def n_param_columns(self) -> int:
        """The columns of W that are parameters: K, or 1 + I for a feed-forward network."""
        return 1 + self.n_inputs if self.feed_forward else self.n_columns

    @property
    def n_weights(self) -> int:
        """The weights in a flat parameter vector: the parameter columns of W in row-major
        order, A * K (A * (1 + I) for a feed-forward network)."""
        return self.n_activations * self.n_param_columns

    @property
    def n_params(self) -> int:
        """D, the length of a flat parameter vector: the weights, and for a per-neuron network
        each neuron's activation code after them (A * K + A)."""
        return self.n_weights + (self.n_activations if self.per_neuron else 0)

    def initial_std(self, scale: float) -> float:
        """The std of initial weights: scale / sqrt(K), so that a pre-activation's std is about
        ``scale`` whatever the width of the input."""
        return scale / math.sqrt(self.n_columns)

    def initial_params(self, generator: torch.Generator, scale: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A starting centre (D,): normal weights with std ``initial_std(scale)``, drawn on the CPU."""
        return torch.randn(self.n_params, generator=generator, dtype=torch.float64).mul_(self.initial_std(scale)).to(dtype)

    def matrix(self, flat: np.ndarray) -> np.ndarray:
        """flat (D,) -> W (A, K); a feed-forward network's recurrent block is zero (a per-neuron
        network's codes are not part of W: :meth:`neurons` reads them)."""
        W = np.zeros((self.n_activations, self.n_columns), dtype=flat.dtype)
        W[:, : self.n_param_columns] = flat[: self.n_weights].reshape(self.n_activations, self.n_param_columns)
        return W

    def neurons(self, flat: np.ndarray) -> list[str]:
        """flat (D,) of a per-neuron network -> each neuron's activation name (A,)."""
        if not self.per_neuron:
            return [self.activation] * self.n_activations
        return neuron_names(flat[self.n_weights :])

    def flat(self, W: np.ndarray, neurons: list[str] | None = None) -> np.ndarray:
        """W (A, K) (and for a per-neuron network each neuron's activation name) -> flat (D,): the
        inverse of :meth:`matrix`. ValueError when a feed-forward network's W has a recurrent
        weight that is not zero (rlfree would ignore it, numpy not), or a per-neuron network's
        names are missing, of the wrong count or unknown."""
        if self.feed_forward and np.any(W[:, self.n_param_columns :]):
            raise ValueError("W has recurrent weights that are not zero, but the network is feed-forward")
        weights = np.ascontiguousarray(W[:, : self.n_param_columns]).reshape(-1)
        if not self.per_neuron:
            return weights
        if neurons is None or len(neurons) != self.n_activations:
            raise ValueError(f"a per-neuron network needs an activation for each of its {self.n_activations} neurons; got {neurons!r}")
        return np.concatenate([weights, np.asarray(neuron_codes(neurons), dtype=weights.dtype)])

    def to_json(self) -> dict:
        data = asdict(self)
        if not self.feed_forward:  # left out, so that an older rlfree still reads a recurrent network's spec
            del data["feed_forward"]
        return data


def check_feed_forward(feed_forward: bool, hidden: int, ticks: int) -> None:
    """ConfigError for a feed-forward network with hidden units or more than one tick (module docstring)."""
    if feed_forward and hidden:
        raise ConfigError(f"hidden={hidden} is not accepted with feed_forward: without the recurrent block hidden units never reach the outputs; use --hidden 0")
    if feed_forward and ticks != 1:
        raise ConfigError(f"ticks={ticks} is not accepted with feed_forward: without the recurrent block every tick repeats the first; use --ticks 1")


class FreeNetwork:
    """A population's weights made ready for stepping.

    params: (P, D) with D = spec.n_params, each row a row-major flattened ``W`` (A, K), or its
    parameter columns (A, 1 + I) for a feed-forward network.
    """

    def __init__(self, spec: NetworkSpec, params: torch.Tensor):
        if params.ndim != 2 or params.shape[1] != spec.n_params:
            raise ValueError(f"params of shape {tuple(params.shape)} do not fit the network; expected (P, {spec.n_params})")
        self.spec = spec
        self.population = params.shape[0]
        W = params[:, : spec.n_weights].reshape(self.population, spec.n_activations, spec.n_param_columns)
        split = 1 + spec.n_inputs
        # Row-vector layout: (P, B, K) @ (P, K, A). The transposes are made contiguous once here,
        # not once per step.
        self.bias = W[:, :, 0].unsqueeze(1).contiguous()  # (P, 1, A)
        self.input_weights_t = W[:, :, 1:split].transpose(1, 2).contiguous()  # (P, I, A)
        # (P, A, A); None for a feed-forward network, whose recurrent block is zero
        self.recurrent_weights_t = None if spec.feed_forward else W[:, :, split:].transpose(1, 2).contiguous()
        if spec.per_neuron:
            self.activation = NeuronActivations(params[:, spec.n_weights :].round().to(torch.int64))
        else:  # weights that autograd follows take the out-of-place functions (DIFFERENTIABLE_ACTIVATIONS)
            self.activation = (DIFFERENTIABLE_ACTIVATIONS if params.requires_grad else ACTIVATIONS)[spec.activation]

    def initial_activations(self, batch: int) -> torch.Tensor:
        """Zeros (P, B, A): every episode starts with a blank recurrent state."""
        return self.bias.new_zeros(self.population, batch, self.spec.n_activations)

    def step(self, inputs: torch.Tensor, activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One environment step.

        inputs: (P, B, I) encoded observations; activations: (P, B, A) from the previous step.
        Returns (activations (P, B, A), outputs (P, B, n_outputs)).
        """
        spec = self.spec
        drive = torch.baddbmm(self.bias, inputs, self.input_weights_t)  # (P, B, A), fixed over ticks
        a = activations
        output_sum = None
        for _ in range(spec.ticks):
            # feed-forward: one tick (NetworkSpec checks it), so the fresh drive may be activated in
            # place (a per-neuron network is never feed-forward, and its activations copy)
            a = self.activation(drive if self.recurrent_weights_t is None else torch.baddbmm(drive, a, self.recurrent_weights_t))
            if spec.sequence_output:
                prefix = a[..., : spec.n_outputs]
                output_sum = prefix.clone() if output_sum is None else output_sum + prefix
        outputs = output_sum / spec.ticks if spec.sequence_output else a[..., : spec.n_outputs]
        if spec.softmax_output:
            outputs = torch.softmax(outputs, dim=-1)
        return a, outputs
