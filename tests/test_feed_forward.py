"""--feed-forward: the recurrent block of W held at zero and outside the walk's parameters."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.agent import load_agent
from rlfree.checkpoint import CheckpointError
from rlfree.commands import train as train_script
from rlfree.config import Config, ConfigError
from rlfree.network import NetworkSpec
from rlfree.policy import Policy
from rlfree.run_loop import RunLoop, make_run_folder
from rlfree.trainer import Trainer

OBS = spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64)
ACT = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)


def linear_policy(**kwargs) -> Policy:
    options = dict(hidden=0, ticks=1, activation="identity", action_mapping="clip", feed_forward=True) | kwargs
    return Policy.for_spaces("Test-v0", OBS, ACT, **options)


def test_the_parameters_are_the_columns_of_bias_and_observation_only():
    spec = linear_policy().spec
    assert (spec.n_activations, spec.n_columns, spec.n_params) == (2, 1 + 3 + 2, 2 * (1 + 3))
    flat = np.arange(1.0, 9.0)
    W = spec.matrix(flat)
    np.testing.assert_array_equal(W, [[1, 2, 3, 4, 0, 0], [5, 6, 7, 8, 0, 0]])
    np.testing.assert_array_equal(spec.flat(W), flat)
    W[1, 5] = 0.5
    with pytest.raises(ValueError, match="recurrent weights that are not zero"):
        spec.flat(W)


def test_actions_are_the_clipped_linear_map_computed_by_hand():
    policy = linear_policy()
    rng = np.random.default_rng(0)
    M = rng.normal(0.0, 1.0, (3, 2, 4))  # 3 members: W[:, :1+I] = [bias | weights]
    obs = rng.normal(0.0, 2.0, (3 * 5, 3))  # 5 steps' observations per member, member-major
    network = policy.network(torch.from_numpy(M.reshape(3, -1)))
    activations = network.initial_activations(5)
    for _ in range(3):  # the previous step's activations change nothing
        actions, activations = policy.act(network, torch.from_numpy(obs), activations)
        x = np.concatenate([np.ones((15, 1)), obs], axis=1).reshape(3, 5, 4)
        expected = np.clip(np.einsum("pak,pbk->pba", M, x), -1.0, 1.0).reshape(15, 2)
        np.testing.assert_allclose(actions.numpy(), expected, rtol=1e-12, atol=1e-12)
        obs = rng.normal(0.0, 2.0, obs.shape)


def test_it_acts_as_the_recurrent_network_whose_recurrent_block_is_zero():
    feed_forward, recurrent = linear_policy(activation="tanh"), linear_policy(activation="tanh", feed_forward=False)
    rng = np.random.default_rng(1)
    flat = rng.normal(0.0, 1.0, (4, feed_forward.spec.n_params))
    full = np.stack([feed_forward.spec.matrix(row).reshape(-1) for row in flat])
    obs = torch.from_numpy(rng.normal(0.0, 1.0, (4 * 2, 3)))
    nets = feed_forward.network(torch.from_numpy(flat)), recurrent.network(torch.from_numpy(full))
    a_ff, a_rec = nets[0].initial_activations(2), nets[1].initial_activations(2)
    for _ in range(3):
        act_ff, a_ff = feed_forward.act(nets[0], obs, a_ff)
        act_rec, a_rec = recurrent.act(nets[1], obs, a_rec)
        np.testing.assert_allclose(act_ff.numpy(), act_rec.numpy(), rtol=1e-12)
        obs = torch.tanh(obs + 0.3)


@pytest.mark.parametrize("flags, words", [
    (["--hidden", "2", "--ticks", "1"], "hidden=2 is not accepted with feed_forward: without the recurrent block hidden units never reach the outputs; use --hidden 0"),
    (["--hidden", "0", "--ticks", "2"], "ticks=2 is not accepted with feed_forward: without the recurrent block every tick repeats the first; use --ticks 1"),
])
def test_hidden_units_or_more_ticks_are_one_line(tmp_path, capsys, flags, words):
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--env", "Pendulum-v1", "--feed-forward", *flags, "--logdir", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip("\n").split("\n")
    assert lines == [f"rlfree train: error: {words}"]
    assert not (tmp_path / "runs").exists()


def test_coevolve_refuses_it_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--coevolve", "--feed-forward", "--hidden", "0", "--ticks", "1", "--logdir", str(tmp_path / "runs")])
    assert "feed_forward=True is not accepted with --coevolve" in capsys.readouterr().err


def small_config(tmp_path, **network) -> Config:
    config = Config()
    config.env.env = "Pendulum-v1"
    config.network.hidden, config.network.ticks, config.network.feed_forward = 0, 1, True
    for name, value in network.items():
        setattr(config.network, name, value)
    config.walk.population = 6
    config.run.episodes, config.run.eval_episodes, config.run.generations, config.run.target = 1, 2, 3, 1e9
    config.run.logdir = str(tmp_path / "runs")
    return config


def test_the_walk_never_perturbs_or_moves_the_recurrent_block_and_the_agent_replays_it(tmp_path):
    config = small_config(tmp_path)
    trainer = Trainer(config)
    spec = trainer.policy.spec
    asked = trainer.optimiser.ask()
    assert asked.shape == (6, spec.n_activations * (1 + spec.n_inputs))  # the block is no parameter to perturb
    trainer.optimiser._noise = None
    result = RunLoop(trainer, make_run_folder(config), config=config).run()
    latest = result.run_dir / "checkpoints" / "latest"
    W = np.load(latest / "W.npy")
    assert W.shape == (spec.n_activations, spec.n_columns)
    assert not W[:, 1 + spec.n_inputs :].any() and W[:, : 1 + spec.n_inputs].all()
    network = json.loads((latest / "network.json").read_text())
    assert network["version"] == 4 and network["network"]["feed_forward"] is True
    assert "all zero: feed_forward" in network["W_columns"]
    agent = load_agent(latest)
    np.testing.assert_array_equal(agent.params[0].numpy(), W[:, : 1 + spec.n_inputs].astype(np.float64).reshape(-1))
    env = gym.make("Pendulum-v1")
    total, _ = agent.play(env, seed=3)
    obs, _ = env.reset(seed=3)
    expected, done = 0.0, False
    while not done:  # the same episode in numpy, from W.npy as saved (tanh: the default activation)
        a = np.tanh(W @ np.concatenate([[1.0], obs, np.zeros(spec.n_activations)]))
        obs, reward, terminated, truncated, _ = env.step((-2.0 + (a + 1.0) * 2.0).astype(np.float32))
        expected, done = expected + reward, terminated or truncated
    assert total == pytest.approx(expected, rel=1e-9)


def test_a_saved_feed_forward_w_with_recurrent_weights_is_refused(tmp_path):
    config = small_config(tmp_path)
    config.run.generations = 1
    result = RunLoop(Trainer(config), make_run_folder(config), config=config).run()
    latest = result.run_dir / "checkpoints" / "latest"
    W = np.load(latest / "W.npy")
    W[0, -1] = 1.0
    np.save(latest / "W.npy", W)
    with pytest.raises(CheckpointError, match="W.npy' cannot be played: W has recurrent weights that are not zero"):
        load_agent(latest)
