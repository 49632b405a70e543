"""``gym.make`` copies that play one episode each, in this process or in worker processes.

The evaluator runs exactly one episode per copy and masks the copies that are done, so a copy
whose episode has ended need not be stepped again. Gymnasium's own vector envs auto-reset and
step every copy until the longest episode ends: on Acrobot-v1's 100-episode checks, where most
episodes end in ~90 of the 500 steps, that was 3-4x the work; on LunarLander-v3, whose
episodes last from under 100 to 1000 steps, most of the steps were thrown away.

Both classes speak the part of gymnasium's vector-env interface that
:class:`rlfree.vector.GymVectorEnv` uses: ``reset(seed=[...])``, ``step(actions)``,
``close()``, ``single_observation_space`` and ``single_action_space``.

- :class:`EpisodeVectorEnv`: every copy in this process (``--vectorization sync``).
- :class:`WorkerVectorEnv`: the copies split over a few worker processes, one per CPU core by
  default, each running an :class:`EpisodeVectorEnv` of its share (``--vectorization async``).
  Gymnasium's AsyncVectorEnv starts a process per copy instead: hundreds of them for a
  population, on a machine with a few cores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection

import gymnasium as gym
import numpy as np

from rlfree import mujoco_warnings
from rlfree.config import ConfigError

StepArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]


class EnvCrashed(RuntimeError):
    """A gymnasium env raised; the message names the env id, the episode's seed and the step."""


def make_env(env_id: str, env_kwargs: dict | None = None, **options) -> gym.Env:
    """``gym.make(env_id, **env_kwargs, **options)``; ConfigError when the env refuses ``env_kwargs``.

    options: rlfree's own arguments (``render_mode``). A TypeError with no env_kwargs given is
    the env's own bug and keeps its traceback.
    """
    if mujoco_warnings.is_mujoco_env(env_id):
        mujoco_warnings.install()  # in this process, a worker's included: every copy compiles the model again
    try:
        return gym.make(env_id, **(env_kwargs or {}), **options)
    except TypeError as err:
        if not env_kwargs:
            raise
        shown = ", ".join(f"{name}={value!r}" for name, value in env_kwargs.items())
        reason = str(err).split(" was raised from the environment creator")[0]  # gymnasium's suffix repeats the id and kwargs
        raise ConfigError(f"env {env_id!r} does not take the env_kwargs {shown}: {reason}") from None


class EpisodeVectorEnv:
    """``num_envs`` copies of ``gym.make(env_id)`` in this process, each playing one episode.

    After a copy's episode ends it is not stepped again until the next ``reset``; ``step``
    returns its last observation with reward 0 and its final ``terminated`` / ``truncated``.
    """

    def __init__(self, env_id: str, num_envs: int, env_kwargs: dict | None = None):
        self.env_id = env_id
        self.envs: list[gym.Env] = []
        try:
            for _ in range(num_envs):
                self.envs.append(make_env(env_id, env_kwargs))
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
        self._seeds: list[int] = []
        self._steps = 0

    def reset(self, seed: list[int]) -> tuple[np.ndarray, dict]:
        """seed: one per copy -> (observations (N, *obs_shape), {})."""
        self._seeds, self._steps = list(seed), 0
        for i, (env, copy_seed) in enumerate(zip(self.envs, self._seeds, strict=True)):
            with self._naming_the_episode(i):
                self._obs[i], _ = env.reset(seed=copy_seed)
        self._terminated[:] = False
        self._truncated[:] = False
        self._running = list(range(self.num_envs))
        return self._obs.copy(), {}

    def step(self, actions: np.ndarray) -> StepArrays:
        """actions: (N, *act_shape), those of finished copies ignored -> (obs, reward, terminated, truncated, {})."""
        reward = np.zeros(self.num_envs)
        still_running = []
        self._steps += 1
        for i in self._running:
            with self._naming_the_episode(i):
                self._obs[i], reward[i], self._terminated[i], self._truncated[i], _ = self.envs[i].step(actions[i])
            if not (self._terminated[i] or self._truncated[i]):
                still_running.append(i)
        self._running = still_running
        return self._obs.copy(), reward, self._terminated.copy(), self._truncated.copy(), {}

    @contextlib.contextmanager
    def _naming_the_episode(self, i: int):
        """An error of the env becomes one that says which env, episode seed and step, to replay it."""
        try:
            yield
        except Exception as err:
            raise EnvCrashed(
                f"env {self.env_id!r} failed at step {self._steps} of the episode with seed {self._seeds[i]}: {type(err).__name__}: {err}"
            ) from err

    def close(self) -> None:
        for env in self.envs:
            env.close()


@contextlib.contextmanager
def workers_ignore_interrupts(active: bool = True, sigterm: bool = True):
    """Worker processes started inside inherit an ignored SIGINT and, with ``sigterm``, SIGTERM.

    Ctrl-C in a terminal reaches the whole process group, and so does the SIGTERM of a cluster's
    scheduler; the trainer catches either to write a checkpoint and close the env, which needs
    the workers alive, not dead of the signal. Such a worker is stopped with SIGKILL, not
    terminate(). (Gymnasium's AsyncVectorEnv stops its workers with terminate() and waits for
    them without a timeout: its workers keep SIGTERM, ``sigterm=False``.)
    """
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [signal.SIGINT, *([signal.SIGTERM] if sigterm else [])]
    previous = {name: signal.signal(name, signal.SIG_IGN) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(name, handler)


def _serve(conn: Connection, env_id: str, num_envs: int, env_kwargs: dict | None) -> None:
    """A worker: an EpisodeVectorEnv of its share, driven by (command, data) messages."""
    envs = None
    try:
        envs = EpisodeVectorEnv(env_id, num_envs, env_kwargs)
        conn.send(("ok", (envs.single_observation_space, envs.single_action_space)))
        while True:
            command, data = conn.recv()
            if command == "reset":
                conn.send(("ok", envs.reset(data)[0]))
            elif command == "step":
                conn.send(("ok", envs.step(data)[:4]))
            else:  # "close"
                return
    except EOFError:  # the main process has gone
        return
    except ConfigError as err:  # the user's env_kwargs: raised again as it is by the main process
        conn.send(("user_error", str(err)))
    except Exception as err:  # raised again by the main process
        conn.send(("error", str(err) if isinstance(err, EnvCrashed) else f"env {env_id!r}: {type(err).__name__}: {err}"))
    finally:
        if envs is not None:
            envs.close()
        conn.close()


# Episodes a worker process starts before it is replaced by a fresh one (WorkerVectorEnv._recycle):
# one process start (a fork and the copies' gym.make, well under a second) every ~80 generations
# of LunarLander-v3's 64 members x 2 episodes on 2 workers, and a leaking env's growth bounded to
# ~8 MiB a worker (LunarLander-v3: 1.6 KB an episode).
RECYCLE_AFTER_EPISODES = 5_000


class WorkerVectorEnv:
    """``num_envs`` copies of ``gym.make(env_id)`` split over ``workers`` processes.

    workers: 0 for one per CPU core; never more than ``num_envs``. Copy ``i`` lives in the
    worker whose contiguous slice holds it, so results come back in copy order.
    """

    def __init__(self, env_id: str, num_envs: int, workers: int = 0, env_kwargs: dict | None = None,
                 recycle_after: int = RECYCLE_AFTER_EPISODES):
        if workers < 0:
            raise ValueError(f"workers={workers} is not accepted: use 0 (one per CPU core) or more")
        self.env_id = env_id
        self.num_envs = num_envs
        self.env_kwargs = env_kwargs
        self.recycle_after = recycle_after
        count = min(workers or os.cpu_count() or 1, num_envs)
        bounds = np.linspace(0, num_envs, count + 1).round().astype(int)
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        # fork: a worker inherits the registrations made in this process (a user's package, rlfree's ids)
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._conns: list[Connection] = []
        self._processes = []
        self._episodes = [0] * len(self._slices)  # episodes each worker has started
        for part in self._slices:
            self._start(part)
        try:
            spaces = self._gather()
        except BaseException:
            self.close(terminate=True)
            raise
        self.single_observation_space, self.single_action_space = spaces[0]

    def _start(self, part: slice, index: int | None = None) -> None:
        """Start the worker of ``part`` (appended, or in place of worker ``index``); its spaces are the next answer on its pipe."""
        with workers_ignore_interrupts():
            parent, child = self._context.Pipe()
            process = self._context.Process(target=_serve, args=(child, self.env_id, part.stop - part.start, self.env_kwargs), daemon=True)
            process.start()
        child.close()
        if index is None:
            self._conns.append(parent)
            self._processes.append(process)
        else:
            self._conns[index], self._processes[index] = parent, process

    def _recycle(self) -> None:
        """Replace every worker that has started ``recycle_after`` episodes by a fresh process.

        Some envs keep memory they never give back: gymnasium's LunarLander-v3 (Box2D) grows a
        process by about 1.6 KB an episode, also across close() and a new gym.make, so a long run
        grew its workers by 60 MiB in 300 generations (scripts/soak.py). A fresh process starts
        from nothing; every reset is seeded, so the episodes are the ones the old worker would have
        played.
        """
        for i, part in enumerate(self._slices):
            if self._episodes[i] < self.recycle_after:
                continue
            conn, process = self._conns[i], self._processes[i]
            with contextlib.suppress(OSError):
                conn.send(("close", None))
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
            self._start(part, i)
            self._episodes[i] = 0
            status, data = self._conns[i].recv()
            if status != "ok":
                raise EnvCrashed(f"{data} (in a worker process, started again)")

    def _gather(self) -> list:
        """The answer of every worker, in order; EnvCrashed naming the env if one failed."""
        answers = []
        for conn in self._conns:
            try:
                status, data = conn.recv()
            except EOFError:
                status, data = "error", f"env {self.env_id!r}: its worker process died"
            if status == "user_error":
                raise ConfigError(data)
            if status == "error":
                raise EnvCrashed(f"{data} (in a worker process)")
            answers.append(data)
        return answers

    def reset(self, seed: list[int]) -> tuple[np.ndarray, dict]:
        """seed: one per copy -> (observations (N, *obs_shape), {})."""
        self._recycle()
        for i, part in enumerate(self._slices):
            self._episodes[i] += part.stop - part.start
        for conn, part in zip(self._conns, self._slices):
            conn.send(("reset", list(seed[part])))
        return np.concatenate(self._gather()), {}

    def step(self, actions: np.ndarray) -> StepArrays:
        """actions: (N, *act_shape) -> (obs, reward, terminated, truncated, {}), as EpisodeVectorEnv."""
        for conn, part in zip(self._conns, self._slices):
            conn.send(("step", actions[part]))
        obs, reward, terminated, truncated = (np.concatenate(column) for column in zip(*self._gather()))
        return obs, reward, terminated, truncated, {}

    def close(self, terminate: bool = False) -> None:
        """Ask the workers to stop; ``terminate`` (after a Ctrl-C left the pipes out of step) kills them
        outright: they ignore SIGTERM (:func:`workers_ignore_interrupts`)."""
        for conn, process in zip(self._conns, self._processes):
            if not terminate and process.is_alive():
                with contextlib.suppress(OSError):
                    conn.send(("close", None))
        for process in self._processes:
            if terminate:
                process.kill()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._processes = [], []
