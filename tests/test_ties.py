"""Tied returns: the share the walk logs, and the adaptation when they tie at the floor for long."""

import csv

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.commands import train as train_command
from rlfree.config import WalkConfig
from rlfree.optimiser import make_optimiser
from rlfree.ties import Adaptation, TieAdaptation

NOTHING_ID = "rlfree_test/NothingToLearn-v0"


class _NothingToLearn(gym.Env):
    """Every episode scores 0, whatever the policy: every comparison ties at the floor."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {}


if NOTHING_ID not in gym.registry:
    gym.register(NOTHING_ID, entry_point=_NothingToLearn, max_episode_steps=3)


def adaptations(adapt: TieAdaptation, shares: list[float], found: bool) -> list[Adaptation]:
    streak, changes, episodes, sigma = 0, [], 1, 0.2
    for share in shares:
        streak, change = adapt.observe(share, found, streak, episodes, sigma)
        if change is not None:
            changes.append(change)
            episodes = int(change.after) if change.setting == "episodes" else episodes
            sigma = change.after if change.setting == "sigma" else sigma
    return changes


def test_nothing_found_widens_sigma_after_the_patience_then_adds_episodes():
    adapt = TieAdaptation(threshold=0.9, patience=3, max_episodes=4, max_sigma=0.5)
    shares = [0.95, 0.95, 0.5, 0.95, 0.95, 0.95] + [1.0] * 12  # the 0.5 breaks the first streak
    assert adaptations(adapt, shares, found=False) == [
        Adaptation("sigma", 0.2, 0.4), Adaptation("sigma", 0.4, 0.5), Adaptation("episodes", 1, 2), Adaptation("episodes", 2, 4)
    ]
    assert str(Adaptation("episodes", 1, 2)) == "episodes 1 -> 2"


def test_a_rare_reward_adds_episodes_before_sigma():
    adapt = TieAdaptation(threshold=0.9, patience=3, max_episodes=4, max_sigma=0.5)
    assert adaptations(adapt, [1.0] * 12, found=True) == [
        Adaptation("episodes", 1, 2), Adaptation("episodes", 2, 4), Adaptation("sigma", 0.2, 0.4), Adaptation("sigma", 0.4, 0.5)
    ]


@pytest.mark.parametrize("variant, mirrored", [("smart", True), ("smart", False), ("seed", True)])
def test_ties_at_the_top_are_not_at_the_floor(variant, mirrored):
    walk = make_optimiser(WalkConfig(population=8, variant=variant, mirrored=mirrored), torch.zeros(3), seed=0)
    walk.ask()
    returns = torch.full((walk.rows, 1), 500.0)
    returns[-1] = 10.0  # one member fell: every other comparison ties, at the best return
    stats = walk.tell(returns)
    assert stats["tied_share"] >= 0.75 and stats["floor_tied_share"] == 0.0


def test_mirrored_pairs_that_tie_at_the_floor_are_counted():
    walk = make_optimiser(WalkConfig(population=8), torch.zeros(3), seed=0)
    walk.ask()
    returns = torch.zeros(8, 1)
    returns[0] = 1.0  # pair 0 differs; pairs 1, 2, 3 tie at 0
    stats = walk.tell(returns)
    assert stats["tied_share"] == 0.75 and stats["floor_tied_share"] == 0.75


def train_args(tmp_path, *extra):
    return ["--env", NOTHING_ID, "--population", "8", "--eval-episodes", "2", "--target", "1", "--logdir", str(tmp_path / "runs"), *extra]


def test_the_adaptation_is_off_by_default():
    from rlfree.config import Config

    assert Config().run.adapt_ties is False


def rows(run_dir) -> list[dict]:
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_that_finds_nothing_widens_sigma_then_adds_episodes_says_so_and_resumes_with_them(tmp_path, capsys):
    assert train_command.main(train_args(tmp_path, "-n", "42", "--sigma", "0.5", "--adapt-ties")) == 0
    out = capsys.readouterr().out
    assert "most comparisons tied at the worst return for 10 generations: sigma 0.5 -> 1 (--no-adapt-ties keeps the settings)" in out
    assert "sigma 1 -> 2" in out and "episodes 1 -> 2" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    logged = rows(run_dir)
    assert [r["adapted"] for r in logged if r["adapted"]] == ["sigma 0.5 -> 1", "sigma 1 -> 2", "episodes 1 -> 2", "episodes 2 -> 4"]
    assert [float(r["sigma"]) for r in logged][10] == 1.0 and all(float(r["tied_share"]) == 1.0 for r in logged)
    assert int(logged[-1]["episodes"]) - int(logged[-2]["episodes"]) == 8 * 4 + 4  # 8 members x 4 episodes, and 1 evaluation row x 4
    assert train_command.main(["--resume", str(run_dir), "-n", "43"]) == 0
    resumed = rows(run_dir)
    assert int(resumed[-1]["episodes"]) - int(resumed[-2]["episodes"]) == 8 * 4 + 4 and float(resumed[-1]["sigma"]) == 2.0  # kept


def test_without_adapt_ties_the_settings_stay(tmp_path, capsys):
    assert train_command.main(train_args(tmp_path, "-n", "12")) == 0
    assert "most comparisons tied" not in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert all(r["adapted"] == "" for r in rows(run_dir))
