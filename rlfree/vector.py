"""Gymnasium's environments behind the batched-environment protocol.

Any registered gymnasium id runs here: :class:`GymVectorEnv` converts between numpy and
torch at the boundary, so the policy still runs batched in torch. The copies are run by:

- ``"sync"`` (default): :class:`rlfree.gym_copies.EpisodeVectorEnv`, ``gym.make`` copies in
  this process, each playing one episode and not stepped after it ends;
- ``"async"``: :class:`rlfree.gym_copies.WorkerVectorEnv`, the same split over ``workers``
  processes (default: one per CPU core);
- ``"vector_entry_point"``: the task's own vectorised implementation where gymnasium ships one
  (CartPole-v1's NumPy ``CartPoleVectorEnv``). Such an env takes one seed for all its copies,
  so copies do not start from their own seeds: it serves whole-policy checks, not the walk's
  common-random-number evaluations. Its copies auto-reset after their episode ends; the
  evaluator ignores everything a copy returns after that;
- ``"gymnasium_sync"`` and ``"gymnasium_async"``: gymnasium's own ``SyncVectorEnv`` and
  ``AsyncVectorEnv`` (a process per copy), the named alternatives of ``scripts/bench.py``.
"""

from __future__ import annotations

import contextlib

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator

from rlfree.config import ConfigError
from rlfree.errors import UserError
from rlfree.gym_copies import EpisodeVectorEnv, WorkerVectorEnv, workers_ignore_interrupts
from rlfree.spaces import to_numpy_action

VECTORIZATIONS = ("sync", "async", "vector_entry_point", "gymnasium_sync", "gymnasium_async")
# The ones a training run accepts: the others are whole-policy checks and bench.py's alternatives.
TRAINING_VECTORIZATIONS = VECTORIZATIONS[:2]


class MissingDependencyError(UserError, ValueError):
    """The env's module needs a package that is not installed; the message says which."""


# gymnasium's env families that an rlfree extra installs: entry-point module -> the extra
EXTRAS = {"gymnasium.envs.box2d": "box2d", "gymnasium.envs.mujoco": "mujoco"}


def check_dependencies(env_id: str) -> None:
    """Import the env's entry point here, so that a missing package (Box2D for LunarLander-v3)
    is one clear error before any copy or worker process is made, naming rlfree's extra for it."""
    entry_point = gym.spec(env_id).entry_point
    if isinstance(entry_point, str):
        try:
            load_env_creator(entry_point)
        except gym.error.DependencyNotInstalled as err:
            extra = next((name for module, name in EXTRAS.items() if entry_point.startswith(module + ".")), None)
            hint = f" (with rlfree: pip install 'rlfree[{extra}]')" if extra else ""
            raise MissingDependencyError(f"env {env_id!r} cannot be made: {err}{hint}") from None


def has_vector_entry_point(env_id: str) -> bool:
    """Whether gymnasium ships its own vectorised implementation of ``env_id``."""
    return gym.spec(env_id).vector_entry_point is not None


class GymVectorEnv:
    """``num_envs`` copies of a gymnasium environment as one batched env on ``device``."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        *,
        vectorization: str = "sync",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        env_kwargs: dict | None = None,
        workers: int = 0,
    ):
        """workers: processes of ``"async"`` (0: one per CPU core); env_kwargs: arguments of every ``gym.make``."""
        if vectorization not in VECTORIZATIONS:
            raise ConfigError(f"vectorization {vectorization!r} is not accepted; use one of {', '.join(VECTORIZATIONS)}")
        self.env_id = env_id
        self.vectorization = vectorization
        self._interrupted = False
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.dtype = dtype
        check_dependencies(env_id)
        if vectorization == "sync":
            self.vector_env = EpisodeVectorEnv(env_id, num_envs, env_kwargs)
        elif vectorization == "async":
            self.vector_env = WorkerVectorEnv(env_id, num_envs, workers, env_kwargs)
        else:
            mode = vectorization.removeprefix("gymnasium_")
            with workers_ignore_interrupts(mode == "async", sigterm=False):
                self.vector_env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **(env_kwargs or {}))
        self.observation_space = self.vector_env.single_observation_space
        self.action_space = self.vector_env.single_action_space
        spec = gym.spec(env_id)
        self.max_episode_steps = spec.max_episode_steps

    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        tensor = torch.from_numpy(np.asarray(array))
        return tensor.to(self.device, dtype) if dtype is not None else tensor.to(self.device)

    def reset(self, seeds: torch.Tensor) -> torch.Tensor:
        seed_list = [int(s) for s in torch.as_tensor(seeds).reshape(-1).tolist()]
        if len(seed_list) != self.num_envs:
            raise ValueError(f"{len(seed_list)} seeds are not accepted: expected one per copy ({self.num_envs})")
        seed = seed_list[0] if self.vectorization == "vector_entry_point" else seed_list
        with self._noting_interrupts():
            obs, _ = self.vector_env.reset(seed=seed)
        return self._observation(obs)

    @contextlib.contextmanager
    def _noting_interrupts(self):
        # Ctrl-C in the middle of talking to async workers leaves their pipes out of step;
        # close() then stops them outright instead of asking them to close.
        try:
            yield
        except KeyboardInterrupt:
            self._interrupted = True
            raise

    def _observation(self, obs: np.ndarray) -> torch.Tensor:
        floating = np.issubdtype(np.asarray(obs).dtype, np.floating)
        return self._tensor(obs, self.dtype if floating else None)

    def step(self, actions: torch.Tensor):
        with self._noting_interrupts():
            obs, reward, terminated, truncated, _ = self.vector_env.step(to_numpy_action(actions, self.action_space))
        return (
            self._observation(obs),
            self._tensor(reward, self.dtype),
            self._tensor(terminated, torch.bool),
            self._tensor(truncated, torch.bool),
        )

    def close(self) -> None:
        if self._interrupted and self.vectorization in ("async", "gymnasium_async"):
            self.vector_env.close(terminate=True)
        else:
            self.vector_env.close()
