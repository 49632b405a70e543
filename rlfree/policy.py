"""A free network wired to a task's spaces: observation -> inputs -> network -> action.

:class:`Policy` is what a checkpoint stores besides the weights: the network's shape, how
observations are encoded, how outputs become actions and the ``gym.make`` arguments of the env
it was trained on, all as JSON (``to_json``), so that a saved ``W`` can be run by anyone, in a
few lines of numpy, without rlfree, on the same env.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch

from rlfree.checkpoint import CheckpointError
from rlfree.config import ConfigError, NetworkConfig
from rlfree.network import OUTPUT_RANGES, PER_NEURON, FreeNetwork, NetworkSpec
from rlfree.obs_norm import Normalizer
from rlfree.spaces import ActionDecoder, ObservationEncoder

POLICY_FORMAT = "rlfree-free-network"
# 2: a Box action says its box_mapping (1: always tanh). 3: env_kwargs, the gym.make arguments
# (before: none), so that an older rlfree refuses an agent it would replay on another env.
# 4: the clip box mapping, feed_forward networks, observation normalization. An agent that uses nothing of version 4 is still written as version 3,
# which an older rlfree plays exactly as this one does. 5: per-neuron activations and a mask (--algo wann).
POLICY_VERSION = 5


def box_mapping(action_mapping: str, action_space: gym.Space, output_range: tuple[float, float] | None, outputs: str) -> str:
    """The ActionDecoder's box_mapping for ``--action-mapping`` (rlfree.spaces.ACTION_MAPPINGS).

    auto: linear for outputs with a range (``output_range``), tanh for unbounded ones. Any other
    choice is the user's, and a ConfigError where it cannot apply: not a Box action, or linear
    for unbounded ``outputs`` (an activation's name, or "softmax").
    """
    if action_mapping == "auto":
        if outputs == PER_NEURON:
            return "clip" if isinstance(action_space, gym.spaces.Box) else "linear"  # the weight-agnostic reference clips its outputs
        return "tanh" if output_range is None else "linear"
    if not isinstance(action_space, gym.spaces.Box):
        raise ConfigError(f"action_mapping {action_mapping!r} applies to Box actions; the action space is {action_space}: leave action_mapping auto")
    if action_mapping == "linear" and output_range is None:
        raise ConfigError(f"action_mapping 'linear' needs bounded outputs (activation tanh, softsign, sigmoid, or softmax_output); "
                          f"{outputs} is unbounded: use clip or tanh")
    return action_mapping


def saved_env_kwargs(data: dict) -> dict:
    """The ``gym.make`` arguments a ``to_json()`` dict records ({} for agents saved before version 3)."""
    env_kwargs = data.get("env_kwargs", {})
    if not isinstance(env_kwargs, dict):
        raise CheckpointError(f"network config has env_kwargs {env_kwargs!r}; expected an object of gym.make arguments")
    return dict(env_kwargs)


def check_normalizable(encoder: ObservationEncoder) -> None:
    """ConfigError unless the observations are encoded flat (a Box): one-hot inputs are not normalised (rlfree.obs_norm)."""
    if encoder.encoding != "flat":
        raise ConfigError(
            f"normalize_obs is not accepted for {encoder.space} encoded {encoder.encoding!r}: its inputs are one-hot 0s and 1s "
            "already, and scaling them by how often each was seen would make rare states huge inputs; leave normalize_obs off"
        )


@dataclass
class Policy:
    """Everything about an agent except its weights."""

    env_id: str
    spec: NetworkSpec
    encoder: ObservationEncoder
    decoder: ActionDecoder
    env_kwargs: dict = field(default_factory=dict)  # gym.make(env_id, **env_kwargs) is the env it acts in
    normalizer: Normalizer | None = None  # --normalize-obs: the inputs are (obs - mean) / std (rlfree.obs_norm)

    @classmethod
    def for_spaces(
        cls,
        env_id: str,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        hidden: int,
        ticks: int,
        activation: str,
        obs_encoding: str = "auto",
        softmax_output: bool = False,
        sequence_output: bool = False,
        env_kwargs: dict | None = None,
        action_mapping: str = "auto",
        feed_forward: bool = False,
        normalize_obs: bool = False,
    ) -> "Policy":
        """normalize_obs: start with the identity Normalizer (mean 0, std 1), for the trainer to update."""
        encoder = ObservationEncoder(observation_space, obs_encoding)
        if normalize_obs:
            check_normalizable(encoder)
        outputs = "softmax" if softmax_output else activation
        output_range = OUTPUT_RANGES.get(outputs)
        decoder = ActionDecoder(action_space, box_mapping(action_mapping, action_space, output_range, outputs), output_range or (-1.0, 1.0))
        spec = NetworkSpec(
            n_inputs=encoder.size,
            n_outputs=decoder.n_outputs,
            n_hidden=hidden,
            ticks=ticks,
            activation=activation,
            softmax_output=softmax_output,
            sequence_output=sequence_output,
            feed_forward=feed_forward,
        )
        normalizer = Normalizer.identity(encoder.size) if normalize_obs else None
        return cls(env_id, spec, encoder, decoder, dict(env_kwargs or {}), normalizer)

    @classmethod
    def from_config(
        cls, env_id: str, observation_space: gym.Space, action_space: gym.Space, network: NetworkConfig, env_kwargs: dict | None = None
    ) -> "Policy":
        """The policy a run's ``[network]`` settings describe (``init_scale`` is the walk's to use);
        env_kwargs: the run's ``[env] env_kwargs``, recorded for replaying the same env."""
        return cls.for_spaces(
            env_id,
            observation_space,
            action_space,
            hidden=network.hidden,
            ticks=network.ticks,
            activation=network.activation,
            obs_encoding=network.obs_encoding,
            softmax_output=network.softmax_output,
            sequence_output=network.sequence_output,
            env_kwargs=env_kwargs,
            action_mapping=network.action_mapping,
            feed_forward=network.feed_forward,
            normalize_obs=network.normalize_obs,
        )

    @classmethod
    def from_json(cls, data: dict, observation_space: gym.Space, action_space: gym.Space) -> "Policy":
        if data.get("format") != POLICY_FORMAT:
            raise CheckpointError(f"network config has format {data.get('format')!r}; expected {POLICY_FORMAT!r}")
        if not isinstance(data.get("version"), int) or not 1 <= data["version"] <= POLICY_VERSION:
            raise CheckpointError(f"network config has version {data.get('version')!r}; this rlfree reads versions 1 to {POLICY_VERSION}")
        try:  # a hand-edited or damaged file: one line naming what is wrong, not a traceback
            encoder = ObservationEncoder(observation_space, data["observation"]["encoding"])
            action = data["action"]
            # agents saved before box_mapping existed squashed every Box output with tanh
            decoder = ActionDecoder(action_space, action.get("box_mapping", "tanh"), tuple(action.get("output_range", (-1.0, 1.0))))
            spec = NetworkSpec(**data["network"])
            normalizer = None
            if "normalization" in data["observation"]:
                check_normalizable(encoder)
                normalizer = Normalizer.from_json(data["observation"]["normalization"], encoder.size)
        except (KeyError, TypeError, ValueError) as err:
            detail = f"no {err}" if isinstance(err, KeyError) else str(err)
            raise CheckpointError(f"network config of {data.get('env_id')!r} cannot be used: {detail}") from None
        if spec.n_inputs != encoder.size or spec.n_outputs != decoder.n_outputs:
            raise CheckpointError(
                f"the saved network takes {spec.n_inputs} inputs and gives {spec.n_outputs} outputs, but "
                f"{data['env_id']} needs {encoder.size} and {decoder.n_outputs}"
            )
        return cls(data["env_id"], spec, encoder, decoder, saved_env_kwargs(data), normalizer)

    def to_json(self, centre: np.ndarray | None = None) -> dict:
        """The network.json of this policy; a per-neuron network's also says, from its flat
        ``centre`` (D,), each neuron's activation (``neurons``, A) and which weights exist
        (``mask``, A x K of 0/1: W's non-zero entries)."""
        neurons = {}
        if self.spec.per_neuron:
            if centre is None:
                raise ValueError("a per-neuron policy's network.json needs the centre, whose tail codes each neuron's activation")
            W = self.spec.matrix(np.asarray(centre, dtype=np.float64))
            neurons = {"neurons": self.spec.neurons(np.asarray(centre, dtype=np.float64)), "mask": (W != 0).astype(int).tolist()}
        return {
            "format": POLICY_FORMAT,
            "version": self.format_version,
            "env_id": self.env_id,
            "env_kwargs": dict(self.env_kwargs),
            "W_shape": [self.spec.n_activations, self.spec.n_columns],
            "W_columns": "[1, observation (encoded), previous activations]" + (" (that block all zero: feed_forward)" if self.spec.feed_forward else ""),
            "network": self.spec.to_json(),
            "observation": {**self.encoder.to_json(), **({"normalization": self.normalizer.to_json()} if self.normalizer else {})},
            "action": self.decoder.to_json(),
            **neurons,
        }

    @property
    def format_version(self) -> int:
        """The lowest network.json version that describes this policy (an older rlfree refuses what it would misread)."""
        clip = self.decoder.kind == "box" and self.decoder.box_mapping == "clip"
        if self.spec.per_neuron:
            return 5
        return 4 if clip or self.spec.feed_forward or self.normalizer is not None else 3

    def initial_std(self, scale: float) -> float:
        """The std of the initial weights: scale / sqrt(K), K the columns of W."""
        return self.spec.initial_std(scale)

    def initial_params(self, generator: torch.Generator, scale: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A starting centre (D,): normal weights with std ``initial_std(scale)``, drawn on the CPU."""
        return self.spec.initial_params(generator, scale, dtype)

    def network(self, params: torch.Tensor) -> FreeNetwork:
        """params: (P, D) -> the population ready to step."""
        return FreeNetwork(self.spec, params)

    def act(self, network: FreeNetwork, obs: torch.Tensor, activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for P members x B episodes.

        obs: (P * B, *obs_shape), member-major; activations: (P, B, A).
        Returns (actions (P * B, *act_shape), activations (P, B, A)).
        """
        population, batch = activations.shape[0], activations.shape[1]
        inputs = self.encoder(obs, activations.dtype)
        if self.normalizer is not None:
            inputs = self.normalizer(inputs)
        inputs = inputs.reshape(population, batch, self.spec.n_inputs)
        activations, outputs = network.step(inputs, activations)
        return self.decoder(outputs.reshape(population * batch, self.spec.n_outputs)), activations
