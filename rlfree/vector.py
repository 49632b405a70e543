"""Gymnasium's vector environments behind the batched-environment protocol.

Any registered gymnasium id runs here: :class:`GymVectorEnv` converts between numpy and
torch at the boundary, so the policy still runs batched in torch. Three kinds of vectorisation:

- ``"sync"`` (default): :class:`EpisodeVectorEnv`, ``gym.make(id)`` copies in this process that
  play one episode each and are no longer stepped once it ends. Gymnasium's ``SyncVectorEnv``
  would auto-reset and go on stepping every copy until the longest episode ends: on Acrobot-v1
  checks, where most episodes end in ~90 of the 500 steps, that was 3-4x the work.
- ``"async"``: gymnasium's ``AsyncVectorEnv``, a worker process per copy. Copies auto-reset
  after their episode ends; the evaluator ignores everything a copy returns after that.

- ``"vector_entry_point"``: the task's own vectorised implementation where gymnasium ships one (CartPole-v1's NumPy ``CartPoleVectorEnv``). Such an env takes one seed
for all its copies, so copies do not start from their own seeds: it serves whole-policy checks,
not the walk's common-random-number evaluations. Copies auto-reset as with ``"async"``.
- ``"gymnasium_sync"``: gymnasium's own ``SyncVectorEnv``, the named alternative of
  ``scripts/bench.py``.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import gymnasium as gym
import numpy as np
import torch

from rlfree.spaces import to_numpy_action


VECTORIZATIONS = ("sync", "async", "vector_entry_point", "gymnasium_sync")


@contextlib.contextmanager
def _workers_ignore_ctrl_c(active: bool):
    """Worker processes started inside inherit an ignored SIGINT.

    Ctrl-C in a terminal reaches the whole process group; the trainer catches it to write a
    checkpoint and close the env, which needs the workers alive, not dead of KeyboardInterrupt.
    """
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def has_vector_entry_point(env_id: str) -> bool:
    """Whether gymnasium ships its own vectorised implementation of ``env_id``."""
    return gym.spec(env_id).vector_entry_point is not None


class EpisodeVectorEnv:
    """``num_envs`` copies of ``gym.make(env_id)`` in this process, each playing one episode.

    The vector-env calls of gymnasium (``reset(seed=[...])``, ``step(actions)``, ``close()``,
    ``single_observation_space``, ``single_action_space``), but no auto-reset: after a copy's
    episode ends it is not stepped again until the next ``reset``, and ``step`` returns its last
    observation with reward 0 and its final ``terminated`` / ``truncated`` flags.
    """

    def __init__(self, env_id: str, num_envs: int, env_kwargs: dict | None = None):
        self.envs: list[gym.Env] = []
        try:
            for _ in range(num_envs):
                self.envs.append(gym.make(env_id, **(env_kwargs or {})))
        except BaseException:
            self.close()
            raise
        self.num_envs = num_envs
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        space = self.single_observation_space
        self._obs = np.zeros((num_envs, *(space.shape or ())), dtype=space.dtype)
        self._terminated = np.zeros(num_envs, dtype=bool)
        self._truncated = np.zeros(num_envs, dtype=bool)
        self._running: list[int] = []

    def reset(self, seed: list[int]) -> tuple[np.ndarray, dict]:
        """seed: one per copy -> (observations (N, *obs_shape), {})."""
        for i, (env, copy_seed) in enumerate(zip(self.envs, seed, strict=True)):
            self._obs[i], _ = env.reset(seed=copy_seed)
        self._terminated[:] = False
        self._truncated[:] = False
        self._running = list(range(self.num_envs))
        return self._obs.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """actions: (N, *act_shape), those of finished copies ignored -> (obs, reward, terminated, truncated, {})."""
        reward = np.zeros(self.num_envs)
        still_running = []
        for i in self._running:
            self._obs[i], reward[i], self._terminated[i], self._truncated[i], _ = self.envs[i].step(actions[i])
            if not (self._terminated[i] or self._truncated[i]):
                still_running.append(i)
        self._running = still_running
        return self._obs.copy(), reward, self._terminated.copy(), self._truncated.copy(), {}

    def close(self) -> None:
        for env in self.envs:
            env.close()


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
    ):
        if vectorization not in VECTORIZATIONS:
            raise ValueError(f"vectorization {vectorization!r} is not accepted; use {', '.join(VECTORIZATIONS)}")
        self.env_id = env_id
        self.vectorization = vectorization
        self._interrupted = False
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.dtype = dtype
        if vectorization == "sync":
            self.vector_env = EpisodeVectorEnv(env_id, num_envs, env_kwargs)
        else:
            with _workers_ignore_ctrl_c(vectorization == "async"):
                mode = "sync" if vectorization == "gymnasium_sync" else vectorization
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
        if self._interrupted and self.vectorization == "async":
            self.vector_env.close(terminate=True)
        else:
            self.vector_env.close()
