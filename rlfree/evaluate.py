"""Rollouts of a population over many episodes, all in lock-step.

``P`` members x ``E`` episodes run as ``N = P * E`` copies of the task in one batched
environment (member-major: copy ``p * E + e`` is member ``p`` on episode ``e``). Every member
meets the same ``E`` episode seeds (from :func:`rlfree.seeding.episode_seeds`), so their
returns differ only by their weights (common random numbers). Each copy plays exactly one
episode; copies that are done are masked, not reset, and the loop ends when all are done.

A copy whose network's activations stop being finite (an overflowing unbounded activation, or
non-finite weights) ends its episode there with a NaN return, before its action reaches the
env; the env gets a harmless action for it from then on, and :class:`Rollout` counts them.

Every episode is cut after ``max_steps`` steps, by default the env's time limit or, for an env
registered without one, :data:`rlfree.config.DEFAULT_HORIZON` (:func:`episode_limit`). A caller
that passes ``on_progress`` hears where a long evaluation stands (:class:`StepProgress`) about
every ``REPORT_EVERY`` seconds.

A policy that normalises its observations (:mod:`rlfree.obs_norm`) also gets, per member, the
moments of the observations its network was fed while its episodes ran (``Rollout.obs_stats``),
for the trainer to merge after the generation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rlfree.batched import BatchedEnv
from rlfree.config import DEFAULT_HORIZON
from rlfree.obs_norm import ObservationSums, RunningStats
from rlfree.policy import Policy

REPORT_EVERY = 1.0  # seconds between StepProgress reports
# Steps between looks at the clock: a look costs well under a microsecond, and never waits for
# the device, but a CPU twin step of a small population is only tens of microseconds.
CLOCK_EVERY = 16


def episode_limit(time_limit: int | None, horizon: int | None = None) -> int:
    """Steps after which an episode is cut: ``horizon`` when given, else the env's
    ``time_limit``, else DEFAULT_HORIZON (an env registered without a time limit)."""
    return horizon or time_limit or DEFAULT_HORIZON


def time_limit_notice(env_id: str, horizon: int) -> str | None:
    """The line a run prints at its start when ``env_id`` has no time limit and no ``horizon``
    (--horizon) was given, so that its episodes are cut at DEFAULT_HORIZON; None otherwise."""
    if horizon or gym.spec(env_id).max_episode_steps is not None:
        return None
    return f"env {env_id} has no time limit: episodes are cut at {DEFAULT_HORIZON} steps (--horizon)"


@dataclass
class StepProgress:
    """Where a running evaluation stands."""

    steps: int  # steps of the step loop so far: the longest episode's length
    max_steps: int  # where every episode is cut
    running: int  # copies whose episode has not ended
    copies: int  # copies in the batch (P * E), one episode each
    seconds: float  # since the evaluation started


@dataclass
class Rollout:
    """The outcome of one evaluation."""

    returns: torch.Tensor  # (P, E) float: undiscounted episode returns; NaN for an episode whose network stopped being finite
    lengths: torch.Tensor  # (P, E) int64: steps until terminated or truncated (or until the network stopped being finite)
    nonfinite_actions: int = 0  # episodes ended because the network's activations became NaN or infinite
    obs_stats: RunningStats | None = None  # per member (P sets): the observations its network was fed; with a normalising policy only
    bytes_sent: int | None = None  # what an evaluator that sends work elsewhere sent for it (rlfree.ray_evaluator); None: ran here
    bytes_received: int | None = None  # and what came back
    action_l1: torch.Tensor | None = None  # (P, E) float: the sum over the episode's steps of sum |action| (a Box action), when asked for

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def evaluate(
    policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None = None,
    on_progress: Callable[[StepProgress], None] | None = None, action_l1: bool = False,
) -> Rollout:
    """Run every member of ``params`` on its episode seeds.

    params: (P, D) on the env's device; seeds: (E,) int64, the same episodes for every member,
    or (P, E), each member its own row of seeds (the trainer uses this to evaluate the centre on
    held-out seeds in the same batch as the population). ``env.num_envs`` must be P * E.
    ``max_steps`` cuts every episode after that many steps (default: :func:`episode_limit`).
    ``on_progress`` is called about every REPORT_EVERY seconds while the loop runs.
    ``action_l1`` (a Box action only) also adds up sum |action| over each episode's steps, for a
    control cost in the walk's training returns (``[walk] action_cost``).
    Returns a :class:`Rollout` with returns and lengths of shape (P, E), and the count of
    episodes ended by a non-finite network (their returns are NaN).

    On a twin nothing leaves the device inside the step loop except the "all done?" check,
    which a CUDA device makes only every 16 steps to keep the GPU queue full (and, on the CPU,
    the sum of the activations that says whether any went non-finite). A progress report
    counts the running copies, once a second at most.
    """
    normalizer = getattr(policy, "normalizer", None)  # a DuelPolicy has none
    # Inference mode skips autograd's bookkeeping on every op: 15% of a small-batch CPU step,
    # where each op costs microseconds of overhead. Its tensors are cloned on the way out so
    # that callers get ordinary tensors they may update in place.
    with torch.inference_mode():
        sums = normalizer.sums(env.num_envs, params.device) if normalizer is not None else None
        if action_l1 and not isinstance(env.action_space, spaces.Box):
            raise ValueError(f"a control cost needs a Box action; this env's is {env.action_space}")
        # float64 where the device has it (MPS has not): the sum runs over thousands of steps
        l1_dtype = params.dtype if params.device.type == "mps" else torch.float64
        l1 = torch.zeros(env.num_envs, dtype=l1_dtype, device=params.device) if action_l1 else None
        returns, lengths, finite = _rollout(policy, params, env, seeds, max_steps, on_progress, sums, l1)
    obs_stats = sums.per_row(*returns.shape) if sums is not None else None
    l1 = None if l1 is None else l1.reshape(returns.shape).clone()
    return Rollout(returns.clone(), lengths.clone(), int((~finite).sum()), obs_stats, action_l1=l1)


def harmless_action(space: gym.Space, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """(1, *act_shape): 0 clipped into a Box action's bounds, for copies whose network is no
    longer finite; None for integer actions, which an argmax keeps valid whatever its input."""
    if not isinstance(space, spaces.Box):
        return None
    return torch.as_tensor(np.clip(0.0, space.low, space.high), dtype=dtype, device=device)[None]


def _rollout(
    policy: Policy, params: torch.Tensor, env: BatchedEnv, seeds: torch.Tensor, max_steps: int | None,
    on_progress: Callable[[StepProgress], None] | None = None, sums: ObservationSums | None = None,
    action_l1: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The step loop of :func:`evaluate`: returns and lengths, (P, E) each, and finite (P * E,)
    bool: the copies whose network stayed finite. ``sums`` adds up the observations fed to
    the copies still running; ``action_l1`` (P * E,), sum |action| of their actions."""
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
    max_steps = episode_limit(env.max_episode_steps, max_steps)
    started = time.perf_counter()
    report_at = started + REPORT_EVERY
    # The per-copy mask costs four ops a step. On the CPU one host-side sum (a quarter of that)
    # says whether it is needed; elsewhere asking would wait for the device, so it runs every step.
    masking = device.type != "cpu"
    for t in range(max_steps):
        if sums is not None:
            sums.add(obs, running)
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
        if action_l1 is not None:  # the actions the env is given (a broken copy's fallback included), while running
            action_l1 += torch.where(running, actions.reshape(env.num_envs, -1).abs().sum(dim=1).to(action_l1.dtype), 0.0)
        obs, reward, terminated, truncated = env.step(actions)
        # where(), not multiplication, so a NaN reward after an episode ended cannot leak in
        returns += torch.where(running, reward.to(returns.dtype), 0.0)
        lengths += running
        running &= ~(terminated | truncated)
        if (t + 1) % check_every == 0 and not running.any():
            break
        if on_progress is not None and (t + 1) % CLOCK_EVERY == 0 and (now := time.perf_counter()) >= report_at:
            on_progress(StepProgress(t + 1, max_steps, int(running.sum()), env.num_envs, now - started))
            report_at = now + REPORT_EVERY
    returns.masked_fill_(~finite, float("nan"))
    return returns.reshape(population, episodes), lengths.reshape(population, episodes), finite
