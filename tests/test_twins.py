"""The classic-control twins against gymnasium's own environments, step for step (gymnax's way).

Each equivalence test runs a batch of copies of one twin beside as many ``gym.make`` envs:
every gymnasium env is reset with its own seed, its start state is copied into the twin's row,
then both take the same actions through whole episodes while observations, rewards,
terminated, truncated and the raw state are compared at every step. Policies mix random
actions with simple controllers so that the episodes end both ways: terminated and truncated.

After every step gymnasium's state is copied into the twin again (as gymnax's tests do), so
each comparison checks one transition: the same open-loop actions from a state a rounding apart
grow the difference exponentially in CartPole's and Acrobot's unstable modes (to about 1e-9
within 200 CartPole steps), which says nothing about the twin. A float64 twin must then agree to
1e-9, a float32 twin to 1e-4 relative.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlfree.envs  # noqa: F401  registers the twins
from rlfree.registry import make_twin

from conftest import DEVICES
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
TWIN_IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]

# The policy of each copy in the batch, one entry per copy (several per task, so that copies
# start from different states and end at different times).
MODES = {
    "CartPole-v1": ["random"] * 4 + ["balance"] * 4 + ["mostly_balance"] * 4,
    "Acrobot-v1": ["random"] * 4 + ["pump"] * 6 + ["mostly_pump"] * 2,
    "MountainCar-v0": ["random"] * 4 + ["pump"] * 4 + ["wall_then_pump"] * 4,
    "MountainCarContinuous-v0": ["random"] * 3 + ["pump"] * 4 + ["wall_then_pump"] * 3,
    "Pendulum-v1": ["random"] * 6 + ["pump"] * 4,
}

# Start states gymnasium 1.4 draws, per state component: (low, high); low == high is a constant.
START_RANGES = {
    "CartPole-v1": [(-0.05, 0.05)] * 4,
    "Acrobot-v1": [(-0.1, 0.1)] * 4,
    "MountainCar-v0": [(-0.6, -0.4), (0.0, 0.0)],
    "MountainCarContinuous-v0": [(-0.6, -0.4), (0.0, 0.0)],
    "Pendulum-v1": [(-math.pi, math.pi), (-1.0, 1.0)],
}


def _box_action(value: float, low: float, high: float) -> np.ndarray:
    # multiples of 1/256: gymnasium's Pendulum multiplies the float32 torque by Python floats in
    # float32 (NumPy 2), which is exact, hence equal to the twin's float64, only for such values
    return np.array([round(float(np.clip(value, low, high)) * 256) / 256], dtype=np.float32)


def policy(env_id: str, mode: str, obs: np.ndarray, t: int, rng: np.random.Generator):
    """One gymnasium action for one copy, from gymnasium's own observation."""
    explore = mode == "random" or (mode.startswith("mostly_") and rng.random() < 0.2)
    if env_id == "CartPole-v1":
        x, x_dot, theta, theta_dot = obs
        return int(rng.integers(2)) if explore else int(3 * theta + theta_dot + 0.1 * x + 0.5 * x_dot > 0)
    if env_id == "Acrobot-v1":
        return int(rng.integers(3)) if explore else (2 if obs[5] > 0 else 0)  # torque along dtheta2
    if env_id == "MountainCar-v0":
        if explore:
            return int(rng.integers(3))
        if mode == "wall_then_pump" and t < 60:
            return 0  # drive into the left wall, where gymnasium zeroes the velocity
        return 2 if obs[1] >= 0 else 0
    if env_id == "MountainCarContinuous-v0":
        # actions beyond [-1, 1]: gymnasium clips the force but charges the unclipped action
        if explore:
            return _box_action(rng.uniform(-1.5, 1.5), -1.5, 1.5)
        if mode == "wall_then_pump" and t < 60:
            return _box_action(-1.25, -1.5, 1.5)
        return _box_action(1.25 if obs[1] >= 0 else -1.0, -1.5, 1.5)
    if env_id == "Pendulum-v1":
        if explore:
            return _box_action(rng.uniform(-3.0, 3.0), -3.0, 3.0)  # beyond +-2: clipped
        return _box_action(2.5 if obs[2] >= 0 else -2.5, -3.0, 3.0)
    raise ValueError(env_id)


def tolerances(env_id: str, dtype: torch.dtype) -> dict[str, dict[str, float]]:
    """(rtol, atol) for state, observation and reward; see the module docstring."""
    if dtype == torch.float32:
        loose = dict(rtol=1e-4, atol=1e-5)
        return dict(state=loose, obs=loose, reward=loose)
    tight = dict(rtol=1e-9, atol=1e-9)
    # gymnasium's observation is its float64 state rounded to float32: equal up to the state's
    # tolerance plus one float32 rounding
    obs = dict(rtol=2.5e-7, atol=1e-9)
    if env_id == "MountainCarContinuous-v0":
        # gymnasium keeps this task's state in float32 and does part of its step in float32
        f32 = dict(rtol=1e-6, atol=1e-7)
        return dict(state=f32, obs=f32, reward=tight)
    return dict(state=tight, obs=obs, reward=tight)


def gym_state(env: gym.Env) -> np.ndarray:
    return np.asarray(env.unwrapped.state, dtype=np.float64)


def assert_close(actual: np.ndarray, desired: np.ndarray, rtol: float, atol: float, err_msg: str) -> None:
    """np.testing.assert_allclose, with a cheap pass path for the thousands of steps that agree."""
    actual, desired = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    if actual.shape != desired.shape or not np.all(np.abs(actual - desired) <= atol + rtol * np.abs(desired)):
        np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=err_msg)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_twin_matches_gymnasium_step_for_step(env_id, dtype):
    modes = MODES[env_id]
    n = len(modes)
    assert n >= 10
    tol = tolerances(env_id, dtype)
    rng = np.random.default_rng(12345)
    gym_envs = [gym.make(env_id) for _ in range(n)]
    twin = make_twin(env_id, n, dtype=dtype)
    gym_obs = np.stack([env.reset(seed=1000 + i)[0] for i, env in enumerate(gym_envs)])
    start = np.stack([gym_state(env) for env in gym_envs])
    assert len({tuple(row) for row in start}) == n, "every copy should start elsewhere"

    twin_obs = twin.set_state(torch.tensor(start))
    np.testing.assert_allclose(twin_obs.to(torch.float32).numpy(), gym_obs, **tol["obs"])

    discrete = isinstance(twin.action_space, gym.spaces.Discrete)
    idle = 0 if discrete else np.zeros(twin.action_space.shape, dtype=np.float32)
    active = np.ones(n, dtype=bool)
    terminations = truncations = 0
    wall_hits = 0
    t = 0
    while active.any():
        # a finished copy's row is stepped with a placeholder action and no longer compared
        actions = [policy(env_id, modes[i], gym_obs[i], t, rng) if active[i] else idle for i in range(n)]
        if discrete:
            twin_actions = torch.tensor(np.array(actions), dtype=torch.int64)
        else:
            twin_actions = torch.tensor(np.stack(actions)).to(dtype)
        obs, reward, terminated, truncated = twin.step(twin_actions)
        t += 1
        assert obs.dtype == dtype and reward.dtype == dtype
        assert terminated.dtype == torch.bool and truncated.dtype == torch.bool
        assert obs.shape == (n, *twin.observation_space.shape) and reward.shape == terminated.shape == truncated.shape == (n,)

        rows = np.flatnonzero(active)
        g_obs, g_rew, g_term, g_trunc = [], [], [], []
        for i in rows:
            o, r, te, tr, _ = gym_envs[i].step(actions[i])
            gym_obs[i] = o
            g_obs.append(o), g_rew.append(r), g_term.append(te), g_trunc.append(tr)
        where = f"{env_id} {dtype} step {t}, copies {rows.tolist()}"
        assert_close(terminated.numpy()[rows], g_term, rtol=0, atol=0, err_msg=where)
        assert_close(truncated.numpy()[rows], g_trunc, rtol=0, atol=0, err_msg=where)
        assert_close(reward.numpy()[rows], g_rew, **tol["reward"], err_msg=where)
        assert_close(obs.to(torch.float32).numpy()[rows], np.stack(g_obs), **tol["obs"], err_msg=where)
        states = np.stack([gym_state(env) for env in gym_envs])
        assert_close(twin.state.numpy()[rows], states[rows], **tol["state"], err_msg=where)

        terminations += int(np.sum(g_term))
        truncations += int(np.sum(np.logical_and(g_trunc, np.logical_not(g_term))))
        if env_id.startswith("MountainCar"):
            wall_hits += int(np.sum(states[rows, 0] <= -1.2 + 1e-6))  # float32 in MountainCarContinuous
        active[rows[np.logical_or(g_term, g_trunc)]] = False
        # alternate the memory layout of the state handed over: row-major (N, S) here, and the
        # column-contiguous layout that twins produce themselves
        handed = torch.tensor(states) if t % 2 else torch.tensor(states.T.copy()).T
        twin.set_state(handed, elapsed_steps=t)

    assert truncations > 0, f"no {env_id} episode was truncated"
    if env_id != "Pendulum-v1":  # Pendulum never terminates
        assert terminations > 0, f"no {env_id} episode terminated"
    if env_id.startswith("MountainCar"):
        assert wall_hits > 0, "no copy reached the left wall, where the velocity is zeroed"
    for env in gym_envs:
        env.close()


# Boxes of states, per component (low, high), wider than episodes from gymnasium's start states
# reach in a few hundred steps: Acrobot's velocity bounds and angle wrap, the cars' walls and
# speed limits, an unwrapped Pendulum angle.
WIDE_STATES = {
    "CartPole-v1": [(-2.4, 2.4), (-3.0, 3.0), (-0.21, 0.21), (-3.0, 3.0)],
    "Acrobot-v1": [(-math.pi, math.pi), (-math.pi, math.pi), (-4 * math.pi, 4 * math.pi), (-9 * math.pi, 9 * math.pi)],
    "MountainCar-v0": [(-1.2, 0.6), (-0.07, 0.07)],
    "MountainCarContinuous-v0": [(-1.2, 0.6), (-0.07, 0.07)],
    "Pendulum-v1": [(-12.0, 12.0), (-8.0, 8.0)],
}
WIDE_ACTIONS = {
    "MountainCarContinuous-v0": [-1.5, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5],
    "Pendulum-v1": [-3.0, -2.0, -0.5, 0.0, 1.25, 2.0, 3.0],
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_one_step_from_states_across_the_whole_state_space(env_id, dtype):
    """Every action from 60 states spread over WIDE_STATES (its corners included), one batch."""
    rng = np.random.default_rng(7)
    box = np.array(WIDE_STATES[env_id])
    states = rng.uniform(box[:, 0], box[:, 1], size=(60, len(box)))
    states[:8] = box[:, 0] + (box[:, 1] - box[:, 0]) * rng.integers(0, 2, size=(8, len(box)))  # corners
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    if isinstance(env.action_space, gym.spaces.Discrete):
        actions = list(range(int(env.action_space.n)))
    else:
        actions = [_box_action(a, -3.0, 3.0) for a in WIDE_ACTIONS[env_id]]
    rows = [(state, action) for state in states for action in actions]
    twin = make_twin(env_id, len(rows), dtype=dtype)
    twin.set_state(torch.tensor(np.stack([state for state, _ in rows])))
    if isinstance(env.action_space, gym.spaces.Discrete):
        twin_actions = torch.tensor([action for _, action in rows])
    else:
        twin_actions = torch.tensor(np.stack([action for _, action in rows])).to(dtype)
    obs, reward, terminated, truncated = twin.step(twin_actions)
    expected = []
    for state, action in rows:
        env.state = state.copy()
        env.steps_beyond_terminated = None  # CartPole's memory of a past termination
        expected.append((*env.step(action)[:3], gym_state(env)))
    g_obs, g_rew, g_term, g_state = (np.stack(column) for column in zip(*expected, strict=True))
    tol = tolerances(env_id, dtype)
    np.testing.assert_array_equal(terminated.numpy(), g_term)
    assert not truncated.any()
    assert_close(reward.numpy(), g_rew, **tol["reward"], err_msg=env_id)
    assert_close(obs.to(torch.float32).numpy(), g_obs, **tol["obs"], err_msg=env_id)
    assert_close(twin.state.numpy(), g_state, **tol["state"], err_msg=env_id)
    if env_id == "Acrobot-v1":  # the bounds and the wrap were met
        assert np.any(np.abs(g_state[:, 2]) == 4 * math.pi) and np.any(np.abs(g_state[:, 3]) == 9 * math.pi)
        assert np.any(np.abs(g_state[:, :2] - states.repeat(len(actions), 0)[:, :2]) > math.pi)
    if env_id != "Pendulum-v1":
        assert g_term.any() and not g_term.all()


@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_twin_spaces_and_time_limit_are_gymnasiums(env_id):
    env = gym.make(env_id)
    twin = make_twin(env_id, 3)
    assert twin.env_id == env_id
    assert twin.observation_space == env.observation_space
    assert twin.action_space == env.action_space
    assert twin.max_episode_steps == env.spec.max_episode_steps
    env.close()


@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_start_ranges_are_the_ones_gymnasium_draws_from(env_id):
    """Pins START_RANGES, which the start-state tests below rely on, to gymnasium itself."""
    env = gym.make(env_id)
    for seed in range(50):
        env.reset(seed=seed)
        state = gym_state(env)
        for value, (low, high) in zip(state, START_RANGES[env_id], strict=True):
            assert low <= value <= high
    env.close()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_start_states_follow_gymnasiums_uniform_distribution(env_id, dtype):
    n = 8000  # (N, 4) draws stay under torch's 32768-element grain: one thread, fast on a busy machine
    twin = make_twin(env_id, n, dtype=dtype)
    obs = twin.reset(torch.arange(n) * 7919 + 3)
    state = twin.state.double().numpy()
    assert obs.dtype == dtype and twin.state.dtype == dtype
    for k, (low, high) in enumerate(START_RANGES[env_id]):
        column = state[:, k]
        if low == high:
            assert np.all(column == low)
            continue
        assert column.min() >= low and column.max() <= high
        # uniform(low, high): mean (low + high) / 2 within 4 standard errors, sd (high - low) / sqrt(12)
        sd = (high - low) / math.sqrt(12)
        assert abs(column.mean() - (low + high) / 2) < 4 * sd / math.sqrt(n)
        assert abs(column.std() - sd) < 0.02 * sd
        # the range is filled: both ends are approached within 1% of its width
        assert column.min() < low + 0.01 * (high - low) and column.max() > high - 0.01 * (high - low)
    space = twin.observation_space
    assert all(space.contains(row) for row in obs[:200].to(torch.float32).numpy())


@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_start_state_is_a_function_of_the_seed_alone(env_id):
    twin = make_twin(env_id, 4, dtype=torch.float64)
    twin.reset(torch.tensor([11, 11, 12, 2**40 + 11]))
    state = twin.state.clone()
    random = [k for k, (low, high) in enumerate(START_RANGES[env_id]) if low < high]
    assert torch.equal(state[0], state[1])
    assert torch.all(state[0, random] != state[2, random])
    assert torch.all(state[0, random] != state[3, random])  # the seed's high bits count too
    # neither the batch around a copy nor a second reset changes its start
    alone = make_twin(env_id, 1, dtype=torch.float64)
    alone.reset(torch.tensor([12]))
    assert torch.equal(alone.state[0], state[2])
    twin.reset(torch.tensor([11, 11, 12, 2**40 + 11]))
    assert torch.equal(twin.state, state)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("env_id", TWIN_IDS)
def test_twin_runs_on_every_device(env_id, device):
    n, steps = 6, 30
    results = {}
    for where in dict.fromkeys(["cpu", device]):
        torch.manual_seed(0)
        twin = make_twin(env_id, n, device=where, dtype=torch.float64)
        obs = twin.reset(torch.arange(n))
        trace = [obs]
        for _ in range(steps):
            space = twin.action_space
            if isinstance(space, gym.spaces.Discrete):
                actions = torch.randint(0, int(space.n), (n,)).to(where)
            else:
                actions = (torch.rand(n, *space.shape, dtype=torch.float64) * 4 - 2).to(where)
            out = twin.step(actions)
            for tensor in out:
                assert tensor.device.type == torch.device(where).type
            trace.extend(out)
        assert twin.elapsed_steps == steps
        results[where] = [x.cpu() for x in trace]
    for a, b in zip(results["cpu"], results[device], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        # (torch.testing.assert_close would do, but its first import costs a second)
        assert torch.equal(a, b) if a.dtype == torch.bool else torch.allclose(a, b, rtol=1e-9, atol=1e-9)
