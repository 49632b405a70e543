"""The evaluator seam: parameter vectors and episode seeds in, returns and lengths out.

An algorithm asks for its rows' returns through :class:`Evaluator` and never learns where the
episodes ran. :class:`LocalEvaluator` runs them in this process, in one batched environment
(a tensor twin or gymnasium copies) per batch size; :class:`rlfree.ray_evaluator.RayEvaluator`
sends blocks of rows to Ray actors (:data:`EXECUTORS` names the two). Both keep the contract:

- **layout**: params (P, D) and seeds (E,) int64 (every member on the same episodes) or (P, E)
  (a row of seeds per member) give a :class:`rlfree.evaluate.Rollout` whose returns and
  lengths are (P, E), member-major: ``returns[p, e]`` is member ``p`` on episode ``e``;
- **determinism**: the same params and seeds give the same returns, wherever and however the
  episodes are split across workers, because a copy's start state and noise are functions of
  its episode seed alone (:mod:`rlfree.seeding`), so only params, seeds and returns travel;
- ``max_steps`` cuts every episode after that many steps (None: the env's time limit, or
  :data:`rlfree.config.DEFAULT_HORIZON` for an env without one);
- ``rows``, when given, are the same params as integers (:class:`rlfree.seeded_rows.SeededRows`),
  which an evaluator that sends work elsewhere sends instead of the weights; one that runs the
  episodes here ignores them;
- an evaluator made with ``action_l1`` also fills ``Rollout.action_l1`` (P, E): sum |action| over
  each episode's steps, for a control cost in the training returns (``[walk] action_cost``);
- ``on_progress``, when given, hears where a long evaluation stands
  (:class:`rlfree.evaluate.StepProgress`); an evaluator may report less often, or not at all;
- ``close()`` releases what the evaluator holds (worker processes, windows); it may be called
  more than once.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, runtime_checkable

import torch

from rlfree.batched import BatchedEnv
from rlfree.evaluate import Rollout, StepProgress, evaluate
from rlfree.policy import Policy
from rlfree.seeded_rows import SeededRows

# [env] executor: where a generation's episodes run: "local" (this process, LocalEvaluator) or
# "ray" (Ray actors, rlfree.ray_evaluator)
EXECUTORS = ("local", "ray")


@runtime_checkable
class Evaluator(Protocol):
    def evaluate(self, params: torch.Tensor, seeds: torch.Tensor, max_steps: int | None = None,
                 on_progress: Callable[[StepProgress], None] | None = None, rows: SeededRows | None = None) -> Rollout:
        """params: (P, D), seeds: (E,) or (P, E) int64 -> Rollout with returns, lengths (P, E)."""

    def close(self) -> None:
        """Release environments and workers."""


class LocalEvaluator:
    """Rollouts in this process: one batched env per P * E, made on first use and kept.

    ``make_env(num_envs)`` builds a batched env, for example
    ``functools.partial(rlfree.backend.make_batched_env, env_id, backend="torch", device=...)``.
    ``envs`` hands over envs built already (a trainer builds one to read the spaces); they are
    kept under their ``num_envs`` and closed with the rest. ``action_l1``: also add up each
    episode's sum |action| (``Rollout.action_l1``).
    """

    def __init__(self, policy: Policy, make_env: Callable[[int], BatchedEnv], envs: Iterable[BatchedEnv] = (),
                 action_l1: bool = False):
        self.policy = policy
        self.make_env = make_env
        self.action_l1 = action_l1
        self._envs: dict[int, BatchedEnv] = {env.num_envs: env for env in envs}

    def env(self, num_envs: int) -> BatchedEnv:
        """The batched env with ``num_envs`` copies, built on first use."""
        if num_envs not in self._envs:
            self._envs[num_envs] = self.make_env(num_envs)
        return self._envs[num_envs]

    def evaluate(self, params: torch.Tensor, seeds: torch.Tensor, max_steps: int | None = None,
                 on_progress: Callable[[StepProgress], None] | None = None, rows: SeededRows | None = None) -> Rollout:
        """params: (P, D), seeds: (E,) or (P, E) int64 -> Rollout with returns, lengths (P, E);
        ``rows`` is not needed: the params are here already."""
        env = self.env(params.shape[0] * seeds.shape[-1])
        return evaluate(self.policy, params, env, seeds, max_steps, on_progress, action_l1=self.action_l1)

    def close(self) -> None:
        envs, self._envs = list(self._envs.values()), {}
        for env in envs:
            env.close()

    def __enter__(self) -> "LocalEvaluator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
