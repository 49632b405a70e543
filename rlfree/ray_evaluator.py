"""A generation's episodes on Ray actors, in blocks of members, sent as seeds rather than weights.

The distributed side of ES as Salimans et al. (2017) built it and ARS (Mania et al. 2018) and
EvoTorch run it on Ray: every worker can rebuild the perturbations from integers, so a
generation costs the network one centre and a few numbers per member, not the population's
weights. :class:`RayEvaluator` keeps the evaluator contract of :mod:`rlfree.evaluator`:

- **blocks, not members**: the rows are cut into blocks of ``ray_block_rows`` members (default:
  about 4 blocks per actor). Each actor (:class:`BlockWorker`) holds a
  :class:`rlfree.evaluator.LocalEvaluator` that builds its batched env (twin or gymnasium
  copies) once per block size and plays a block as one batched rollout, so the per-process
  speed of a local run is kept. Blocks go to whichever actor frees up first (dynamic
  scheduling), which absorbs uneven episode lengths.
- **seeds, not weights**: per generation the driver puts the centre and the frozen observation
  statistics into Ray's object store once (Ray copies an object once to each node that reads
  it), and sends with each block only integers: the rows as :class:`rlfree.seeded_rows.SeededRows`
  without their centre, and the block's episode seeds. Back come returns, lengths, the count of
  non-finite networks and, with a normalising policy, the block's observation statistics, which
  the trainer merges (:mod:`rlfree.obs_norm`, Chan's formula). ``Rollout.bytes_sent`` and
  ``bytes_received`` are those payloads, pickled: they grow with the population and the
  episodes, never with the population times the parameter count. (An optimiser that cannot
  describe its rows as seeds, ``rows=None``, gets its blocks' weights sent instead.)
- **faults**: a block whose actor dies before it answers (killed, out of memory, node lost) is
  put back at the head of the queue and taken by the next free actor, while Ray restarts the
  dead one; a block lost ``MAX_ATTEMPTS`` times ends the run with the cause. A block is a pure
  function of (centre, seed, generation, rows, episode seeds), so the generation's result is
  that of an undisturbed one. An error inside the env is not retried: it is raised as it is.
- **the same results as a local run**: the rows are the walk's rows bit for bit, and a member's
  episodes do not depend on the copies beside it in a batch (:mod:`rlfree.evaluator`), so
  returns, lengths and observation statistics are bitwise those of :class:`LocalEvaluator` in
  float32 and float64 (tests/test_ray_evaluator.py). That holds where every actor's torch runs
  the same kernels as the driver's: a cluster of mixed CPU generations (AVX-512 beside AVX2) or
  GPU models may round the network's matmuls differently, and then agrees only to float
  rounding per step, which a chaotic task can grow into different episodes.
- **GPUs**: with a cuda device each actor asks Ray for ``GPUs in the cluster / actors`` of a GPU
  (at most 1) and plays on the GPU Ray gives it; the driver, which runs the walk, needs one too.
  This path cannot be run on the CPU-only machines the tests run on.

Connecting: ``ray_address`` "" starts a local Ray on loopback only, for this run; "auto" joins
the cluster ``ray start`` runs on this machine; HOST:PORT joins that head. A process connected
to Ray already (a notebook, a test) keeps its connection, and only a Ray this evaluator started
is shut down by :meth:`RayEvaluator.close`.
"""

from __future__ import annotations

import functools
import os
import pickle
import socket
import sys
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from rlfree.batched import BatchedEnv
from rlfree.config import ConfigError, EnvConfig
from rlfree.evaluate import Rollout, StepProgress
from rlfree.errors import UserError
from rlfree.evaluator import LocalEvaluator
from rlfree.gym_copies import EnvCrashed
from rlfree.obs_norm import Normalizer, RunningStats
from rlfree.policy import Policy
from rlfree.seeded_rows import SeededRows
from rlfree.vector import MissingDependencyError

BLOCKS_PER_ACTOR = 4  # default blocks per actor and generation: enough for quick actors to take more
MAX_ATTEMPTS = 3  # a block lost this many times (its actor died each time) ends the run
CONNECT_TIMEOUT = 5.0  # seconds to wait for a HOST:PORT to answer before calling it unreachable


def import_ray():
    """The ray module, or one line saying how to install it."""
    if "ray" not in sys.modules:
        # A Ray started here for one run serves this process alone: on Linux Ray would bind its
        # servers to every interface; this switch (meant for laptops) keeps them on 127.0.0.1.
        # It is read when ray is first imported, and changes nothing when joining a cluster.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("executor ray needs Ray, which is not installed: pip install 'rlfree[ray]'") from None
    return ray


def check_reachable(address: str) -> None:
    """ConfigError unless HOST:PORT ``address`` accepts a connection within CONNECT_TIMEOUT."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"ray_address {address!r} is not accepted: use auto, HOST:PORT of a Ray head (ray start --head), or leave it empty for a local Ray")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as err:
        raise ConfigError(f"ray_address {address!r} is unreachable ({err.strerror or err}): start the head there with "
                          "`ray start --head`, or use --ray alone for a local Ray") from None


def connect(address: str) -> bool:
    """Connect this process to Ray at ``address`` ('' starts a local Ray, 'auto', HOST:PORT).
    True when this call started or joined Ray, and so should shut it down; False when the
    process was connected already."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address not in ("", "auto"):
        check_reachable(address)
    try:
        # "local" always starts a new Ray; None could join a cluster `ray start` left running here
        ray.init(address=address or "local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    except ConnectionError as err:
        raise ConfigError(f"ray_address {address!r}: {str(err).splitlines()[0]}") from None
    return True


@dataclass(frozen=True)
class ActorPlan:
    """How many actors, and what each asks Ray for."""

    actors: int
    gpus_each: float  # 0 on the CPU

    @classmethod
    def for_cluster(cls, resources: dict, env: EnvConfig, where: str) -> "ActorPlan":
        """ConfigError when the cluster (``ray.cluster_resources()``) cannot hold the actors asked for."""
        cpus = int(resources.get("CPU", 0))
        actors = env.ray_actors or cpus
        if actors < 1 or actors > cpus:
            raise ConfigError(f"ray_actors={actors} needs {actors} CPUs (one per actor), and the Ray cluster {where} has {cpus}: "
                              f"use --ray-actors {max(cpus, 1)} or fewer, or add nodes with `ray start --address`")
        if torch.device(env.device).type != "cuda":
            return cls(actors, 0.0)
        gpus = float(resources.get("GPU", 0))
        if gpus <= 0:
            raise ConfigError(f"device {env.device!r} with executor ray needs GPUs in the Ray cluster, and the cluster {where} has none: "
                              "use --device cpu, or add nodes that have GPUs")
        return cls(actors, min(1.0, gpus / actors))


@dataclass
class Broadcast:
    """What every block of a generation shares, put into the object store once."""

    centre: np.ndarray | None  # (D,) the rows' centre; None when the rows travel as weights
    normalizer: tuple[np.ndarray, np.ndarray, int] | None  # the frozen (mean, std, count) of a normalising policy


class BlockWorker:
    """A Ray actor: plays blocks of a generation's rows in batched envs it builds once per block size."""

    def __init__(self, policy: Policy, make_env: Callable[..., BatchedEnv], device: str, env_as_given: str, threads: int,
                 action_l1: bool = False):
        from rlfree.backend import resolve_env_id

        if threads:
            torch.set_num_threads(threads)  # as the driver does (rlfree.backend.torch_settings)
        resolve_env_id(env_as_given)  # imports a 'my_pkg:MyEnv-v0' package and registers rlfree's envs in this process
        self.device = torch.device(device)
        self.evaluator = LocalEvaluator(policy, functools.partial(make_env, device=self.device), action_l1=action_l1)
        self._noise: tuple[tuple, torch.Tensor] | None = None  # (key, eps) of the generation last seen

    def where(self) -> tuple[str, int]:
        """(node id, process id): where this actor runs."""
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()

    def evaluate_block(self, shared: Broadcast, work: SeededRows | np.ndarray, start: int, seeds: np.ndarray, max_steps: int | None) -> tuple:
        """Rows ``start:start + len(seeds)`` of the generation; seeds: (B, E) int64.

        work: the generation's rows without their centre (``shared.centre``), or the block's
        weights (B, D). Returns (returns (B, E), lengths (B, E) int64, non-finite count,
        observation statistics (count (B,), mean (B, I), m2 (B, I)) or None, sum |action| (B, E)
        or None), numpy.
        """
        policy, device = self.evaluator.policy, self.device
        policy.normalizer = None if shared.normalizer is None else Normalizer(*shared.normalizer)
        if isinstance(work, SeededRows):
            rows = work.around(torch.tensor(shared.centre).to(device))  # a copy: the object store's array is read-only
            key = (rows.seed, rows.generation, rows.count, rows.centre.numel(), rows.centre.dtype)
            if self._noise is None or self._noise[0] != key:
                self._noise = (key, rows.noise())
            params = rows.params(start, start + len(seeds), self._noise[1])
        else:
            params = torch.tensor(work).to(device)
        rollout = self.evaluator.evaluate(params, torch.from_numpy(seeds), max_steps)
        stats = rollout.obs_stats
        return (rollout.returns.cpu().numpy(), rollout.lengths.cpu().numpy(), rollout.nonfinite_actions,
                None if stats is None else (stats.count, stats.mean, stats.m2),
                None if rollout.action_l1 is None else rollout.action_l1.cpu().numpy())

    def close(self) -> None:
        self.evaluator.close()


def payload_bytes(value) -> int:
    """The pickled size of what travels (Ray's own message framing not counted)."""
    return len(pickle.dumps(value, protocol=5))


class RayEvaluator:
    """Rollouts on Ray actors (module docstring); the driver's part of the evaluator contract.

    ``make_env(num_envs)`` is the batched env factory a LocalEvaluator would get (a picklable
    ``functools.partial`` of :func:`rlfree.backend.make_batched_env`); ``env`` the run's [env]
    settings (executor ray: address, actors, block size, device, threads); ``action_l1``: the
    actors also add up each episode's sum |action| (``Rollout.action_l1``).
    """

    def __init__(self, policy: Policy, make_env: functools.partial, env: EnvConfig, action_l1: bool = False):
        self.policy = policy
        self.block_rows = env.ray_block_rows
        self.address = env.ray_address
        self.reruns = 0  # blocks re-run because their actor died, over the evaluator's life
        self.restarting: dict = {}  # the answer a restarting actor will give to where() -> the actor
        self.owns_ray = connect(env.ray_address)
        ray = import_ray()
        try:
            where = f"at {env.ray_address}" if env.ray_address else "started here"
            plan = ActorPlan.for_cluster(ray.cluster_resources(), env, where)
            # an actor's device is the GPU share Ray gives it (cuda:0 in its own numbering), or the CPU
            device = "cuda" if plan.gpus_each else "cpu"
            actor = ray.remote(BlockWorker).options(num_cpus=1, num_gpus=plan.gpus_each, max_restarts=-1, max_task_retries=0)
            self.actors = [actor.remote(policy, make_env, device, env.env, env.threads, action_l1) for _ in range(plan.actors)]
            self.places = ray.get([a.where.remote() for a in self.actors])  # every actor built: a bad env fails here, once
        except BaseException:
            self.close()
            raise

    def summary(self) -> str:
        """One line for the start of a run: the actors and where they are."""
        nodes = len({node for node, _ in self.places})
        cluster = f"the Ray cluster at {self.address}" if self.address else "a Ray started for this run"
        blocks = f"blocks of {self.block_rows} members" if self.block_rows else f"about {BLOCKS_PER_ACTOR} blocks per actor"
        return f"ray: {len(self.actors)} actors on {nodes} node{'s' * (nodes != 1)} of {cluster}, {blocks} per generation"

    def evaluate(self, params: torch.Tensor, seeds: torch.Tensor, max_steps: int | None = None,
                 on_progress: Callable[[StepProgress], None] | None = None, rows: SeededRows | None = None) -> Rollout:
        """params: (P, D), seeds: (E,) or (P, E) int64 -> Rollout with returns, lengths (P, E).

        ``rows``: the same params as seeds, sent instead of the weights. ``on_progress`` is
        not called: the episodes run elsewhere.
        """
        ray = import_ray()
        population, episodes = params.shape[0], seeds.shape[-1]
        seeds = (seeds.expand(population, episodes) if seeds.ndim == 1 else seeds).cpu().numpy()
        if rows is not None and rows.rows != population:
            raise ValueError(f"rows describe {rows.rows} members; params have {population}")
        normalizer = self.policy.normalizer
        shared = Broadcast(None if rows is None else rows.centre.cpu().numpy(),
                           None if normalizer is None else (normalizer.mean, normalizer.std, normalizer.count))
        sent = payload_bytes(shared)
        shared_ref = ray.put(shared)
        work = None if rows is None else rows.without_centre()
        size = self.block_rows or -(-population // (BLOCKS_PER_ACTOR * len(self.actors)))
        blocks = [(start, min(start + size, population)) for start in range(0, population, size)]
        results: list = [None] * len(blocks)
        attempts = [0] * len(blocks)
        # running: a block's answer -> (block, actor), or a restarting actor's answer to where() -> (None, actor);
        # an actor still restarting from an earlier generation is not idle until it answers
        running = {ref: (None, actor) for ref, actor in self.restarting.items()}
        queue, idle = deque(range(len(blocks))), deque(a for a in self.actors if all(a is not r for r in self.restarting.values()))
        while queue or any(index is not None for index, _ in running.values()):
            while queue and idle:
                index, actor = queue.popleft(), idle.popleft()
                start, stop = blocks[index]
                args = (work if work is not None else params[start:stop].cpu().numpy(), start, seeds[start:stop], max_steps)
                sent += payload_bytes(args)
                running[actor.evaluate_block.remote(shared_ref, *args)] = (index, actor)
            if not running:
                raise RuntimeError(f"every Ray actor was lost for good; {len(queue)} blocks of this generation are left")
            (ref,), _ = ray.wait(list(running), num_returns=1)
            index, actor = running.pop(ref)
            try:
                answer = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                if isinstance(err.cause, (UserError, EnvCrashed)):  # the user's to fix (a crashing env names its seed): one line
                    raise err.cause from None
                raise
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as err:
                if index is None:  # it died again, or cannot be restarted: the others carry on
                    self.actors = [a for a in self.actors if a is not actor]
                    continue
                attempts[index] += 1
                self.reruns += 1
                if attempts[index] >= MAX_ATTEMPTS:
                    raise RuntimeError(f"rows {blocks[index][0]}:{blocks[index][1]} were lost {attempts[index]} times with their Ray actor") from err
                queue.appendleft(index)  # taken by the next actor that frees up: another one while Ray restarts this one
                # a call to a restarting actor fails at once; where(), retried until the actor is back, is answered then
                running[actor.where.options(max_task_retries=-1).remote()] = (None, actor)
                continue
            if index is None:
                self.places = [answer if a is actor else place for a, place in zip(self.actors, self.places)]
            else:
                results[index] = answer
            idle.append(actor)
        self.restarting = {ref: actor for ref, (index, actor) in running.items() if index is None}
        received = sum(payload_bytes(result) for result in results)
        returns, lengths, nonfinite, stats, l1 = zip(*results)
        obs_stats = None if stats[0] is None else RunningStats(*(np.concatenate(part) for part in zip(*stats)))
        action_l1 = None if l1[0] is None else torch.from_numpy(np.concatenate(l1)).to(params.device)
        return Rollout(torch.from_numpy(np.concatenate(returns)).to(params.device), torch.from_numpy(np.concatenate(lengths)).to(params.device),
                       int(sum(nonfinite)), obs_stats, bytes_sent=sent, bytes_received=received, action_l1=action_l1)

    def close(self) -> None:
        if "ray" not in sys.modules:
            return
        ray = sys.modules["ray"]
        actors, self.actors = getattr(self, "actors", []), []
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if getattr(self, "owns_ray", False) and ray.is_initialized():
            self.owns_ray = False
            ray.shutdown()

    def __enter__(self) -> "RayEvaluator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
