#!/usr/bin/env python
"""EnvPool against rlfree's gymnasium copies (issue 12): evaluation speed, and whether its episodes are gymnasium's.

    python scripts/envpool_compare.py                     # both tables (a few minutes on 2 cores)
    python scripts/envpool_compare.py --skip-equivalence --seconds 2 --markdown envpool.md

EnvPool (a C++ batched executor with its own ports of MuJoCo's and Box2D's tasks) is not a
dependency of rlfree; this report needs it installed beside gymnasium's MuJoCo and Box2D envs.

1. Speed. One population of free networks, as ``rlfree train`` evaluates it with the library's
   network and walk defaults (the centre a fresh run draws, perturbed with sigma; P members x E
   episodes, every member on the same E episode seeds), on HalfCheetah-v5, Hopper-v5 and
   BipedalWalker-v3:
   (a) rlfree's gym backend: ``gym.make`` copies in this process (``--vectorization sync``) and
       in worker processes (``async``, one per core): both step only running episodes;
   (b) EnvPool, sync: ``num_envs = P * E``, stepping only the running copies (EnvPool accepts a
       subset of env ids in sync mode); EnvPool fixes each copy's seed when the pool is built
       and ignores ``reset(seed=...)``, so every generation builds a new pool from its episode
       seeds, and that build is timed (and shown on its own);
   (c) EnvPool, async: ``batch_size = P * E / 2``, the policy stepped on each batch as it comes
       back (each copy's member gathered); an async pool waits for a whole batch, so copies
       whose episode ended are stepped on (EnvPool resets them) until every first episode ends.
   Every cell counts the same steps: those of the first episode of each copy, cut at the
   horizon. Env steps per second over whole generations, each cell run for at least
   ``--seconds``; EnvPool and the worker processes get the same number of threads.
2. Equivalence, what can be checked from outside EnvPool:
   - start states: does EnvPool's seed s give gymnasium's start for seed s, and are the two
     start distributions the same (two-sample Kolmogorov-Smirnov per component);
   - MuJoCo transitions: gymnasium's env set to each state EnvPool visits (qpos[1:] and qvel are
     the observation; the x position, absent from it and on which neither task depends, from
     EnvPool's info after a step, 0 at the start, where that info says 0) and stepped with the
     same action: next observation, reward and termination compared, one step at a time; then
     whole episodes from EnvPool's start state, beside gymnasium against itself with its start
     moved by 1e-12 (how soon the two would part anyway);
   - BipedalWalker: gymnasium's walker given EnvPool's initial push (found by bisection on the
     first observation), stepped with the same actions while its lidar sees only the flat
     start pad, until the terrain beyond it (drawn by each library's own generator) shows;
   - generation 0's mean return on both, paired by member (episodes from different starts).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.box2d import bipedal_walker

from rlfree.atomic_text import write_text_atomically
from rlfree.cli import ArgumentParser, user_errors
from rlfree.config import Config
from rlfree.errors import UserError
from rlfree.evaluate import episode_limit, evaluate
from rlfree.markdown_table import markdown_table
from rlfree.policy import Policy
from rlfree.seeding import episode_seeds, perturbations, weights_generator
from rlfree.vector import GymVectorEnv, check_dependencies

ENV_IDS = ("HalfCheetah-v5", "Hopper-v5", "BipedalWalker-v3")
MUJOCO_IDS = ("HalfCheetah-v5", "Hopper-v5")
START_SEEDS = 1000  # start states compared per task


def import_envpool():
    try:
        import envpool
    except ImportError:
        raise UserError("this report needs EnvPool, which rlfree does not depend on: pip install envpool") from None
    return envpool


class EnvPoolCopies:
    """``num_envs`` EnvPool copies behind rlfree's batched-env protocol (:mod:`rlfree.batched`),
    in EnvPool's sync mode, stepping only the copies whose episode is still running.

    ``reset(seeds)`` builds a new pool: EnvPool takes one seed per copy when the pool is made and
    ignores ``reset(seed=...)``. ``build_seconds`` adds up the time spent building pools.
    """

    def __init__(self, env_id: str, num_envs: int, threads: int, dtype: torch.dtype = torch.float32):
        self.envpool = import_envpool()
        self.env_id, self.num_envs, self.threads, self.dtype = env_id, num_envs, threads, dtype
        self.device = torch.device("cpu")
        reference = gym.make(env_id)  # the same spaces as rlfree's copies, hence the same policy
        self.observation_space, self.action_space = reference.observation_space, reference.action_space
        reference.close()
        self.max_episode_steps = gym.spec(env_id).max_episode_steps
        self.pool = None
        self.build_seconds = 0.0

    def reset(self, seeds: torch.Tensor) -> torch.Tensor:
        started = time.perf_counter()
        if self.pool is not None:
            self.pool.close()
        self.pool = self.envpool.make_gymnasium(
            self.env_id, num_envs=self.num_envs, num_threads=self.threads, seed=[int(s) for s in seeds.reshape(-1).tolist()]
        )
        obs, _ = self.pool.reset()
        self.build_seconds += time.perf_counter() - started
        self._obs = np.array(obs)
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._terminated = np.zeros(self.num_envs, dtype=bool)
        self._truncated = np.zeros(self.num_envs, dtype=bool)
        return torch.as_tensor(self._obs, dtype=self.dtype)

    def step(self, actions: torch.Tensor):
        running = np.flatnonzero(~self._done)
        reward = np.zeros(self.num_envs)
        if len(running):
            obs, r, terminated, truncated, info = self.pool.step(actions.numpy()[running], running)
            ids = info["env_id"]
            self._obs[ids], reward[ids] = obs, r
            self._terminated[ids], self._truncated[ids] = terminated, truncated
            self._done[ids] = terminated | truncated
        return (
            torch.as_tensor(self._obs, dtype=self.dtype),
            torch.as_tensor(reward, dtype=self.dtype),
            torch.as_tensor(self._terminated),
            torch.as_tensor(self._truncated),
        )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def envpool_async_rollout(envpool, env_id: str, policy: Policy, params: torch.Tensor, seeds: torch.Tensor, threads: int,
                          horizon: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One generation on an async pool: (returns (P, E), lengths (P, E), seconds building the pool).

    params: (P, D); seeds: (E,), copy ``p * E + e`` is member p on seed e (as :func:`rlfree.evaluate.evaluate`).
    """
    population, episodes = params.shape[0], seeds.shape[0]
    copies = population * episodes
    started = time.perf_counter()
    pool = envpool.make_gymnasium(env_id, num_envs=copies, batch_size=copies // 2, num_threads=threads,
                                  seed=[int(s) for s in seeds.repeat(population).tolist()])
    pool.async_reset()
    build = time.perf_counter() - started
    # one row of weights per copy: any batch of copies is then a population of one episode each
    per_copy = params.repeat_interleave(episodes, 0)  # (copies, D)
    activations = policy.network(per_copy).initial_activations(1)  # (copies, 1, A)
    returns, lengths = torch.zeros(copies, dtype=torch.float64), torch.zeros(copies, dtype=torch.int64)
    running = np.ones(copies, dtype=bool)
    first = np.ones(copies, dtype=bool)  # the reset's observation has no reward
    try:
        while running.any():
            obs, reward, terminated, truncated, info = pool.recv()
            ids = np.asarray(info["env_id"])
            counted = ids[running[ids] & ~first[ids]]
            if len(counted):
                picked = running[ids] & ~first[ids]
                returns[counted] += torch.as_tensor(reward[picked], dtype=torch.float64)
                lengths[counted] += 1
                ended = (terminated | truncated)[picked] | (lengths[counted].numpy() >= horizon)
                running[counted[ended]] = False
            first[ids] = False
            index = torch.as_tensor(ids)
            obs_t = torch.as_tensor(obs, dtype=params.dtype)
            actions, new = policy.act(policy.network(per_copy[index]), obs_t, activations[index])
            activations[index] = new
            if running.any():  # copies already done keep stepping: an async pool waits for whole batches
                pool.send(actions.numpy(), ids)
    finally:
        pool.close()
    return returns.reshape(population, episodes), lengths.reshape(population, episodes), build


@dataclass
class Cell:
    steps_per_second: float
    generations: int
    build_share: float = 0.0  # of the time: building EnvPool pools
    first_returns: torch.Tensor | None = None  # (P, E) of generation 0


class Population:
    """What ``rlfree train`` evaluates in generation g with the library defaults: the centre a
    fresh run draws (seed 0), perturbed by sigma times the walk's perturbations, on the
    generation's episode seeds."""

    def __init__(self, env_id: str, population: int, episodes: int, hidden: int | None):
        config = Config()
        env = gym.make(env_id)
        network = config.network
        self.policy = Policy.for_spaces(env_id, env.observation_space, env.action_space,
                                        hidden=network.hidden if hidden is None else hidden, ticks=network.ticks,
                                        activation=network.activation)
        env.close()
        self.centre = self.policy.initial_params(weights_generator(0), network.init_scale)
        self.sigma, self.population, self.episodes = config.walk.sigma, population, episodes

    def generation(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(params (P, D) float32, seeds (E,) int64)."""
        eps = perturbations(0, g, self.population, self.centre.shape[0])
        return (self.centre[None] + self.sigma * eps).to(torch.float32), episode_seeds(0, g, self.episodes)


def run_cell(seconds: float, one_generation) -> Cell:
    """Generations 0, 1, ... of ``one_generation(g) -> (returns, steps, build seconds)`` until ``seconds`` passed."""
    steps, build, g, first = 0, 0.0, 0, None
    started = time.perf_counter()
    while True:
        returns, counted, built = one_generation(g)
        first = returns if first is None else first
        steps, build, g = steps + counted, build + built, g + 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Cell(steps / elapsed, g, build / elapsed, first)


def speed_cells(env_id: str, args) -> dict[str, Cell]:
    envpool = import_envpool()
    pop = Population(env_id, args.population, args.episodes, args.hidden)
    copies = args.population * args.episodes
    horizon = episode_limit(gym.spec(env_id).max_episode_steps, args.horizon)
    cells = {}

    def on(env):
        """One generation on ``env`` (a batched env of rlfree's protocol), for run_cell."""
        def one(g):
            params, seeds = pop.generation(g)
            before = getattr(env, "build_seconds", 0.0)
            rollout = evaluate(pop.policy, params, env, seeds, max_steps=horizon)
            return rollout.returns, rollout.env_steps, getattr(env, "build_seconds", 0.0) - before
        return one

    for label, vectorization, workers in (("rlfree sync", "sync", 0), ("rlfree async", "async", args.threads)):
        print(f"  {env_id}: {label} ...", file=sys.stderr, flush=True)
        env = GymVectorEnv(env_id, copies, vectorization=vectorization, workers=workers)
        try:
            cells[label] = run_cell(args.seconds, on(env))
        finally:
            env.close()
    print(f"  {env_id}: EnvPool sync ...", file=sys.stderr, flush=True)
    env = EnvPoolCopies(env_id, copies, args.threads)
    try:
        cells["EnvPool sync"] = run_cell(args.seconds, on(env))
    finally:
        env.close()
    print(f"  {env_id}: EnvPool async ...", file=sys.stderr, flush=True)

    def async_generation(g):
        params, seeds = pop.generation(g)
        returns, lengths, build = envpool_async_rollout(envpool, env_id, pop.policy, params, seeds, args.threads, horizon)
        return returns, int(lengths.sum()), build

    cells["EnvPool async"] = run_cell(args.seconds, async_generation)
    return cells


def speed_row(env_id: str, copies: int, cells: dict[str, Cell]) -> list[str]:
    rate = {label: cell.steps_per_second for label, cell in cells.items()}
    best_rlfree = max(rate["rlfree sync"], rate["rlfree async"])
    best_envpool = max(rate["EnvPool sync"], rate["EnvPool async"])

    def shown(label: str) -> str:
        return f"{rate[label]:,.0f} ({cells[label].generations})"

    return [
        env_id, str(copies), shown("rlfree sync"), shown("rlfree async"), shown("EnvPool sync"),
        f"{cells['EnvPool sync'].build_share:.0%}", shown("EnvPool async"), f"{best_envpool / best_rlfree:.2f}x",
    ]


# -- equivalence ------------------------------------------------------------------------------

def start_states(envpool, env_id: str, count: int) -> tuple[float, float, float]:
    """(max |obs difference| between EnvPool's seed s and gymnasium's seed s, largest KS
    distance over the start's components, smallest KS p-value) over seeds 0..count-1."""
    from scipy.stats import ks_2samp

    pool = envpool.make_gymnasium(env_id, num_envs=count, seed=list(range(count)))
    ours, _ = pool.reset()
    pool.close()
    env = gym.make(env_id)
    theirs = np.array([env.reset(seed=s)[0] for s in range(count)])
    env.close()
    tests = [ks_2samp(ours[:, j], theirs[:, j]) for j in range(ours.shape[1]) if np.ptp(np.r_[ours[:, j], theirs[:, j]]) > 0]
    return float(np.abs(ours - theirs).max()), max(t.statistic for t in tests), min(t.pvalue for t in tests)


def mujoco_transitions(envpool, env_id: str, copies: int = 32) -> dict[str, float]:
    """Gymnasium set to every state EnvPool visits under random actions, stepped once beside it."""
    pool = envpool.make_gymnasium(env_id, num_envs=copies, seed=list(range(100, 100 + copies)))
    obs, _ = pool.reset()
    env = gym.make(env_id)
    env.reset(seed=0)
    mj = env.unwrapped
    nq = mj.model.nq
    rng = np.random.default_rng(0)
    x = np.zeros(copies)  # the start's x: not in the observation, and 0 in the reset's info
    alive = np.ones(copies, dtype=bool)
    worst = {"transitions": 0, "close": 0, "obs": 0.0, "reward_rel": 0.0, "done_disagree": 0, "unrecoverable": 0}
    for _ in range(env.spec.max_episode_steps):
        actions = rng.uniform(-1, 1, (copies, *env.action_space.shape))
        next_obs, reward, terminated, truncated, info = pool.step(actions)
        for i in np.flatnonzero(alive):
            qvel = obs[i][nq - 1:]
            if env_id.startswith("Hopper") and np.abs(qvel).max() >= 10:  # Hopper clips qvel in its observation
                worst["unrecoverable"] += 1
                continue
            mj.set_state(np.r_[x[i], obs[i][: nq - 1]], qvel.copy())
            ours, ours_reward, ours_terminated, _, _ = mj.step(actions[i])
            difference = float(np.abs(ours - next_obs[i]).max())
            worst["transitions"] += 1
            worst["close"] += difference <= 1e-12
            worst["obs"] = max(worst["obs"], difference)
            worst["reward_rel"] = max(worst["reward_rel"], abs(ours_reward - reward[i]) / max(1.0, abs(ours_reward)))
            worst["done_disagree"] += bool(ours_terminated) != bool(terminated[i])
        x, obs = info["x_position"], next_obs
        alive &= ~(terminated | truncated)
        if not alive.any():
            break
    pool.close()
    worst["parted_envpool"], worst["parted_self"], worst["length"] = _parting_steps(envpool, env, rng)
    env.close()
    return worst


def _parting_steps(envpool, env, rng) -> tuple[int | None, int | None, int]:
    """Steps until whole trajectories differ by more than 1e-6 under the same random actions:
    EnvPool against gymnasium from EnvPool's start (x 0), and gymnasium against itself with
    its start x moved by 1e-12; None if they never did, and the episode's length."""
    mj = env.unwrapped
    nq = mj.model.nq
    pool = envpool.make_gymnasium(env.spec.id, num_envs=1, seed=[7])
    start, _ = pool.reset()
    twin = gym.make(env.spec.id)
    env.reset(seed=7)
    twin.reset(seed=7)
    twin.unwrapped.set_state(mj.data.qpos + np.r_[1e-12, np.zeros(nq - 1)], mj.data.qvel.copy())
    gym_from_pool = gym.make(env.spec.id)
    gym_from_pool.reset(seed=0)
    gym_from_pool.unwrapped.set_state(np.r_[0.0, start[0][: nq - 1]], start[0][nq - 1:].copy())
    parted = [None, None]
    length = 0
    for t in range(env.spec.max_episode_steps):
        action = rng.uniform(-1, 1, env.action_space.shape)
        a, _, a_term, a_trunc, _ = pool.step(action[None])
        b, _, b_term, b_trunc, _ = gym_from_pool.step(action)
        c, _, c_term, c_trunc, _ = env.step(action)
        d, _, d_term, d_trunc, _ = twin.step(action)
        length = t + 1
        for k, (p, q) in enumerate(((a[0], b), (c, d))):
            if parted[k] is None and np.abs(p - q).max() > 1e-6:
                parted[k] = t + 1
        if a_term[0] or a_trunc[0] or b_term or c_term or c_trunc or d_term:
            break
    pool.close()
    twin.close()
    gym_from_pool.close()
    return parted[0], parted[1], length


class PushedWalker(bipedal_walker.BipedalWalker):
    """Gymnasium's walker whose initial push is ``push`` instead of a draw from its generator;
    its terrain is still drawn from its seed."""

    push = 0.0

    def _generate_clouds(self):  # the draw of the push comes right after the clouds
        super()._generate_clouds()
        generator, walker = self.np_random, self

        class PushOnce:
            def uniform(self, low, high):
                walker.np_random = generator
                return walker.push

            def __getattr__(self, name):
                return getattr(generator, name)

        self.np_random = PushOnce()


def walker_start_pad(envpool, seed: int = 3) -> dict[str, float]:
    """EnvPool's walker beside gymnasium's given the same push, stepped with the same small random
    actions until the two lidars differ (the terrain beyond the start pad) or an episode ends."""
    pool = envpool.make_gymnasium("BipedalWalker-v3", num_envs=1, seed=[seed])
    start, _ = pool.reset()
    env = PushedWalker()
    low, high = -bipedal_walker.INITIAL_RANDOM, bipedal_walker.INITIAL_RANDOM
    for _ in range(60):  # the hull's horizontal speed after the push grows with the push
        env.push = (low + high) / 2
        low, high = (env.push, high) if env.reset(seed=0)[0][2] < start[0][2] else (low, env.push)
    env.push = (low + high) / 2
    found = {"start_diff": float(np.abs(env.reset(seed=0)[0] - start[0]).max()), "body_diff": 0.0, "reward_diff": 0.0}
    rng = np.random.default_rng(1)
    for t in range(gym.spec("BipedalWalker-v3").max_episode_steps):
        action = rng.uniform(-0.3, 0.3, 4).astype(np.float32)
        a, ra, ta, _, _ = pool.step(action[None])
        b, rb, tb, _, _ = env.step(action)
        found["steps"] = t + 1
        if np.abs(a[0][14:] - b[14:]).max() > 1e-3:
            hits = [lidar.p1[0] + (lidar.p2[0] - lidar.p1[0]) * lidar.fraction for lidar in env.lidar]
            found["parted_lidar_x"] = max(hits)
            break
        found["body_diff"] = max(found["body_diff"], float(np.abs(a[0][:14] - b[:14]).max()))
        found["reward_diff"] = max(found["reward_diff"], abs(float(ra[0]) - rb))
        if ta[0] or tb:
            break
    found["pad_end_x"] = bipedal_walker.TERRAIN_STARTPAD * bipedal_walker.TERRAIN_STEP
    pool.close()
    env.close()
    return found


def first_returns(env_id: str, args) -> tuple[torch.Tensor, torch.Tensor]:
    """Generation 0's returns (P, E) on rlfree's copies and on EnvPool, untimed (when the speed
    table, which keeps them, was left out)."""
    pop = Population(env_id, args.population, args.episodes, args.hidden)
    params, seeds = pop.generation(0)
    horizon = episode_limit(gym.spec(env_id).max_episode_steps, args.horizon)
    returns = []
    for env in (GymVectorEnv(env_id, args.population * args.episodes), EnvPoolCopies(env_id, args.population * args.episodes, args.threads)):
        try:
            returns.append(evaluate(pop.policy, params, env, seeds, max_steps=horizon).returns)
        finally:
            env.close()
    return returns[0], returns[1]


def paired_returns(theirs: torch.Tensor, ours: torch.Tensor) -> str:
    """Gymnasium's and EnvPool's mean return (P, E each), and the mean over members of
    (EnvPool's - gymnasium's) ± its standard error."""
    difference = (ours - theirs).mean(dim=1).to(torch.float64)
    mean, se = float(theirs.mean()), float(difference.std() / math.sqrt(len(difference)))
    return f"{mean:,.1f} / {float(ours.mean()):,.1f} (difference {float(difference.mean()):+,.1f} ± {se:,.1f})"


def equivalence_rows(env_id: str, envpool, cells: dict[str, Cell] | None, args) -> list[str]:
    same_seed, ks, p = start_states(envpool, env_id, START_SEEDS)
    starts = f"seed s: differ by up to {same_seed:.3g}; distribution: KS <= {ks:.3f} (p >= {p:.2f})"
    if env_id in MUJOCO_IDS:
        found = mujoco_transitions(envpool, env_id)
        steps = (f"{found['transitions']:,} one-step transitions: obs within 1e-12 in {found['close'] / found['transitions']:.2%}, "
                 f"all within {found['obs']:.1g}; reward within "
                 f"{found['reward_rel']:.1g} relative (EnvPool's rewards are float32), {found['done_disagree']} terminations differ"
                 + (f", {found['unrecoverable']} states not recoverable (clipped qvel)" if found["unrecoverable"] else ""))
        parted = {key: "never more than 1e-6 apart" if found[key] is None else f"more than 1e-6 apart from step {found[key]}"
                  for key in ("parted_envpool", "parted_self")}
        episodes = (f"from EnvPool's start: {parted['parted_envpool']}; gymnasium against itself, its start moved by 1e-12: "
                    f"{parted['parted_self']} ({found['length']} steps)")
    else:
        found = walker_start_pad(envpool)
        steps = (f"same push: first obs within {found['start_diff']:.1g}; {found['steps'] - 1} steps on the start pad: body obs "
                 f"within {found['body_diff']:.1g}, reward within {found['reward_diff']:.1g}")
        episodes = (f"lidars part at step {found['steps']}, a ray reaching x = {found.get('parted_lidar_x', float('nan')):.2f} "
                    f"past the start pad's end at {found['pad_end_x']:.2f}: the terrain differs")
    if cells:
        returns = paired_returns(cells["rlfree sync"].first_returns, cells["EnvPool sync"].first_returns)
    else:
        returns = paired_returns(*first_returns(env_id, args))
    return [env_id, starts, steps, episodes, returns]


def main(argv=None) -> int:
    parser = ArgumentParser(prog="envpool_compare.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS), choices=ENV_IDS, metavar="ENV", help=f"tasks (default: {' '.join(ENV_IDS)})")
    parser.add_argument("--population", type=int, default=64, help="members P (default: %(default)s, ARS's 32 directions on HalfCheetah, mirrored)")
    parser.add_argument("--episodes", type=int, default=Config().run.episodes, help="episodes E per member (default: rlfree's, %(default)s)")
    parser.add_argument("--hidden", type=int, default=None, help="hidden units of the free network (default: rlfree's)")
    parser.add_argument("--horizon", type=int, default=0, help="cut episodes after this many steps (default 0: the env's time limit)")
    parser.add_argument("--seconds", type=float, default=3.0, help="run each speed cell for at least this long, whole generations (default: 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="EnvPool threads and rlfree worker processes (default: one per core, %(default)s)")
    parser.add_argument("--skip-speed", action="store_true", help="leave out the speed table")
    parser.add_argument("--skip-equivalence", action="store_true", help="leave out the equivalence table")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    args = parser.parse_args(argv)
    for name in ("population", "episodes", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)} is not accepted: use 1 or more")
    if args.population * args.episodes < 2:
        parser.error("--population x --episodes must be 2 or more: the async pool steps half the copies at a time")
    if args.seconds < 0 or args.horizon < 0 or (args.hidden is not None and args.hidden < 0):
        parser.error("--seconds, --horizon and --hidden are not accepted below 0")
    with user_errors(parser.prog):
        envpool = import_envpool()
        for env_id in args.envs:
            check_dependencies(env_id)
        torch.set_num_threads(1)  # rlfree's default: one torch thread for the policy
        load = os.getloadavg()[0]
        out = [f"envpool {envpool.__version__}, gymnasium {gym.__version__}, torch {torch.__version__}; {os.cpu_count()} cores, "
               f"load average {load:.2f} at the start"]
        cells = {}
        if not args.skip_speed:
            rows = []
            for env_id in args.envs:
                cells[env_id] = speed_cells(env_id, args)
                rows.append(speed_row(env_id, args.population * args.episodes, cells[env_id]))
            hidden = Config().network.hidden if args.hidden is None else args.hidden
            out += ["", f"Env steps per second (generations run), {args.population} members x {args.episodes} episode{'s' * (args.episodes > 1)}, free network "
                        f"hidden {hidden}, {args.threads} worker processes / EnvPool threads, one torch thread:", "",
                    markdown_table(["task", "copies", "rlfree sync", f"rlfree async ({args.threads} workers)", "EnvPool sync (a pool per generation)",
                              "of which building pools", f"EnvPool async (batch {args.population * args.episodes // 2})", "EnvPool best / rlfree best"], rows)]
        if not args.skip_equivalence:
            print("  equivalence ...", file=sys.stderr, flush=True)
            rows = [equivalence_rows(env_id, envpool, cells.get(env_id), args) for env_id in args.envs]
            out += ["", f"Does EnvPool give gymnasium's episodes? (start states over seeds 0-{START_SEEDS - 1}; random actions)", "",
                    markdown_table(["task", "start states", "transitions from the same state", "whole episodes",
                              "generation 0 mean return: gymnasium / EnvPool (paired by member)"], rows)]
        out += ["", f"load average {os.getloadavg()[0]:.2f} at the end"]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
