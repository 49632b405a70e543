"""Rollouts of a population: exact returns and lengths, masking, common random numbers, seeds."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.registry import make_twin
from rlfree.evaluate import evaluate
from rlfree.policy import Policy
from rlfree.seeding import episode_seeds
from rlfree.vector import GymVectorEnv

from conftest import DEVICES

COUNTDOWN_ID = "rlfree_test/Countdown-v0"
TIME_LIMIT = 5


def countdown_length(seed: int) -> int:
    return 2 + seed % 5  # 2..6 steps; 6 is cut to TIME_LIMIT = 5 by the TimeLimit wrapper


class CountdownEnv(gym.Env):
    """A seed sets the episode's length; the observation is the steps left; reward 1 + action.

    After an unseeded reset (gymnasium's autoreset) episodes last 3 steps and pay 100 + action
    per step, so any reward counted after an episode ended shows in the returns.
    """

    observation_space = spaces.Box(0.0, 10.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left = countdown_length(seed) if seed is not None else 3
        self.bonus = 0.0 if seed is not None else 100.0
        return np.array([self.left], dtype=np.float32), {}

    def step(self, action):
        self.left -= 1
        reward = 1.0 + float(action) + self.bonus
        return np.array([self.left], dtype=np.float32), reward, self.left == 0, False, {}


if COUNTDOWN_ID not in gym.registry:
    gym.register(COUNTDOWN_ID, entry_point=CountdownEnv, max_episode_steps=TIME_LIMIT)


def countdown_policy() -> Policy:
    """hidden 0, 1 tick, identity: outputs = bias + w * obs, so each member's rule is readable."""
    return Policy.for_spaces(COUNTDOWN_ID, CountdownEnv.observation_space, CountdownEnv.action_space,
                             hidden=0, ticks=1, activation="identity")


def countdown_params(policy: Policy) -> torch.Tensor:
    """Three members: always 0; always 1; 1 while more than 2.5 steps are left, then 0."""
    assert policy.spec.n_columns == 1 + 1 + 2  # [1, obs, a0, a1]
    W = torch.zeros(3, 2, 4)
    W[0, 0, 0] = 1.0  # output 0 wins
    W[1, 1, 0] = 1.0  # output 1 wins
    W[2, 0, 0], W[2, 1, 1] = 2.5, 1.0  # output 1 = steps left, output 0 = 2.5
    return W.reshape(3, -1)


def expected_countdown(seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rules = [lambda left: 0, lambda left: 1, lambda left: int(left > 2.5)]
    returns = np.zeros((3, len(seeds)))
    lengths = np.zeros((3, len(seeds)), dtype=np.int64)
    for p, rule in enumerate(rules):
        for e, seed in enumerate(seeds):
            left = countdown_length(seed)
            for t in range(min(left, TIME_LIMIT)):
                returns[p, e] += 1 + rule(left - t)
                lengths[p, e] += 1
    return returns, lengths


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_returns_and_lengths_are_exact_through_gymnasium_vector_env(vectorization):
    seeds = [10, 3, 4, 6]  # lengths 2, 5, 6 -> 5 (truncated), 3
    policy = countdown_policy()
    env = GymVectorEnv(COUNTDOWN_ID, 3 * len(seeds), vectorization=vectorization)
    try:
        rollout = evaluate(policy, countdown_params(policy), env, torch.tensor(seeds))
    finally:
        env.close()
    returns, lengths = expected_countdown(seeds)
    assert returns.tolist() == [[2, 5, 5, 3], [4, 10, 10, 6], [2, 8, 9, 4]]  # the hand count, for the reader
    assert rollout.returns.shape == (3, 4) and rollout.returns.dtype == torch.float32
    np.testing.assert_array_equal(rollout.returns.numpy(), returns)
    np.testing.assert_array_equal(rollout.lengths.numpy(), lengths)
    assert rollout.env_steps == int(lengths.sum()) == 3 * (2 + 5 + 5 + 3)


def test_rewards_after_an_episode_ended_are_not_counted():
    # episode lengths 2 and 5: the short copies autoreset and earn 100+ per step for 3 more steps
    policy = countdown_policy()
    env = GymVectorEnv(COUNTDOWN_ID, 3 * 2)
    try:
        rollout = evaluate(policy, countdown_params(policy), env, torch.tensor([0, 3]))
    finally:
        env.close()
    np.testing.assert_array_equal(rollout.returns.numpy(), [[2, 5], [4, 10], [2, 8]])
    np.testing.assert_array_equal(rollout.lengths.numpy(), [[2, 5], [2, 5], [2, 5]])


def test_sync_vector_env_steps_each_copy_only_until_its_episode_ends(monkeypatch):
    # gymnasium's SyncVectorEnv would step all six copies five times (the longest episode)
    calls = []
    step = CountdownEnv.step
    monkeypatch.setattr(CountdownEnv, "step", lambda self, action: calls.append(self) or step(self, action))
    policy = countdown_policy()
    env = GymVectorEnv(COUNTDOWN_ID, 3 * 2)
    try:
        rollout = evaluate(policy, countdown_params(policy), env, torch.tensor([0, 3]))  # lengths 2 and 5
        assert len(calls) == rollout.env_steps == 3 * (2 + 5)
        # a finished copy keeps its last observation and flags and earns nothing more
        obs, reward, terminated, truncated = env.step(torch.ones(6, dtype=torch.int64))
        assert len(calls) == 3 * (2 + 5)
        np.testing.assert_array_equal(obs.numpy().ravel(), [0.0] * 6)
        np.testing.assert_array_equal(reward.numpy(), [0.0] * 6)
        assert terminated.all() and truncated.tolist() == [False, True] * 3  # the 5-step episode also met the time limit
    finally:
        env.close()


def test_max_steps_cuts_every_episode():
    policy = countdown_policy()
    env = GymVectorEnv(COUNTDOWN_ID, 3 * 2)
    try:
        rollout = evaluate(policy, countdown_params(policy), env, torch.tensor([0, 3]), max_steps=3)
    finally:
        env.close()
    np.testing.assert_array_equal(rollout.lengths.numpy(), [[2, 3], [2, 3], [2, 3]])
    np.testing.assert_array_equal(rollout.returns.numpy(), [[2, 3], [4, 6], [2, 6]])


def test_evaluate_rejects_an_env_of_the_wrong_size():
    policy = countdown_policy()
    env = GymVectorEnv(COUNTDOWN_ID, 5)
    try:
        with pytest.raises(ValueError, match="3 members x 2 episodes need 6"):
            evaluate(policy, countdown_params(policy), env, torch.tensor([0, 1]))
    finally:
        env.close()


# -- CartPole: the twin and gymnasium, common random numbers -----------------------------------
def cartpole_policy() -> Policy:
    spec = gym.spec("CartPole-v1")
    env = gym.make(spec.id)
    policy = Policy.for_spaces(spec.id, env.observation_space, env.action_space, hidden=2, ticks=2, activation="tanh")
    env.close()
    return policy


def random_params(policy: Policy, population: int, seed: int, scale: float = 2.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([policy.initial_params(generator, scale) for _ in range(population)])


@pytest.mark.parametrize("device", DEVICES)
def test_twin_rollout_counts_one_per_step_until_done(device):
    policy = cartpole_policy()
    params = random_params(policy, 4, seed=0).to(device)
    seeds = torch.tensor([1, 2, 3])
    env = make_twin("CartPole-v1", 4 * 3, device=device)
    rollout = evaluate(policy, params, env, seeds)
    assert rollout.returns.shape == (4, 3) and rollout.returns.device.type == rollout.lengths.device.type == torch.device(device).type
    np.testing.assert_array_equal(rollout.returns.cpu().numpy(), rollout.lengths.cpu().numpy().astype(np.float32))
    assert int(rollout.lengths.min()) >= 8 and int(rollout.lengths.max()) <= 500
    assert len(set(rollout.returns[:, 0].tolist())) > 1  # members differ


@pytest.mark.parametrize("device", DEVICES)
def test_twin_pushing_one_way_falls_within_a_dozen_steps(device):
    policy = cartpole_policy()
    W = torch.zeros(2, policy.spec.n_activations, policy.spec.n_columns)
    W[0, 0, 0] = 1.0  # always action 0 (push left)
    W[1, 1, 0] = 1.0  # always action 1 (push right)
    rollout = evaluate(policy, W.reshape(2, -1).to(device), make_twin("CartPole-v1", 2 * 5, device=device), torch.arange(5))
    assert ((rollout.lengths >= 8) & (rollout.lengths <= 12)).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["twin", "gym"])
def test_members_with_the_same_weights_meet_the_same_episodes(backend, device):
    policy = cartpole_policy()
    population, episodes = 4, 3
    params = random_params(policy, 1, seed=2).repeat(population, 1).to(device)
    seeds = torch.tensor([5, 6, 7])
    if backend == "twin":
        env = make_twin("CartPole-v1", population * episodes, device=device)
    else:  # gymnasium's numpy copies, the policy on the device: observations and actions cross every step
        env = GymVectorEnv("CartPole-v1", population * episodes, device=device)
    try:
        rollout = evaluate(policy, params, env, seeds)
    finally:
        env.close()
    assert (rollout.returns == rollout.returns[0]).all()
    assert (rollout.lengths == rollout.lengths[0]).all()
    # and the episodes themselves differ, so the equality above is not trivial
    assert len(set(rollout.lengths[0].tolist())) > 1


def test_gymnasium_start_states_depend_on_the_seed_only():
    env = GymVectorEnv("CartPole-v1", 4)
    try:
        obs = env.reset(torch.tensor([9, 9, 1, 9]))
    finally:
        env.close()
    assert torch.equal(obs[0], obs[1]) and torch.equal(obs[0], obs[3])
    assert not torch.equal(obs[0], obs[2])


@pytest.mark.parametrize("device", DEVICES)
def test_twin_evaluation_makes_no_host_copies_in_the_step_loop(monkeypatch, device):
    """On a twin nothing is copied to the host per step: .cpu(), .item(), .tolist() and .numpy() stay unused."""
    env = make_twin("CartPole-v1", 8 * 3, device=device)
    probe = gym.make("CartPole-v1")
    policy = Policy.for_spaces("CartPole-v1", probe.observation_space, probe.action_space, hidden=3, ticks=2, activation="tanh")
    params = torch.randn(8, policy.spec.n_params, generator=torch.Generator().manual_seed(0)).to(device)
    seeds = episode_seeds(0, 0, 3)
    for name in ("cpu", "item", "tolist", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, lambda *a, _name=name, **k: pytest.fail(f"Tensor.{_name}() in the step loop"))
    rollout = evaluate(policy, params, env, seeds)
    monkeypatch.undo()
    assert rollout.lengths.shape == (8, 3) and int(rollout.lengths.min()) >= 1


def pendulum_policy() -> Policy:
    probe = gym.make("Pendulum-v1")
    return Policy.for_spaces("Pendulum-v1", probe.observation_space, probe.action_space, hidden=2, ticks=2, activation="tanh")


@pytest.mark.parametrize("device", DEVICES)
def test_twin_returns_on_a_device_are_the_cpus(device):
    """The same params and seeds give on ``device`` the returns they give on the CPU.

    CartPole in float64: bitwise, whole episodes. Its returns count steps, and an argmax flips
    only where two outputs lie within the devices' rounding (an ulp or two of sin, cos and the
    matmul's sums) of each other. Pendulum's returns sum float rewards, so they agree to a
    tolerance: 1e-9 relative in float64, 1e-3 in float32 (50 steps: a rounding apart grows in
    the pendulum's swing, as test_twins says of the twins themselves).
    """
    seeds = torch.tensor([1, 2, 3])
    cases = [("CartPole-v1", cartpole_policy(), torch.float64, None, 0.0),
             ("Pendulum-v1", pendulum_policy(), torch.float64, 50, 1e-9),
             ("Pendulum-v1", pendulum_policy(), torch.float32, 50, 1e-3)]
    for env_id, policy, dtype, max_steps, rtol in cases:
        params = random_params(policy, 4, seed=0).to(dtype)
        rollouts = {
            where: evaluate(policy, params.to(where), make_twin(env_id, 4 * 3, device=where, dtype=dtype), seeds, max_steps=max_steps)
            for where in dict.fromkeys(["cpu", device])
        }
        cpu, other = rollouts["cpu"], rollouts[device]
        assert other.returns.dtype == dtype and other.returns.device.type == torch.device(device).type
        assert torch.equal(other.lengths.cpu(), cpu.lengths), env_id
        if rtol:
            torch.testing.assert_close(other.returns.cpu(), cpu.returns, rtol=rtol, atol=0)
        else:
            assert torch.equal(other.returns.cpu(), cpu.returns), env_id
        assert len(set(cpu.returns[:, 0].tolist())) > 1  # the members differ: the comparison has teeth
