"""Tied returns: the share the walk logs, and the adaptation when the members' returns tie."""

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.commands import train as train_command
from rlfree.config import Config, WalkConfig
from rlfree.optimiser import make_optimiser
from rlfree.ties import Adaptation, TieAdaptation, TieState, from_numbers, to_numbers

NOTHING_ID = "rlfree_test/NothingToLearn-v0"


class _NothingToLearn(gym.Env):
    """Every episode scores 0, whatever the policy: every member's return ties, every generation."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {}


if NOTHING_ID not in gym.registry:
    gym.register(NOTHING_ID, entry_point=_NothingToLearn, max_episode_steps=3)


# -- the rules, generation by generation ---------------------------------------------------------
def replay(adapt: TieAdaptation, generations: list[dict], sigma: float = 0.2, episodes: int = 1):
    """Feed ``adapt`` one dict of observe()'s figures per generation, applying its changes as the
    trainer does. -> [(generation index, decision)] for every generation that changed something."""
    state, decisions = TieState(), []
    for index, figures in enumerate(generations):
        state, decision = adapt.observe(state, sigma=sigma, episodes=episodes, **figures)
        if decision is not None:
            decisions.append((index, decision))
            sigma = decision.sigma.after if decision.sigma else sigma
            episodes = int(decision.episodes.after) if decision.episodes else episodes
    return decisions


TIED = {"all_tied": True, "floor_tied_share": 1.0, "varied": False}
FOUND = {"all_tied": False, "floor_tied_share": 0.9, "varied": False}


def test_sigma_doubles_every_patience_tied_generations_up_to_its_cap():
    decisions = replay(TieAdaptation(patience=3, max_sigma=1.0), [TIED] * 14)
    assert [(i, d.sigma) for i, d in decisions] == [
        (2, Adaptation("sigma", 0.2, 0.4)), (5, Adaptation("sigma", 0.4, 0.8)), (8, Adaptation("sigma", 0.8, 1.0))
    ]  # and nothing after the cap
    assert str(decisions[0][1].sigma) == "sigma 0.2 -> 0.4"
    assert "every member's return tied for 3 generations" in decisions[0][1].reason


def test_a_break_in_the_ties_starts_the_count_again():
    decisions = replay(TieAdaptation(patience=3), [TIED, TIED, FOUND, TIED, TIED, TIED])
    assert [(i, str(d.sigma)) for i, d in decisions] == [(5, "sigma 0.2 -> 0.4")]


def test_the_first_member_above_a_long_tie_is_tried_and_sigma_goes_back():
    decisions = replay(TieAdaptation(patience=3), [TIED] * 7 + [FOUND, FOUND])
    index, decision = decisions[-1]
    assert index == 7 and decision.take_best and decision.sigma == Adaptation("sigma", 0.8, 0.2)
    assert "after 7 tied generations" in decision.reason
    assert len(decisions) == 3  # widened twice, then settled once: the next find is the walk's own business


def test_a_find_after_a_long_tie_at_the_sigma_cap_is_tried_without_a_sigma_change():
    decisions = replay(TieAdaptation(patience=3, max_sigma=0.2), [TIED] * 5 + [FOUND])  # sigma 0.2 is already the cap
    assert [(i, d.take_best, d.sigma) for i, d in decisions] == [(5, True, None)]


def test_sigma_goes_back_to_what_it_was_before_widening_not_to_the_library_default():
    decisions = replay(TieAdaptation(patience=2, max_sigma=1.0), [TIED] * 4 + [FOUND], sigma=0.05)
    assert [str(d.sigma) for _, d in decisions] == ["sigma 0.05 -> 0.1", "sigma 0.1 -> 0.2", "sigma 0.2 -> 0.05"]


def test_episodes_and_sigma_are_judged_on_separate_counts():
    """Rule 3 looks at every window of ``patience`` generations, tied or not; rule 1 only at tied streaks."""
    rare = {"all_tied": False, "floor_tied_share": 0.95, "varied": True}
    decisions = replay(TieAdaptation(patience=4, max_episodes=2), [rare, TIED, TIED, rare] + [TIED] * 4)
    assert [(i, str(d.sigma), str(d.episodes)) for i, d in decisions] == [(3, "None", "episodes 1 -> 2"), (7, "sigma 0.2 -> 0.4", "None")]


def test_a_member_above_a_short_tie_is_left_to_the_walk():
    assert replay(TieAdaptation(patience=3), [TIED, TIED, FOUND] * 3) == []


def test_rare_rewards_that_vary_between_episodes_double_the_episodes_up_to_the_cap():
    rare = {"all_tied": False, "floor_tied_share": 0.9, "varied": True}
    decisions = replay(TieAdaptation(patience=4, threshold=0.8, max_episodes=4), [rare] * 20)
    assert [(i, d.episodes) for i, d in decisions] == [(3, Adaptation("episodes", 1, 2)), (7, Adaptation("episodes", 2, 4))]
    assert "90% of comparisons tied at the worst return over 4 generations" in decisions[0][1].reason


@pytest.mark.parametrize("figures, why", [
    ({"all_tied": False, "floor_tied_share": 0.9, "varied": False}, "the same policy scores the same every episode"),
    ({"all_tied": False, "floor_tied_share": 0.5, "varied": True}, "half the comparisons rank members already"),
    ({"all_tied": True, "floor_tied_share": 1.0, "varied": True}, "no member scored above the worst: more of the same ranks nothing"),
])
def test_no_more_episodes(figures, why):
    decisions = replay(TieAdaptation(patience=4, max_sigma=0.2), [figures] * 12)  # max_sigma 0.2: no widening either
    assert [d for _, d in decisions if d.episodes] == [], why


def test_observe_changes_nothing_it_is_given():
    adapt, state = TieAdaptation(patience=2), TieState(tied=1, window=1, floor_tied=1.0)
    new_state, decision = adapt.observe(state, sigma=0.2, episodes=1, **TIED)
    assert state == TieState(tied=1, window=1, floor_tied=1.0)  # frozen: a checkpoint's copy stays what it was
    assert new_state == TieState(tied=2, window=0, floor_tied=0.0, varied=False, base_sigma=0.2) and decision.sigma.after == 0.4


def test_its_memory_goes_into_flat_numbers_and_back():
    state = TieState(tied=7, window=3, floor_tied=2.75, varied=True, base_sigma=0.2)
    numbers = to_numbers(state)
    assert all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in numbers.values())  # state.json's rule
    assert from_numbers(numbers) == TieState(0, 3, 2.75, True, 0.2)  # tied comes back through RunState.tie_streak
    assert from_numbers({}) == TieState()  # a checkpoint from before


# -- the shares the walk reports -----------------------------------------------------------------
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


# -- in a run ------------------------------------------------------------------------------------
def rows(run_dir) -> list[dict]:
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def changes(logged: list[dict]) -> list[tuple[int, str]]:
    return [(int(r["generation"]), r["adapted"]) for r in logged if r["adapted"]]


def test_the_adaptation_is_on_by_default():
    assert Config().run.adapt_ties is True


def test_a_run_that_finds_nothing_widens_sigma_to_its_cap_says_so_and_resumes_with_it(tmp_path, capsys):
    args = ["--env", NOTHING_ID, "--population", "8", "--eval-episodes", "2", "--target", "1", "--logdir", str(tmp_path / "runs")]
    assert train_command.main([*args, "-n", "25", "--sigma", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "ties: sigma 0.3 -> 0.6 (every member's return tied for 10 generations) (--no-adapt-ties keeps the settings)" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    logged = rows(run_dir)
    assert changes(logged) == [(10, "sigma 0.3 -> 0.6 (every member's return tied for 10 generations)"),
                               (20, "sigma 0.6 -> 1 (every member's return tied for 20 generations)")]
    assert [int(r["tie_changes"]) for r in logged].count(1) == 2 and all(r["episodes_per_member"] == "1" for r in logged)
    assert train_command.main(["--resume", str(run_dir), "-n", "45"]) == 0
    resumed = rows(run_dir)
    assert changes(resumed) == changes(logged) and float(resumed[-1]["sigma"]) == 1.0  # kept, and at its cap


def test_without_adapt_ties_the_settings_stay(tmp_path, capsys):
    args = ["--env", NOTHING_ID, "--population", "8", "--eval-episodes", "2", "--target", "1", "--logdir", str(tmp_path / "runs")]
    assert train_command.main([*args, "-n", "12", "--no-adapt-ties"]) == 0
    assert "ties:" not in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert all(r["adapted"] == "" and r["tie_changes"] == "" and float(r["sigma"]) == 0.2 for r in rows(run_dir))


def frozen_lake(tmp_path, *extra):
    """Small FrozenLake runs (16 members): seconds each."""
    return ["--env", "FrozenLake-v1", "--population", "16", "--eval-episodes", "20", "--target", "2",
            "--logdir", str(tmp_path / "runs"), *extra]


def test_a_deterministic_goal_found_by_the_wider_search_becomes_the_centre(tmp_path):
    assert train_command.main(frozen_lake(tmp_path, "--env-kwargs", "is_slippery=false", "-n", "30")) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    logged = rows(run_dir)
    found = changes(logged)[-1]
    assert found[1].startswith("centre -> member ") and "above it on all 20 held-out episodes); sigma 0.8 -> 0.2" in found[1]
    assert logged[found[0]]["eval_mean"] == "1.0"  # the next generation's evaluation: the centre reaches the goal on all 20
    assert {r["episodes_per_member"] for r in logged} == {"1"}  # every episode of a policy is the same here


def test_a_rare_reward_that_varies_between_episodes_doubles_the_episodes_and_a_lucky_member_is_not_taken(tmp_path):
    assert train_command.main(frozen_lake(tmp_path, "-n", "30")) == 0  # slippery: the same policy reaches the goal now and then
    (run_dir,) = (tmp_path / "runs").iterdir()
    logged = rows(run_dir)
    made = changes(logged)
    assert [(g, c.split(" (")[0]) for g, c in made if c.startswith("episodes")] == [(10, "episodes 1 -> 2"), (20, "episodes 2 -> 4")]
    assert any("the centre stays" in c for _, c in made)  # a member that reached the goal once did not on every held-out episode
    assert {r["episodes_per_member"] for r in logged[20:]} == {"4"}


def latest(run_dir) -> tuple[np.ndarray, dict]:
    """checkpoints/latest: the walk's centre and state.json."""
    folder = run_dir / "checkpoints" / "latest"
    with np.load(folder / "walk.npz", allow_pickle=False) as walk:
        centre = walk["centre"]
    return centre, json.loads((folder / "state.json").read_text())


@pytest.mark.parametrize("kwargs, split_at, why", [
    (["--env-kwargs", "is_slippery=false"], 15, "split after sigma was widened, before the find that restores it"),
    ([], 15, "split after the episodes were doubled once, in the middle of the next window"),
])
def test_a_resumed_run_adapts_exactly_as_the_uninterrupted_one(tmp_path, kwargs, split_at, why):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_command.main(frozen_lake(straight, *kwargs, "-n", "30")) == 0
    assert train_command.main(frozen_lake(split, *kwargs, "-n", str(split_at))) == 0
    (run_dir,) = (split / "runs").iterdir()
    _, halfway = latest(run_dir)
    assert halfway["tie_streak"] > 0 or halfway["ties_window"] > 0, why  # the adaptation had something to remember
    assert train_command.main(["--resume", str(run_dir), "-n", "30"]) == 0
    (straight_dir,) = (straight / "runs").iterdir()
    columns = ["generation", "env_steps", "episodes", "sigma", "population_mean", "eval_mean", "episodes_per_member", "tie_changes", "adapted"]
    assert [[r[c] for c in columns] for r in rows(run_dir)] == [[r[c] for c in columns] for r in rows(straight_dir)]
    assert changes(rows(straight_dir)), why  # the adaptation acted after the split
    (centre, state), (straight_centre, straight_state) = latest(run_dir), latest(straight_dir)
    assert np.array_equal(centre, straight_centre)
    ties = ["tie_streak", "ties_window", "ties_floor_tied", "ties_varied", "ties_base_sigma", "sigma", "env_steps", "episodes"]
    assert {k: state[k] for k in ties} == {k: straight_state[k] for k in ties}
    assert state["config"]["run"]["episodes"] == straight_state["config"]["run"]["episodes"]


def cartpole(logdir, *extra):
    return ["--env", "CartPole-v1", "--population", "16", "--eval-episodes", "5", "--eval-freq", "2", "--target", "1e9",
            "-n", "12", "--logdir", str(logdir), *extra]


def test_a_task_whose_returns_never_tie_at_the_floor_runs_exactly_as_without_the_adaptation(tmp_path):
    """CartPole's members score differently (or tie at the top, 500): the adaptation looks and changes nothing."""
    for name, extra in (("on", []), ("off", ["--no-adapt-ties"])):
        assert train_command.main(cartpole(tmp_path / name, *extra)) == 0
    (on,), (off,) = (tmp_path / "on").iterdir(), (tmp_path / "off").iterdir()
    assert {r["tie_changes"] for r in rows(on)} == {"0"} and not changes(rows(on))
    columns = ["generation", "env_steps", "population_mean", "population_max", "sigma", "eval_mean", "episodes_per_member"]
    assert [[r[c] for c in columns] for r in rows(on)] == [[r[c] for c in columns] for r in rows(off)]
    assert np.array_equal(latest(on)[0], latest(off)[0])


def test_tensorboard_gets_the_episodes_and_the_changes(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = ["--env", NOTHING_ID, "--population", "8", "--eval-episodes", "2", "--target", "1", "--logdir", str(tmp_path), "-n", "12"]
    assert train_command.main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    changed = [e.value for e in events.Scalars("walk/tie_changes")]  # stepped by env steps, one a generation
    assert len(changed) == 12 and [index + 1 for index, value in enumerate(changed) if value] == [10]  # generation 10
    assert {e.value for e in events.Scalars("walk/episodes_per_member")} == {1.0}
    assert [e.value for e in events.Scalars("walk/sigma")][9:11] == pytest.approx([0.4, 0.4])
