"""--normalize-obs: running observation statistics (ARS V2), frozen within a generation, saved with the agent."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.agent import load_agent
from rlfree.checkpoint import CheckpointError
from rlfree.commands import train as train_script
from rlfree.config import Config, ConfigError
from rlfree.evaluate import evaluate
from rlfree.obs_norm import STD_FLOOR, Normalizer, RunningStats
from rlfree.policy import Policy
from rlfree.run_loop import RunLoop, RunState, make_run_folder
from rlfree.trainer import Trainer
from rlfree.vector import GymVectorEnv


def stats_of(x: np.ndarray) -> RunningStats:
    return RunningStats(np.array(len(x), dtype=np.int64), x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).sum(axis=0))


# -- the statistics ------------------------------------------------------------------------------
def test_merged_statistics_are_those_of_all_the_observations_in_any_grouping():
    rng = np.random.default_rng(0)
    x = rng.normal([1e3, -2.0, 0.0], [1e-2, 3.0, 1.0], (1000, 3))
    parts = [x[:1], x[1:400], x[400:401], x[401:]]
    left = RunningStats.empty(3)
    for part in parts:
        left = left.merge(stats_of(part))
    right = stats_of(parts[0]).merge(stats_of(parts[1]).merge(stats_of(parts[2]).merge(stats_of(parts[3]))))
    for merged in (left, right):
        assert int(merged.count) == 1000
        np.testing.assert_allclose(merged.mean, x.mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(merged.std, x.std(axis=0), rtol=1e-9)


def test_std_is_floored_to_one_and_nothing_counted_is_the_identity():
    empty = RunningStats.empty(2)
    np.testing.assert_array_equal(empty.std, [1.0, 1.0])
    constant = stats_of(np.array([[5.0, 1.0], [5.0, 3.0]]))
    np.testing.assert_array_equal(constant.std, [1.0, 1.0])  # 0 -> 1; std 1.0 exactly: kept
    nearly = stats_of(np.array([[0.0], [STD_FLOOR]]))
    np.testing.assert_array_equal(nearly.std, [1.0])  # STD_FLOOR / 2 is below the floor
    normalizer = Normalizer.from_stats(constant)
    out = normalizer(torch.tensor([[5.0, 2.0], [6.0, 4.0]], dtype=torch.float64))
    np.testing.assert_array_equal(out.numpy(), [[0.0, 0.0], [1.0, 2.0]])


class Ramp(gym.Env):
    """obs_t = [t + seed, 2 t] until step `seed` + 2, where it terminates: known statistics per episode."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,), dtype=np.float64)
    action_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.offset, self.length = 0, float(seed), seed + 2
        return self._obs(), {}

    def _obs(self):
        return np.array([self.t + self.offset, 2.0 * self.t])

    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, self.t >= self.length, False, {}


if "rlfree_test/Ramp-v0" not in gym.registry:
    gym.register("rlfree_test/Ramp-v0", entry_point=Ramp, max_episode_steps=50)


def fed_observations(seed: int) -> np.ndarray:
    """The observations a network is fed in one Ramp episode: before each of its seed + 2 steps."""
    t = np.arange(seed + 2, dtype=np.float64)
    return np.stack([t + seed, 2 * t], axis=1)


def test_a_rollout_counts_every_observation_fed_while_each_episode_runs():
    policy = Policy.for_spaces("rlfree_test/Ramp-v0", Ramp.observation_space, Ramp.action_space, hidden=0, ticks=1,
                               activation="tanh", normalize_obs=True)
    policy.normalizer = Normalizer(np.array([3.0, -1.0]), np.array([2.0, 4.0]))  # the shift of the sums: any frozen mean
    env = GymVectorEnv("rlfree_test/Ramp-v0", 3 * 2, dtype=torch.float64)
    seeds = torch.tensor([[1, 4], [2, 3], [1, 1]])
    rollout = evaluate(policy, torch.zeros(3, policy.spec.n_params, dtype=torch.float64), env, seeds)
    env.close()
    stats = rollout.obs_stats
    assert stats.count.tolist() == [3 + 6, 4 + 5, 3 + 3]  # episodes of seed + 2 steps, the final observation never fed
    for row, pair in enumerate(seeds.tolist()):
        expected = stats_of(np.concatenate([fed_observations(s) for s in pair]))
        np.testing.assert_allclose(stats.mean[row], expected.mean, rtol=1e-14)
        np.testing.assert_allclose(stats.m2[row], expected.m2, rtol=1e-12)
    total = stats.rows(slice(0, 2)).total()
    all_fed = stats_of(np.concatenate([fed_observations(s) for s in (1, 4, 2, 3)]))
    np.testing.assert_allclose(total.mean, all_fed.mean, rtol=1e-14)
    np.testing.assert_allclose(total.m2, all_fed.m2, rtol=1e-12)


def test_a_non_finite_observation_is_left_out():
    normalizer = Normalizer.identity(2)
    sums = normalizer.sums(3, torch.device("cpu"))
    sums.add(torch.tensor([[1.0, 2.0], [np.inf, 0.0], [3.0, np.nan]]), torch.tensor([True, True, True]))
    sums.add(torch.tensor([[3.0, 4.0], [1.0, 1.0], [9.0, 9.0]]), torch.tensor([True, True, False]))
    stats = sums.per_row(3, 1)
    assert stats.count.tolist() == [2, 1, 0]
    np.testing.assert_array_equal(stats.mean[:2], [[2.0, 3.0], [1.0, 1.0]])
    assert np.all(np.isfinite(stats.total().mean))


# -- the policy, network.json and the agent ----------------------------------------------------------
def test_the_network_sees_normalised_observations_and_network_json_holds_mean_and_std():
    obs_space, act_space = spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64), spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    policy = Policy.for_spaces("Test-v0", obs_space, act_space, hidden=0, ticks=1, activation="identity",
                               action_mapping="clip", feed_forward=True, normalize_obs=True)
    mean, std = np.array([0.5, -1.0, 10.0]), np.array([2.0, 0.25, 3.0])
    policy.normalizer = Normalizer(mean, std, count=77)
    M = np.random.default_rng(2).normal(0.0, 1.0, (2, 4))
    obs = np.random.default_rng(3).normal(0.0, 3.0, (6, 3))
    network = policy.network(torch.from_numpy(M.reshape(1, -1)))
    actions, _ = policy.act(network, torch.from_numpy(obs), network.initial_activations(6))
    obs_n = (obs - mean) / std
    expected = np.clip(np.concatenate([np.ones((6, 1)), obs_n], axis=1) @ M.T, -1.0, 1.0)
    np.testing.assert_allclose(actions.numpy(), expected, rtol=1e-12)

    data = json.loads(json.dumps(policy.to_json()))
    assert data["version"] == 4
    norm = data["observation"]["normalization"]
    assert norm["formula"] == "(obs - mean) / std" and norm["count"] == 77
    assert norm["mean"] == mean.tolist() and norm["std"] == std.tolist()
    again = Policy.from_json(data, obs_space, act_space)
    np.testing.assert_array_equal(again.normalizer.mean, mean)
    np.testing.assert_array_equal(again.normalizer.std, std)
    assert again.to_json() == data
    with pytest.raises(CheckpointError, match="needs 3 finite means and 3 finite stds > 0"):
        Policy.from_json({**data, "observation": {**data["observation"], "normalization": {**norm, "std": [1.0, 0.0, 1.0]}}}, obs_space, act_space)


def test_one_hot_observations_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"normalize_obs is not accepted for Discrete\(16\) encoded 'onehot': its inputs are one-hot"):
        Policy.for_spaces("FrozenLake-v1", spaces.Discrete(16), spaces.Discrete(4), hidden=0, ticks=1, activation="tanh", normalize_obs=True)
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--env", "FrozenLake-v1", "--normalize-obs", "--logdir", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip("\n").split("\n")
    assert len(lines) == 1 and "normalize_obs is not accepted for Discrete(16)" in lines[0]
    config = Config()
    config.network.normalize_obs, config.network.obs_encoding = True, "bins:4"
    with pytest.raises(ConfigError, match="normalize_obs is not accepted with obs_encoding 'bins:4'"):
        config.validate()


# -- training ----------------------------------------------------------------------------------
def pendulum_config(tmp_path: Path, backend: str = "torch") -> Config:
    config = Config()
    config.env.env, config.env.backend = "Pendulum-v1", backend
    config.network.normalize_obs = True
    config.walk.population = 6
    config.run.episodes, config.run.eval_episodes, config.run.target = 2, 3, 1e9
    config.run.horizon = 30
    config.run.logdir = str(tmp_path / "runs")
    return config


@pytest.mark.parametrize("backend", ["torch", "gym"])
def test_statistics_are_frozen_within_a_generation_and_merged_from_the_members_after_it(tmp_path, backend):
    trainer = Trainer(pendulum_config(tmp_path, backend))
    state = RunState(env_id="Pendulum-v1", config=trainer.config.to_dict())
    seen, rollouts = [], []
    evaluate_rows = trainer.evaluator.evaluate

    def spy(params, seeds, **kwargs):
        seen.append((trainer.policy.normalizer.mean.copy(), trainer.policy.normalizer.std.copy(), trainer.policy.normalizer.count))
        rollouts.append(evaluate_rows(params, seeds, **kwargs))
        return rollouts[-1]

    trainer.evaluator.evaluate = spy
    for _ in range(3):
        trainer.generation(state)
    trainer.close()
    assert seen[0][2] == 0 and np.array_equal(seen[0][0], np.zeros(3)) and np.array_equal(seen[0][1], np.ones(3))
    expected = RunningStats.empty(3)
    for generation, rollout in enumerate(rollouts):
        members = rollout.obs_stats.rows(slice(0, 6))
        assert members.count.tolist() == [2 * 30] * 6  # every step of both episodes, horizon 30
        expected = expected.merge(members.total())  # the 3 evaluation rows after them are not members
        following = seen[generation + 1] if generation + 1 < len(seen) else (trainer.policy.normalizer.mean, trainer.policy.normalizer.std, trainer.policy.normalizer.count)
        assert following[2] == int(expected.count) == 6 * 60 * (generation + 1)
        np.testing.assert_array_equal(following[0], expected.mean)
        np.testing.assert_array_equal(following[1], expected.std)
    assert np.all(trainer.policy.normalizer.std != 1.0)  # Pendulum's cos, sin and velocity all varied


def small_run_args(tmp_path: Path, logdir: Path, generations: int) -> list[str]:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return ["--config", str(empty), "--env", "Pendulum-v1", "--normalize-obs", "--population", "6", "--episodes", "2",
            "--eval-episodes", "2", "--horizon", "40", "--target", "1e9", "--save-freq", "2", "--seed", "5",
            "-n", str(generations), "--logdir", str(logdir)]


def latest(logdir: Path) -> Path:
    (run_dir,) = logdir.iterdir()
    return run_dir / "checkpoints" / "latest"


def test_resume_restores_the_running_statistics_bitwise(tmp_path):
    assert train_script.main(small_run_args(tmp_path, tmp_path / "straight", 6)) == 0
    assert train_script.main(small_run_args(tmp_path, tmp_path / "split", 3)) == 0
    (run_dir,) = (tmp_path / "split").iterdir()
    assert train_script.main(["--resume", str(run_dir), "-n", "6"]) == 0
    straight, resumed = latest(tmp_path / "straight"), latest(tmp_path / "split")
    with np.load(straight / "walk.npz") as a, np.load(resumed / "walk.npz") as b:
        assert sorted(a.files) == sorted(b.files) and {"obs_count", "obs_mean", "obs_m2"} <= set(a.files)
        assert a["obs_count"].tolist() == [6 * 6 * 2 * 40]
        for name in a.files:
            assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name
    assert (straight / "network.json").read_text() == (resumed / "network.json").read_text()
    assert np.array_equal(np.load(straight / "W.npy"), np.load(resumed / "W.npy"))


def test_resume_refuses_to_switch_normalisation(tmp_path, capsys):
    assert train_script.main(small_run_args(tmp_path, tmp_path / "runs", 2)) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    with pytest.raises(SystemExit):
        train_script.main(["--resume", str(run_dir), "-n", "3", "--no-normalize-obs"])
    assert "cannot be resumed with normalize_obs = false: the run was made with normalize_obs = true" in capsys.readouterr().err


def test_the_agent_plays_with_the_saved_statistics(tmp_path):
    assert train_script.main(small_run_args(tmp_path, tmp_path / "runs", 3)) == 0
    folder = latest(tmp_path / "runs")
    agent = load_agent(folder)
    network = json.loads((folder / "network.json").read_text())
    norm = network["observation"]["normalization"]
    assert norm["count"] == 3 * 6 * 2 * 40
    np.testing.assert_array_equal(agent.policy.normalizer.mean, norm["mean"])
    W = np.load(folder / "W.npy").astype(np.float64)
    mean, std = np.array(norm["mean"]), np.array(norm["std"])
    env = gym.make("Pendulum-v1")
    total, length = agent.play(env, seed=11)
    obs, _ = env.reset(seed=11)
    a, expected = np.zeros(W.shape[0]), 0.0
    for _ in range(length):  # by hand: the default network (tanh, 2 ticks), linear onto [-2, 2]
        for _ in range(network["network"]["ticks"]):
            a = np.tanh(W @ np.concatenate([[1.0], (obs - mean) / std, a]))
        obs, reward, *_ = env.step((2.0 * a[:1]).astype(np.float32))
        expected += reward
    assert total == pytest.approx(expected, rel=1e-9)
    assert agent.score([11]).tolist() == pytest.approx([total], rel=1e-9)
