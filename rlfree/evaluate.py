"""Rollouts of a population over many episodes, all in lock-step.

``P`` members x ``E`` episodes run as ``N = P * E`` copies of the task in one batched
environment (member-major: copy ``p * E + e`` is member ``p`` on episode ``e``). Every member
meets the same ``E`` episode seeds (from :func:`rlfree.seeding.episode_seeds`), so their
returns differ only by their weights (common random numbers). Each copy plays exactly one
episode; copies that are done are masked, not reset, and the loop ends when all are done.

A copy whose network's activations stop being finite (an overflowing unbounded activation, or
non-finite weights) ends its episode there with a NaN return, before its action reaches the
env; the env gets a harmless action for it from then on, and :class:`Rollout` counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rlfree.batched import BatchedEnv
from rlfree.policy import Policy


@dataclass
class Rollout:
    """The outcome of one evaluation."""

    returns: torch.Tensor  # (P, E) float: undiscounted episode returns; NaN for an episode whose network stopped being finite
    lengths: torch.Tensor  # (P, E) int64: steps until terminated or truncated (or until the network stopped being finite)
    nonfinite_actions: int = 0  # episodes ended because the network's activations became NaN or infinite

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def evaluate(policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None = None) -> Rollout:
    """Run every member of ``params`` on its episode seeds.

    params: (P, D) on the env's device; seeds: (E,) int64, the same episodes for every member,
    or (P, E), each member its own row of seeds (the trainer uses this to evaluate the centre on
    held-out seeds in the same batch as the population). ``env.num_envs`` must be P * E.
    ``max_steps`` cuts every episode after that many steps (default: the env's time limit).
    Returns a :class:`Rollout` with returns and lengths of shape (P, E), and the count of
    episodes ended by a non-finite network (their returns are NaN).

    On a twin nothing leaves the device inside the step loop except the "all done?" check,
    which a CUDA device makes only every 16 steps to keep the GPU queue full (and, on the CPU,
    the sum of the activations that says whether any went non-finite).
    """
    # Inference mode skips autograd's bookkeeping on every op: 15% of a small-batch CPU step,
    # where each op costs microseconds of overhead. Its tensors are cloned on the way out so
    # that callers get ordinary tensors they may update in place.
    with torch.inference_mode():
        returns, lengths, finite = _rollout(policy, params, env, seeds, max_steps)
    return Rollout(returns.clone(), lengths.clone(), int((~finite).sum()))


def harmless_action(space: gym.Space, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """(1, *act_shape): 0 clipped into a Box action's bounds, for copies whose network is no
    longer finite; None for integer actions, which an argmax keeps valid whatever its input."""
    if not isinstance(space, spaces.Box):
        return None
    return torch.as_tensor(np.clip(0.0, space.low, space.high), dtype=dtype, device=device)[None]


def _rollout(
    policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The step loop of :func:`evaluate`: returns and lengths, (P, E) each, and finite (P * E,)
    bool: the copies whose network stayed finite."""
    population, episodes = params.shape[0], seeds.shape[-1]
    if seeds.ndim == 1:
        seeds = seeds.expand(population, episodes)
    if seeds.shape != (population, episodes):
        raise ValueError(f"seeds of shape {tuple(seeds.shape)} do not fit {population} members; expected (E,) or ({population}, E)")
    if env.num_envs != population * episodes:
        raise ValueError(f"the env has {env.num_envs} copies; {population} members x {episodes} episodes need {population * episodes}")
    device = params.device
    network = policy.network(params)
    obs = env.reset(seeds.to(device).reshape(-1))
    activations = network.initial_activations(episodes)
    returns = torch.zeros(env.num_envs, dtype=params.dtype, device=device)
    lengths = torch.zeros(env.num_envs, dtype=torch.int64, device=device)
    running = torch.ones(env.num_envs, dtype=torch.bool, device=device)
    finite = torch.ones(env.num_envs, dtype=torch.bool, device=device)
    fallback = harmless_action(env.action_space, params.dtype, device)
    check_every = 1 if device.type == "cpu" else 16
    max_steps = max_steps or env.max_episode_steps or 1_000_000
    # The per-copy mask costs four ops a step. On the CPU one host-side sum (a quarter of that)
    # says whether it is needed; elsewhere asking would wait for the device, so it runs every step.
    masking = device.type != "cpu"
    for t in range(max_steps):
        actions, activations = policy.act(network, obs, activations)
        # The activations, not the actions, are checked: tanh squashes an infinite output into a
        # valid Box action and an argmax over NaN still picks a valid discrete one.
        if masking or not math.isfinite(float(activations.sum())):
            masking = True  # from now on, as a broken copy's action is replaced every step
            # a copy that has finished keeps stepping, masked: its activations no longer matter
            finite &= torch.isfinite(activations).all(dim=-1).reshape(-1) | ~running
            running &= finite
            if fallback is not None:
                actions = torch.where(finite.reshape(-1, *(1,) * (actions.ndim - 1)), actions, fallback)
        obs, reward, terminated, truncated = env.step(actions)
        # where(), not multiplication, so a NaN reward after an episode ended cannot leak in
        returns += torch.where(running, reward.to(returns.dtype), 0.0)
        lengths += running
        running &= ~(terminated | truncated)
        if (t + 1) % check_every == 0 and not running.any():
            break
    returns.masked_fill_(~finite, float("nan"))
    return returns.reshape(population, episodes), lengths.reshape(population, episodes), finite
