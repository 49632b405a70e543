"""rlfree/CartPoleSwingUp-v0: the gymnasium env against the reference's equations, and the twin
against the env step for step from identical states (as tests/test_twins.py does for CartPole)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlfree.envs  # noqa: F401  registers the env and its twin
from rlfree.envs.cartpole_swingup import ENV_ID, CartPoleSwingUpTwin
from rlfree.registry import make_twin, registered_twins

from test_twins import assert_close, gym_state, tolerances


def reference_step(state, action):
    """The reference's stateUpdate and reward, written out once more with its own names."""
    g, m_c, m_p, l, b, dt, force_mag = 9.82, 0.5, 0.5, 0.6, 0.1, 0.01, 10.0
    total_m, m_p_l = m_p + m_c, m_p * l
    action = np.clip(action, -1.0, 1.0)[0] * force_mag
    x, x_dot, theta, theta_dot = state
    s, c = math.sin(theta), math.cos(theta)
    xdot_update = (-2 * m_p_l * (theta_dot**2) * s + 3 * m_p * g * s * c + 4 * action - 4 * b * x_dot) / (4 * total_m - 3 * m_p * c**2)
    thetadot_update = (-3 * m_p_l * (theta_dot**2) * s * c + 6 * total_m * g * s + 6 * (action - b * x_dot) * c) / (4 * l * total_m - 3 * m_p_l * c**2)
    x, theta = x + x_dot * dt, theta + theta_dot * dt
    x_dot, theta_dot = x_dot + xdot_update * dt, theta_dot + thetadot_update * dt
    reward = (np.cos(theta) + 1.0) / 2.0 * np.cos((x / 2.4) * (np.pi / 2.0))
    return np.array([x, x_dot, theta, theta_dot]), reward, bool(x < -2.4 or x > 2.4)


def test_env_follows_the_reference_equations():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        state = gym_state(env)
        action = rng.uniform(-1.5, 1.5, size=1).astype(np.float32)
        expected_state, expected_reward, expected_done = reference_step(state, action.astype(np.float64))
        obs, reward, terminated, truncated, _ = env.step(action)
        np.testing.assert_allclose(gym_state(env), expected_state, rtol=1e-12, atol=1e-12)
        assert reward == pytest.approx(expected_reward, rel=1e-12, abs=1e-12)
        assert terminated == expected_done and not truncated
        x, x_dot, theta, theta_dot = expected_state
        np.testing.assert_allclose(obs, np.array([x, x_dot, math.cos(theta), math.sin(theta), theta_dot], dtype=np.float32))
        if terminated:
            break
    env.close()


def test_env_spaces_time_limit_and_start_states():
    env = gym.make(ENV_ID)
    assert env.spec.max_episode_steps == 1000
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.observation_space.shape == (5,)
    starts = np.stack([(env.reset(seed=s), gym_state(env))[1] for s in range(2000)])
    np.testing.assert_allclose(starts.mean(0), [0.0, 0.0, math.pi, 0.0], atol=4 * 0.2 / math.sqrt(2000))
    np.testing.assert_allclose(starts.std(0), [0.2] * 4, rtol=0.06)
    env.reset(seed=1)
    first = gym_state(env)
    env.reset(seed=1)
    assert np.array_equal(first, gym_state(env))
    env.close()


def test_an_idle_cart_runs_to_the_time_limit():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    steps, total, done = 0, 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        steps, total, done = steps + 1, total + reward, terminated or truncated
    assert steps == 1000 and truncated and not terminated
    assert 0.0 < total < 200.0  # the pole swings below the horizontal: far from 1 per step
    env.close()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_twin_matches_the_env_step_for_step(dtype):
    """Copies push randomly, hard one way (the cart leaves the track: terminated) or pump the
    swing (runs to the time limit: truncated); gymnasium's state is copied back after each step."""
    n = 12
    modes = ["random"] * 4 + ["push"] * 4 + ["pump"] * 4
    tol = tolerances("CartPole-v1", dtype)
    rng = np.random.default_rng(5)
    envs = [gym.make(ENV_ID) for _ in range(n)]
    gym_obs = np.stack([env.reset(seed=100 + i)[0] for i, env in enumerate(envs)])
    twin = make_twin(ENV_ID, n, dtype=dtype)
    twin_obs = twin.set_state(torch.tensor(np.stack([gym_state(env) for env in envs])))
    assert_close(twin_obs.to(torch.float32).numpy(), gym_obs, **tol["obs"], err_msg="start")
    active = np.ones(n, dtype=bool)
    terminations = truncations = t = 0
    while active.any():
        actions = []
        for i in range(n):
            if modes[i] == "random":
                value = rng.uniform(-1.5, 1.5)
            elif modes[i] == "push":
                value = 1.2 if i % 2 else -1.2
            else:
                value = 1.0 if gym_obs[i][4] * gym_obs[i][2] < 0 else -1.0  # push along the pole's swing
            actions.append(np.array([value], dtype=np.float32))
        obs, reward, terminated, truncated = twin.step(torch.tensor(np.stack(actions)).to(dtype))
        t += 1
        rows = np.flatnonzero(active)
        g = [envs[i].step(actions[i]) for i in rows]
        for i, step in zip(rows, g):
            gym_obs[i] = step[0]
        where = f"{dtype} step {t}"
        assert_close(terminated.numpy()[rows], [s[2] for s in g], rtol=0, atol=0, err_msg=where)
        assert_close(truncated.numpy()[rows], [s[3] for s in g], rtol=0, atol=0, err_msg=where)
        assert_close(reward.numpy()[rows], [s[1] for s in g], **tol["reward"], err_msg=where)
        assert_close(obs.to(torch.float32).numpy()[rows], np.stack([s[0] for s in g]), **tol["obs"], err_msg=where)
        states = np.stack([gym_state(env) for env in envs])
        assert_close(twin.state.numpy()[rows], states[rows], **tol["state"], err_msg=where)
        terminations += sum(s[2] for s in g)
        truncations += sum(s[3] and not s[2] for s in g)
        active[rows[[s[2] or s[3] for s in g]]] = False
        twin.set_state(torch.tensor(states), elapsed_steps=t)
    assert terminations > 0 and truncations > 0
    for env in envs:
        env.close()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_twin_one_step_across_the_state_space(dtype):
    rng = np.random.default_rng(7)
    box = np.array([(-2.4, 2.4), (-6.0, 6.0), (-4 * math.pi, 4 * math.pi), (-15.0, 15.0)])
    states = rng.uniform(box[:, 0], box[:, 1], size=(80, 4))
    actions = [-1.5, -1.0, -0.25, 0.0, 0.5, 1.0, 1.5]
    rows = [(s, a) for s in states for a in actions]
    twin = make_twin(ENV_ID, len(rows), dtype=dtype)
    twin.set_state(torch.tensor(np.stack([s for s, _ in rows])))
    obs, reward, terminated, truncated = twin.step(torch.tensor([[a] for _, a in rows], dtype=dtype))
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=0)
    expected = []
    for s, a in rows:
        env.state = s.copy()
        expected.append((*env.step(np.array([a], dtype=np.float32))[:3], gym_state(env)))
    g_obs, g_rew, g_term, g_state = (np.stack(c) for c in zip(*expected))
    tol = tolerances("CartPole-v1", dtype)
    np.testing.assert_array_equal(terminated.numpy(), g_term)
    assert g_term.any() and not g_term.all() and not truncated.any()
    assert_close(reward.numpy(), g_rew, **tol["reward"], err_msg="reward")
    assert_close(obs.to(torch.float32).numpy(), g_obs, **tol["obs"], err_msg="obs")
    assert_close(twin.state.numpy(), g_state, **tol["state"], err_msg="state")


def test_twin_is_registered_with_the_envs_spaces_and_limit():
    assert ENV_ID in registered_twins()
    env = gym.make(ENV_ID)
    twin = make_twin(ENV_ID, 3)
    assert isinstance(twin, CartPoleSwingUpTwin)
    assert twin.observation_space == env.observation_space and twin.action_space == env.action_space
    assert twin.max_episode_steps == env.spec.max_episode_steps
    env.close()


def test_twin_start_states_are_the_references_normal_and_a_function_of_the_seed():
    n = 8000
    twin = make_twin(ENV_ID, n, dtype=torch.float64)
    twin.reset(torch.arange(n) * 7919 + 3)
    state = twin.state.numpy()
    np.testing.assert_allclose(state.mean(0), [0.0, 0.0, math.pi, 0.0], atol=4 * 0.2 / math.sqrt(n))
    np.testing.assert_allclose(state.std(0), [0.2] * 4, rtol=0.03)
    # normal, not uniform: about 4.6% beyond two standard deviations
    beyond = np.mean(np.abs(state[:, 0]) > 0.4)
    assert 0.035 < beyond < 0.057
    twin.reset(torch.tensor([11, 11, 12, 2**40 + 11] * (n // 4)))
    assert torch.equal(twin.state[0], twin.state[1]) and not torch.equal(twin.state[0], twin.state[2])
    assert not torch.equal(twin.state[0], twin.state[3])
