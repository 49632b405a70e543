"""--action-cost C: the walk learns from every step's reward less C * sum |action|; everything reported
is the env's own. The sum comes from the batched rollout, checked here against a plain loop."""

import gymnasium as gym
import pytest
import torch

from rlfree.backend import make_batched_env
from rlfree.commands import train as train_script
from rlfree.config import Config, NetworkConfig
from rlfree.evaluate import evaluate
from rlfree.policy import Policy
from rlfree.run_loop import RunState
from rlfree.trainer import Trainer


def test_the_rollouts_action_sum_is_the_plain_loops():
    env_id, seeds = "MountainCarContinuous-v0", torch.tensor([11, 12, 13])
    probe = gym.make(env_id)
    policy = Policy.from_config(env_id, probe.observation_space, probe.action_space, NetworkConfig(hidden=3, ticks=2))
    params = policy.initial_params(torch.Generator().manual_seed(0), 1.0, torch.float64).repeat(2, 1)
    params[1] *= 0.3  # two members, on the same three episodes
    batched = make_batched_env(env_id, 6, "gym", dtype=torch.float64)
    rollout = evaluate(policy, params, batched, seeds, max_steps=150, action_l1=True)
    batched.close()
    assert rollout.action_l1.shape == (2, 3) and rollout.action_l1.dtype == torch.float64
    for p in range(2):
        network = policy.network(params[p : p + 1])
        for e, seed in enumerate(seeds.tolist()):
            obs, _ = probe.reset(seed=seed)
            activations, total, done, steps = network.initial_activations(1), 0.0, False, 0
            while not done and steps < 150:
                actions, activations = policy.act(network, torch.as_tensor(obs, dtype=torch.float64)[None], activations)
                total += float(actions.abs().sum())
                obs, _, terminated, truncated, _ = probe.step(actions[0].numpy())
                done, steps = terminated or truncated, steps + 1
            assert float(rollout.action_l1[p, e]) == pytest.approx(total, rel=1e-6)  # the batched matmul sums in its own order
            assert int(rollout.lengths[p, e]) == steps
    probe.close()
    assert evaluate(policy, params, make_batched_env(env_id, 6, "gym"), seeds, max_steps=5).action_l1 is None  # only when asked


def pendulum_config(tmp_path, cost: float) -> Config:
    config = Config()
    config.env.env = "Pendulum-v1"
    config.walk.population, config.walk.action_cost = 8, cost
    config.run.episodes, config.run.eval_episodes, config.run.generations = 1, 2, 1
    config.run.target = 1e9
    config.run.logdir, config.run.exp_name = str(tmp_path / "runs"), f"cost{cost:g}"
    return config


def test_the_walk_learns_from_the_costed_rewards_and_every_figure_is_the_envs_own(tmp_path):
    records, steps = {}, {}
    for cost in (0.0, 50.0):
        trainer = Trainer(pendulum_config(tmp_path, cost))
        start = trainer.optimiser.centre.clone()
        records[cost] = trainer.generation(RunState(env_id="Pendulum-v1", config=trainer.config.to_dict())).record
        steps[cost] = trainer.optimiser.centre - start
        trainer.close()
    plain, costed = records[0.0], records[50.0]
    # the same episodes and members: the figures (env's reward) agree, the step (costed returns) does not
    assert (costed.population_mean, costed.population_max, costed.eval_mean) == (plain.population_mean, plain.population_max, plain.eval_mean)
    assert not torch.allclose(steps[0.0], steps[50.0])


@pytest.mark.parametrize("argv, words", [
    (["--env", "CartPole-v1", "--action-cost", "0.1"], "action_cost=0.1 is not accepted for CartPole-v1: its actions (Discrete(2)) are not a Box"),
    (["--env", "Pendulum-v1", "--action-cost", "-1"], "action_cost=-1.0 is not accepted: use 0 (none) or a finite cost above 0"),
    (["--coevolve", "--action-cost", "1"], "action_cost=1.0 is not accepted with --coevolve"),
])
def test_a_bad_action_cost_is_one_line(tmp_path, capsys, argv, words):
    with pytest.raises(SystemExit):
        train_script.main(argv + ["--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
