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


@dataclass(frozen=True)
class NetworkSpec:
    """The shape and options of a free network; everything needed to run a saved ``W``."""

    n_inputs: int  # I: length of the encoded observation
    n_outputs: int  # read as the prefix of the activations
    n_hidden: int = 16  # activations that are not outputs: the recurrent state
    ticks: int = 2  # applications of W per environment step
    activation: str = "tanh"  # f, one of ACTIVATIONS
    softmax_output: bool = False  # the seed's net_add_softmax: softmax over the outputs
    sequence_output: bool = False  # the seed's sequence_output: average the outputs of every tick
    feed_forward: bool = False  # the recurrent block of W held at zero, outside the parameters (module docstring)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation {self.activation!r} is not accepted; use one of {', '.join(ACTIVATIONS)}")
        if self.ticks < 1:
            raise ConfigError(f"ticks={self.ticks} is not accepted: a network needs at least 1 tick per step")
        if self.n_hidden < 0:
            raise ConfigError(f"hidden={self.n_hidden} is not accepted: use 0 or more hidden units")
        if self.n_inputs < 1 or self.n_outputs < 1:
            raise ValueError(f"a network needs inputs and outputs; got {self.n_inputs} inputs, {self.n_outputs} outputs")
        check_feed_forward(self.feed_forward, self.n_hidden, self.ticks)

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
    def n_params(self) -> int:
        """D, the length of a flat parameter vector: the parameter columns of W in row-major
        order, A * K (A * (1 + I) for a feed-forward network)."""
        return self.n_activations * self.n_param_columns

    def initial_std(self, scale: float) -> float:
        """The std of initial weights: scale / sqrt(K), so that a pre-activation's std is about
        ``scale`` whatever the width of the input."""
        return scale / math.sqrt(self.n_columns)

    def initial_params(self, generator: torch.Generator, scale: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A starting centre (D,): normal weights with std ``initial_std(scale)``, drawn on the CPU."""
        return torch.randn(self.n_params, generator=generator, dtype=torch.float64).mul_(self.initial_std(scale)).to(dtype)

    def matrix(self, flat: np.ndarray) -> np.ndarray:
        """flat (D,) -> W (A, K); a feed-forward network's recurrent block is zero."""
        W = np.zeros((self.n_activations, self.n_columns), dtype=flat.dtype)
        W[:, : self.n_param_columns] = flat.reshape(self.n_activations, self.n_param_columns)
        return W

    def flat(self, W: np.ndarray) -> np.ndarray:
        """W (A, K) -> flat (D,): the inverse of :meth:`matrix`. ValueError when a feed-forward
        network's W has a recurrent weight that is not zero (rlfree would ignore it, numpy not)."""
        if self.feed_forward and np.any(W[:, self.n_param_columns :]):
            raise ValueError("W has recurrent weights that are not zero, but the network is feed-forward")
        return np.ascontiguousarray(W[:, : self.n_param_columns]).reshape(-1)

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
        W = params.reshape(self.population, spec.n_activations, spec.n_param_columns)
        split = 1 + spec.n_inputs
        # Row-vector layout: (P, B, K) @ (P, K, A). The transposes are made contiguous once here,
        # not once per step.
        self.bias = W[:, :, 0].unsqueeze(1).contiguous()  # (P, 1, A)
        self.input_weights_t = W[:, :, 1:split].transpose(1, 2).contiguous()  # (P, I, A)
        # (P, A, A); None for a feed-forward network, whose recurrent block is zero
        self.recurrent_weights_t = None if spec.feed_forward else W[:, :, split:].transpose(1, 2).contiguous()
        # weights that autograd follows take the out-of-place functions (DIFFERENTIABLE_ACTIVATIONS)
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
            # feed-forward: one tick (NetworkSpec checks it), so the fresh drive may be activated in place
            a = self.activation(drive if self.recurrent_weights_t is None else torch.baddbmm(drive, a, self.recurrent_weights_t))
            if spec.sequence_output:
                prefix = a[..., : spec.n_outputs]
                output_sum = prefix.clone() if output_sum is None else output_sum + prefix
        outputs = output_sum / spec.ticks if spec.sequence_output else a[..., : spec.n_outputs]
        if spec.softmax_output:
            outputs = torch.softmax(outputs, dim=-1)
        return a, outputs
