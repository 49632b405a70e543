"""Rollouts of a population over many episodes, all in lock-step.

``P`` members x ``E`` episodes run as ``N = P * E`` copies of the task in one batched
environment (member-major: copy ``p * E + e`` is member ``p`` on episode ``e``). Every member
meets the same ``E`` episode seeds (from :func:`rlfree.seeding.episode_seeds`), so their
returns differ only by their weights (common random numbers). Each copy plays exactly one
episode; copies that are done are masked, not reset, and the loop ends when all are done.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlfree.batched import BatchedEnv
from rlfree.policy import Policy


@dataclass
class Rollout:
    """The outcome of one evaluation."""

    returns: torch.Tensor  # (P, E) float: undiscounted episode returns
    lengths: torch.Tensor  # (P, E) int64: steps until terminated or truncated

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def evaluate(policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None = None) -> Rollout:
    """Run every member of ``params`` on its episode seeds.

    params: (P, D) on the env's device; seeds: (E,) int64, the same episodes for every member,
    or (P, E), each member its own row of seeds (the trainer uses this to evaluate the centre on
    held-out seeds in the same batch as the population). ``env.num_envs`` must be P * E.
    ``max_steps`` cuts every episode after that many steps (default: the env's time limit).
    Returns a :class:`Rollout` with returns and lengths of shape (P, E).

    On a twin nothing leaves the device inside the step loop except the "all done?" check,
    which a CUDA device makes only every 16 steps to keep the GPU queue full.
    """
    # Inference mode skips autograd's bookkeeping on every op: 15% of a small-batch CPU step,
    # where each op costs microseconds of overhead. Its tensors are cloned on the way out so
    # that callers get ordinary tensors they may update in place.
    with torch.inference_mode():
        returns, lengths = _rollout(policy, params, env, seeds, max_steps)
    return Rollout(returns.clone(), lengths.clone())


def _rollout(policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The step loop of :func:`evaluate`: returns and lengths, (P, E) each."""
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
    check_every = 1 if device.type == "cpu" else 16
    max_steps = max_steps or env.max_episode_steps or 1_000_000
    for t in range(max_steps):
        actions, activations = policy.act(network, obs, activations)
        obs, reward, terminated, truncated = env.step(actions)
        # where(), not multiplication, so a NaN reward after an episode ended cannot leak in
        returns += torch.where(running, reward.to(returns.dtype), 0.0)
        lengths += running
        running &= ~(terminated | truncated)
        if (t + 1) % check_every == 0 and not running.any():
            break
    return returns.reshape(population, episodes), lengths.reshape(population, episodes)
