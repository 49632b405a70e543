"""The evaluator seam: LocalEvaluator gives what a direct evaluate() call gives, and owns its envs."""

import functools

import gymnasium as gym
import pytest
import torch

from rlfree.backend import make_batched_env
from rlfree.evaluate import evaluate
from rlfree.evaluator import Evaluator, LocalEvaluator
from rlfree.policy import Policy
from rlfree.seeding import episode_seeds

from conftest import DEVICES

make_cartpole_twin = functools.partial(make_batched_env, "CartPole-v1", backend="torch")


def cartpole_policy() -> Policy:
    probe = gym.make("CartPole-v1")
    return Policy.for_spaces("CartPole-v1", probe.observation_space, probe.action_space, hidden=3, ticks=2, activation="tanh")


def population(policy: Policy, members: int) -> torch.Tensor:
    return torch.randn(members, policy.spec.n_params, generator=torch.Generator().manual_seed(0))


class CountingFactory:
    """make_env that records the envs it builds and how often each is closed."""

    def __init__(self):
        self.built: list = []
        self.closed: list[int] = []

    def __call__(self, num_envs: int):
        env = make_cartpole_twin(num_envs)
        index = len(self.built)
        env.close = lambda: self.closed.append(index)
        self.built.append(env)
        return env


@pytest.mark.parametrize("device", DEVICES)
def test_local_evaluator_gives_the_returns_of_a_direct_evaluate_call(device):
    policy = cartpole_policy()
    params = population(policy, 6).to(device)
    make_env = functools.partial(make_cartpole_twin, device=device)
    shared, per_member = episode_seeds(0, 0, 3), episode_seeds(0, 0, 6 * 3, "eval").reshape(6, 3)
    with LocalEvaluator(policy, make_env) as evaluator:
        for seeds in (shared, per_member):
            direct = evaluate(policy, params, make_env(18), seeds)
            rollout = evaluator.evaluate(params, seeds)
            assert rollout.returns.shape == rollout.lengths.shape == (6, 3)
            assert torch.equal(rollout.returns, direct.returns) and torch.equal(rollout.lengths, direct.lengths)
    assert not torch.equal(direct.returns[0], direct.returns[1])  # the members differ: the check has teeth


@pytest.mark.parametrize("device", DEVICES)
def test_local_evaluator_on_a_device_gives_the_cpus_returns_bitwise_in_float64(device):
    """Where the episodes run does not change them: the contract's determinism, across devices.
    In float64 a CartPole return (a count of steps) could change only where two outputs lie
    within the devices' rounding of each other, an ulp or two (test_evaluate says more)."""
    policy = cartpole_policy()
    params = population(policy, 6).to(torch.float64)
    seeds = episode_seeds(0, 0, 6 * 3, "eval").reshape(6, 3)
    rollouts = {}
    for where in dict.fromkeys(["cpu", device]):
        make_env = functools.partial(make_cartpole_twin, device=where, dtype=torch.float64)
        with LocalEvaluator(policy, make_env) as evaluator:
            rollouts[where] = evaluator.evaluate(params.to(where), seeds)
    assert rollouts[device].returns.dtype == torch.float64
    assert torch.equal(rollouts[device].returns.cpu(), rollouts["cpu"].returns)
    assert torch.equal(rollouts[device].lengths.cpu(), rollouts["cpu"].lengths)
    assert len(set(rollouts["cpu"].returns.reshape(-1).tolist())) > 3  # episodes of many lengths: the check has teeth


def test_max_steps_cuts_every_episode():
    policy = cartpole_policy()
    with LocalEvaluator(policy, make_cartpole_twin) as evaluator:
        rollout = evaluator.evaluate(population(policy, 4), episode_seeds(1, 0, 2), max_steps=5)
    assert int(rollout.lengths.max()) <= 5


def test_local_evaluator_keeps_one_env_per_batch_size_and_closes_them_all():
    policy = cartpole_policy()
    factory = CountingFactory()
    handed_over = make_cartpole_twin(2 * 3)
    handed_over.close = lambda: factory.closed.append("handed over")
    evaluator = LocalEvaluator(policy, factory, envs=[handed_over])
    assert isinstance(evaluator, Evaluator)
    seeds = episode_seeds(0, 0, 3)
    evaluator.evaluate(population(policy, 2), seeds)  # 6 copies: the env handed over
    assert factory.built == []
    evaluator.evaluate(population(policy, 4), seeds)  # 12 copies: built once ...
    evaluator.evaluate(population(policy, 4), seeds)  # ... and kept
    evaluator.evaluate(population(policy, 5), seeds[:2])  # 10 copies
    assert [env.num_envs for env in factory.built] == [12, 10]
    evaluator.close()
    assert sorted(map(str, factory.closed)) == ["0", "1", "handed over"]
    evaluator.close()  # a second close has nothing left to close
    assert len(factory.closed) == 3
