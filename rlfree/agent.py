"""A saved agent, played in gymnasium's own environment.

An agent is a ``W.npy`` + ``network.json`` pair (a checkpoint folder, or a run folder whose
``checkpoints/best`` holds one). :func:`load_agent` reads it without executing code, and
imports the package of a ``package:Env-v0`` id only when the caller allows it;
:meth:`Agent.play` runs single episodes (for rendering and recording) and
:meth:`Agent.score` runs many episodes at once through a gymnasium vector env. Both play the env
the agent was trained on: ``gym.make(env_id, **env_kwargs)`` with the arguments network.json
records, up to its time limit or, for an env registered without one, DEFAULT_HORIZON steps
(:func:`rlfree.evaluate.episode_limit`; the run's own ``--horizon`` is not in the agent).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Collection

import gymnasium as gym
import numpy as np
import torch

from rlfree.backend import resolve_env_id
from rlfree.checkpoint import CheckpointError, load_checkpoint
from rlfree.evaluate import episode_limit, evaluate
from rlfree.gym_copies import make_env
from rlfree.policy import Policy, saved_env_kwargs
from rlfree.vector import GymVectorEnv, check_dependencies


@dataclass
class Agent:
    env_id: str
    policy: Policy
    params: torch.Tensor  # (1, D) float64: the saved W's parameter columns, flattened (NetworkSpec.flat)
    source: Path
    env_kwargs: dict = field(default_factory=dict)  # of gym.make, as the agent was trained
    mask: np.ndarray | None = None  # (A, K) 0/1: which weights exist, for a per-neuron (--algo wann) agent

    def with_shared_weight(self, weight: float) -> "Agent":
        """This agent's wiring and activations with every existing weight set to ``weight`` (the
        weight-agnostic reference's shared weight); ValueError for an agent without a mask."""
        if self.mask is None:
            raise ValueError(f"--shared-weight applies to agents of --algo wann (their network.json has a mask); {self.source} has none")
        spec = self.policy.spec
        flat = self.params[0].numpy()
        shared = spec.flat(weight * self.mask.astype(np.float64), spec.neurons(flat))
        return replace(self, params=torch.from_numpy(shared[None]))

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh copy of the agent's env: ``gym.make(env_id, **env_kwargs, render_mode=...)``."""
        # not even render_mode=None: an env whose __init__ takes no render_mode (the README's own) refuses it
        return make_env(self.env_id, self.env_kwargs, **({"render_mode": render_mode} if render_mode else {}))

    def play(self, env: gym.Env, seed: int, on_step: Callable[[gym.Env], None] | None = None) -> tuple[float, int]:
        """One episode in ``env`` from ``reset(seed=seed)``; returns (return, length).

        ``on_step(env)`` is called after the reset and after every step (to render or record).
        An episode of an env without a time limit is cut at DEFAULT_HORIZON steps.
        """
        limit = episode_limit(env.spec.max_episode_steps if env.spec else None)
        network = self.policy.network(self.params)
        activations = network.initial_activations(1)
        obs, _ = env.reset(seed=seed)
        if on_step:
            on_step(env)
        total, length, done = 0.0, 0, False
        while not done:
            obs_tensor = torch.as_tensor(np.asarray(obs)[None])
            actions, activations = self.policy.act(network, obs_tensor, activations)
            action = actions[0].numpy()
            obs, reward, terminated, truncated, _ = env.step(action.item() if action.ndim == 0 else action.astype(env.action_space.dtype))
            total += float(reward)
            length += 1
            done = terminated or truncated or length >= limit
            if on_step:
                on_step(env)
        return total, length

    def score(self, seeds: list[int], vectorization: str = "sync") -> np.ndarray:
        """Returns (len(seeds),) of gymnasium's own env, all episodes in one vector env (cut as :meth:`play` cuts them)."""
        env = GymVectorEnv(self.env_id, len(seeds), vectorization=vectorization, dtype=torch.float64, env_kwargs=self.env_kwargs)
        try:
            rollout = evaluate(self.policy, self.params, env, torch.tensor(seeds, dtype=torch.int64))
        finally:
            env.close()
        return rollout.returns.reshape(-1).numpy()


def load_agent(path: str | Path, allow_import: Collection[str] = ()) -> Agent:
    """The agent saved at ``path`` (run folder -> its best checkpoint, or a checkpoint folder).

    allow_import: packages that may be imported for an env id ``package:Env-v0`` that the
    checkpoint names (ImportNotAllowed for any other package not imported yet).
    """
    checkpoint = load_checkpoint(path, which="best")
    env_id = resolve_env_id(checkpoint.network["env_id"], allow_import, source=str(checkpoint.path / "network.json"))
    env_kwargs = saved_env_kwargs(checkpoint.network)  # they may change the spaces (continuous=true)
    check_dependencies(env_id)
    probe = make_env(env_id, env_kwargs)
    try:
        policy = Policy.from_json(checkpoint.network, probe.observation_space, probe.action_space)
    finally:
        probe.close()
    mask = None
    try:
        if policy.spec.per_neuron:
            mask = np.asarray(checkpoint.network.get("mask"), dtype=np.float64)
            if mask.shape != checkpoint.W.shape or not np.isin(mask, (0.0, 1.0)).all():
                raise ValueError(f"its mask should be {checkpoint.W.shape[0]} x {checkpoint.W.shape[1]} of 0s and 1s")
        params = torch.from_numpy(policy.spec.flat(checkpoint.W.astype(np.float64), checkpoint.network.get("neurons"))[None])
    except ValueError as err:  # a feed-forward W, or a per-neuron network's neurons and mask, edited by hand
        raise CheckpointError(f"{str(checkpoint.path / 'W.npy')!r} cannot be played: {err}") from None
    return Agent(env_id, policy, params, checkpoint.path, env_kwargs, mask)
