"""The cat-and-mouse grid world: gymnasium conformance, rules, the seed's teacher, and the twins."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # check_env also opens the "human" mode
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from rlfree.envs.catmouse import (
    CAPTURE_PENALTY,
    DOWN,
    ENV_IDS,
    LEFT,
    RIGHT,
    STAY,
    UP,
    CatMouseEnv,
    evader_action,
    game_mistakes,
    mistakes_per_game,
    register_envs,
    survival_rate,
    teacher_action,
    teacher_move,
)
from rlfree.envs.catmouse_twin import CatMouseChaseTwin, teacher_actions
from rlfree.registry import make_twin, registered_twins

register_envs()
IDS = list(ENV_IDS)


def started(cat: str = "still", state=(2, 2, 3, 3), **kwargs) -> CatMouseEnv:
    env = CatMouseEnv(cat=cat, **kwargs)
    env.reset(seed=0, options={"state": list(state)})
    return env


# -- gymnasium conformance ---------------------------------------------------------------------
@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)
    env.close()


def test_register_envs_is_idempotent_and_registers_twins():
    register_envs()
    register_envs()
    for env_id in IDS:
        assert env_id in gym.registry
        assert gym.registry[env_id].max_episode_steps == 10
        assert env_id in registered_twins()
        twin = make_twin(env_id, num_envs=3)
        assert twin.env_id == env_id
        assert twin.observe(twin.initial_state(torch.arange(3))).shape == (3, 4)


@pytest.mark.parametrize("env_id", IDS)
def test_game_is_ten_moves_then_truncated(env_id):
    env = gym.make(env_id, cat_random=1.0) if env_id.endswith("Chase-v0") else gym.make(env_id)
    env.reset(seed=3, options={"state": [0, 0, 5, 5]})
    stay_put = np.array([UP, STAY]) if env_id.endswith("Duel-v0") else UP  # mouse bumps the top wall
    for move in range(10):
        obs, reward, terminated, truncated, _ = env.step(stay_put)
        if terminated:  # only a random cat can reach the far corner; try again from another seed
            pytest.skip("the random cat caught the mouse")
        assert truncated == (move == 9)
    env.close()


def test_observation_is_the_seeds_order_scaled():
    env = CatMouseEnv()
    obs, info = env.reset(options={"state": [1, 2, 5, 0]})
    assert obs.dtype == np.float32
    np.testing.assert_allclose(obs, np.array([1, 2, 5, 0]) / 5)
    assert info["distance"] == 4 + 2


def test_random_starts_are_distinct_cells_and_cover_the_room():
    env = CatMouseEnv()
    seen = set()
    env.reset(seed=1)
    for _ in range(2000):
        env.reset()
        cat_x, cat_y, mouse_x, mouse_y = env.state
        assert (cat_x, cat_y) != (mouse_x, mouse_y)
        assert 0 <= env.state.min() and env.state.max() <= 5
        seen.add((int(cat_x), int(cat_y)))
    assert len(seen) == 36


def test_bad_arguments_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="cat='dog'"):
        CatMouseEnv(cat="dog")
    with pytest.raises(ValueError, match="size=1"):
        CatMouseEnv(size=1)
    with pytest.raises(ValueError, match="action=7"):
        started().step(7)


# -- rendering ---------------------------------------------------------------------------------
def test_render_ansi_board():
    env = started(state=(0, 0, 5, 5), render_mode="ansi")
    board = env.render()
    lines = board.splitlines()
    assert len(lines) == 8
    assert lines[1].split()[-2] == "M"  # top row, right end: the mouse in (5, 5)
    assert lines[6].split()[1] == "C"  # bottom row, left end: the cat in (0, 0)


def test_render_rgb_array_frame():
    env = started(state=(0, 0, 5, 5), render_mode="rgb_array")
    env.step(LEFT)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] == frame.shape[1] == 6 * env.cell_px + 2 * env.wall_px
    cell = env.cell_px
    # the mouse's cell (4, 5) is top row, 5th column and holds green; the cat's (0, 0) holds red
    mouse = frame[env.wall_px : env.wall_px + cell, env.wall_px + 4 * cell : env.wall_px + 5 * cell]
    cat = frame[env.wall_px + 5 * cell : env.wall_px + 6 * cell, env.wall_px : env.wall_px + cell]
    assert ((mouse[..., 1] > 140) & (mouse[..., 0] < 80)).any()
    assert ((cat[..., 0] > 180) & (cat[..., 1] < 80)).any()


# -- rules -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mouse, move, expected",
    [
        ((0, 0), LEFT, (0, 0)),
        ((0, 0), DOWN, (0, 0)),
        ((5, 5), UP, (5, 5)),
        ((5, 5), RIGHT, (5, 5)),
        ((0, 3), LEFT, (0, 3)),
        ((2, 3), UP, (2, 4)),
        ((2, 3), RIGHT, (3, 3)),
        ((2, 3), DOWN, (2, 2)),
        ((2, 3), LEFT, (1, 3)),
    ],
)
def test_moves_and_walls_block(mouse, move, expected):
    env = started(state=(4, 0, *mouse))
    env.step(move)
    assert tuple(env.state[2:]) == expected
    assert tuple(env.state[:2]) == (4, 0)  # the still cat never moves


def test_reward_is_scaled_distance_and_walking_into_the_cat_is_capture():
    env = started(state=(2, 2, 3, 3))
    _, reward, terminated, _, _ = env.step(UP)
    assert reward == pytest.approx(3 / 10) and not terminated
    env = started(state=(2, 2, 3, 2))
    _, reward, terminated, _, _ = env.step(LEFT)
    assert reward == -CAPTURE_PENALTY and terminated


def test_chasing_cat_catches_a_cornered_mouse():
    env = started("chase", state=(3, 5, 5, 5))
    env.cat_noise = lambda step: np.array([0.9, 0.9])  # no random move: the cat chases
    _, _, terminated, _, _ = env.step(UP)  # mouse bumps the wall, cat -> (4, 5)
    assert not terminated and tuple(env.state) == (4, 5, 5, 5)
    _, reward, terminated, _, _ = env.step(RIGHT)  # again; cat -> (5, 5)
    assert terminated and reward == -CAPTURE_PENALTY


def test_chasing_cat_random_move_and_tie_break():
    env = started("chase", state=(2, 2, 5, 5))
    env.cat_noise = lambda step: np.array([0.9, 0.4])  # greedy; tie |dx| == |dy| -> along x
    env.step(UP)  # mouse bumps: gaps (3, 3)
    assert tuple(env.state[:2]) == (3, 2)
    env = started("chase", state=(2, 2, 5, 5))
    env.cat_noise = lambda step: np.array([0.9, 0.6])  # tie -> along y
    env.step(UP)
    assert tuple(env.state[:2]) == (2, 3)
    env = started("chase", state=(2, 2, 5, 5))
    env.cat_noise = lambda step: np.array([0.1, 0.8])  # random move floor(4 * 0.8) = 3: left
    env.step(UP)
    assert tuple(env.state[:2]) == (1, 2)


def test_mouse_cannot_swap_cells_with_the_cat():
    env = started("player", state=(2, 2, 3, 2))
    _, reward, terminated, _, _ = env.step(np.array([LEFT, RIGHT]))
    assert terminated and reward == -CAPTURE_PENALTY
    assert tuple(env.state) == (2, 2, 2, 2)  # the mouse walked into the cat, which stayed


def test_duel_cat_obeys_its_action_and_can_catch():
    env = started("player", state=(2, 2, 4, 2))
    _, _, terminated, _, _ = env.step(np.array([UP, STAY]))
    assert not terminated and tuple(env.state) == (2, 2, 4, 3)
    _, reward, terminated, _, _ = env.step(np.array([LEFT, UP]))
    assert not terminated and tuple(env.state) == (2, 3, 3, 3)
    _, reward, terminated, _, _ = env.step(np.array([UP, UP]))
    assert not terminated and tuple(env.state) == (2, 4, 3, 4)
    _, reward, terminated, _, _ = env.step(np.array([DOWN, RIGHT]))
    assert not terminated and tuple(env.state) == (3, 4, 3, 3)
    _, reward, terminated, _, _ = env.step(np.array([UP, DOWN]))  # mouse walks into the cat
    assert terminated and reward == -CAPTURE_PENALTY


# -- the seed's teacher ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cat, mouse, expected",
    [
        ((0, 0), (3, 1), RIGHT),  # furthest in x: keep running right
        ((0, 0), (1, 3), UP),  # furthest in y: run up
        ((2, 4), (3, 1), DOWN),  # cat above, further in y: run down
        ((3, 3), (4, 4), RIGHT),  # |dx| == |dy| -> horizontal
        ((4, 2), (3, 3), LEFT),  # cat to the right, tie -> left
        ((4, 2), (2, 2), LEFT),  # same row, cat to the right
        ((2, 2), (2, 4), UP),  # same column (dx == 0 counts as "cat on the left")
        ((2, 3), (2, 1), DOWN),
        ((2, 2), (2, 0), RIGHT),  # bottom row, cat straight above: sideways (right), not into the wall
        ((1, 1), (5, 3), UP),  # on the right wall, cat below: along the wall, up
        ((1, 3), (5, 1), DOWN),  # on the right wall, cat above: down
        ((1, 2), (5, 2), RIGHT),  # quirk: right wall, level with the cat -> right (bump)
        ((4, 2), (0, 2), UP),  # quirk: left wall, level with the cat -> up
        ((3, 3), (0, 1), DOWN),  # left wall, cat above: down
        ((3, 1), (0, 3), UP),  # left wall, cat below: up
        ((0, 3), (1, 5), RIGHT),  # top row: can't go up, dx = 1 < dy = 2 but not at the wall
        ((2, 1), (5, 5), UP),  # corner quirk: told up into the top wall
        ((1, 1), (0, 0), DOWN),  # corner quirk: told down into the bottom wall
    ],
)
def test_teacher_follows_the_seeds_rules(cat, mouse, expected):
    assert teacher_move(*cat, *mouse) == expected
    assert teacher_action(np.array([*cat, *mouse], dtype=np.float32) / 5) == expected


def test_teacher_never_steps_onto_the_cat_and_batched_teacher_agrees():
    cells = torch.cartesian_prod(*[torch.arange(6)] * 4)
    cells = cells[(cells[:, 0] != cells[:, 2]) | (cells[:, 1] != cells[:, 3])]
    batched = teacher_actions(cells.to(torch.float32))
    scalar = [teacher_move(*map(int, row)) for row in cells]
    assert batched.tolist() == scalar
    for (cat_x, cat_y, mouse_x, mouse_y), move in zip(cells.tolist(), scalar):
        env = started(state=(cat_x, cat_y, mouse_x, mouse_y))
        assert not env.step(move)[2]


def test_mistakes_per_game_counts_moves_unlike_the_teacher():
    assert mistakes_per_game(teacher_action, n_games=100, seed=0) == 0.0
    rng = np.random.default_rng(0)
    random_mistakes = mistakes_per_game(lambda obs: int(rng.integers(4)), n_games=100, seed=0)
    assert 5.0 < random_mistakes <= 10.0
    always_up = mistakes_per_game(lambda obs: UP, n_games=50, seed=1)
    assert 0.0 < always_up < 10.0
    reset_calls = []

    class Recurrent:
        def reset(self):
            reset_calls.append(1)

        def __call__(self, obs):
            return teacher_action(obs)

    assert mistakes_per_game(Recurrent(), n_games=7) == 0.0 and len(reset_calls) == 7


def test_teacher_env_return_is_ten_minus_mistakes():
    env = gym.make("rlfree/CatMouseTeacher-v0")
    for seed in range(20):
        rng = np.random.default_rng(seed)
        mistakes = game_mistakes(lambda obs: int(rng.integers(4)), CatMouseEnv(), seed=seed)
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(4)))
            total += reward
            done = terminated or truncated
        assert total == 10 - mistakes
    env.close()


def test_evader_outlives_the_teacher_against_the_chasing_cat():
    evader = survival_rate(evader_action, n_games=200, seed=0)
    teacher = survival_rate(teacher_action, n_games=200, seed=0)
    assert evader == 1.0 and teacher < 0.8


# -- the batched twins -------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_twin_matches_gym_step_for_step(env_id, dtype):
    n = 16
    rng = np.random.default_rng(7)
    envs = [gym.make(env_id) for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=100 + i)
    starts = np.stack([env.unwrapped.state for env in envs])  # [cat_x, cat_y, mouse_x, mouse_y]
    twin = make_twin(env_id, num_envs=n, dtype=dtype)
    twin.reset(torch.arange(1000, 1000 + n))
    obs = twin.set_state(torch.as_tensor(starts))
    for i, env in enumerate(envs):  # the gym cat meets exactly the twin's dice
        env.unwrapped.cat_noise = lambda step, i=i: twin.cat_noise(step)[i].numpy()
        np.testing.assert_allclose(obs[i].numpy(), env.unwrapped._observation(), rtol=0, atol=1e-6)
    alive = np.ones(n, dtype=bool)
    duel = env_id.endswith("Duel-v0")
    for step in range(10):
        if duel:
            actions = np.stack([rng.integers(4, size=n), rng.integers(5, size=n)], axis=1)
        else:
            actions = rng.integers(4, size=n)
        obs, reward, terminated, truncated = twin.step(torch.as_tensor(actions, dtype=torch.int64))
        assert obs.dtype == dtype and reward.dtype == dtype and terminated.dtype == torch.bool
        for i in np.flatnonzero(alive):
            g_obs, g_reward, g_terminated, g_truncated, _ = envs[i].step(actions[i])
            np.testing.assert_allclose(obs[i].numpy(), g_obs, rtol=0, atol=1e-6)
            assert float(reward[i]) == pytest.approx(g_reward, abs=1e-6)
            assert bool(terminated[i]) == g_terminated
            assert bool(truncated[i]) == g_truncated
            alive[i] = not (g_terminated or g_truncated)
    assert not alive.any()


def test_twin_reset_is_a_function_of_the_seed_alone():
    twin = CatMouseChaseTwin(num_envs=5000)
    twin.reset(torch.arange(5000))
    state = twin.state
    assert ((state[:, :2] != state[:, 2:]).any(dim=1)).all()
    assert state.min() >= 0 and state.max() <= 5 and (state == state.round()).all()
    assert len(set(map(tuple, state[:, :2].tolist()))) == 36
    other = CatMouseChaseTwin(num_envs=3)
    other.reset(torch.tensor([4, 4, 17]))
    assert torch.equal(other.state[0], state[4]) and torch.equal(other.state[2], state[17])
    assert torch.equal(other.cat_noise(3)[1], twin.cat_noise(3)[4])


def test_chase_twin_gives_a_careless_mouse_worse_odds_than_a_careful_one():
    n = 2000
    twin = CatMouseChaseTwin(num_envs=n)
    outcomes = {}
    for name, policy in {"random": None, "teacher": teacher_actions}.items():
        obs = twin.reset(torch.arange(n))
        caught = torch.zeros(n, dtype=torch.bool)
        gen = torch.Generator().manual_seed(0)
        for _ in range(10):
            actions = torch.randint(4, (n,), generator=gen) if policy is None else policy(obs * 5)
            obs, _, terminated, _ = twin.step(actions)
            caught |= terminated
        outcomes[name] = 1.0 - caught.float().mean().item()
    assert outcomes["random"] < 0.25 < outcomes["teacher"] < 0.8


# -- learning by imitation (the preset in agents/) ----------------------------------------------
@pytest.mark.slow
def test_imitation_preset_reaches_one_mistake_per_game_on_held_out_games(tmp_path):
    from rlfree.agent import load_agent
    from rlfree.config import Config, load_toml
    from rlfree.run_loop import RunLoop
    from rlfree.shipped import preset_path
    from rlfree.trainer import Trainer

    config = Config.from_dict(load_toml(preset_path("rlfree/CatMouseTeacher-v0")))
    config.run.logdir = str(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only wait on each other
    try:
        result = RunLoop(Trainer(config), tmp_path, config=config).run()
    finally:
        torch.set_num_threads(threads)
    assert result.state.solved and result.state.episodes < 1_000_000
    returns = load_agent(tmp_path).score([1_700_000_000 + i for i in range(1000)])
    assert 10.0 - returns.mean() <= 1.0  # mistakes per game on 1000 held-out games of gymnasium's env
