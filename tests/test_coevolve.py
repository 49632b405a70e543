"""Cat versus mouse: the co-evolution trainer, its checkpoints and logs, and duel playback."""

import csv

import numpy as np
import pytest
import torch

import rlfree.envs  # noqa: F401  registers the cat-and-mouse envs with gymnasium
import rlfree.evaluator as evaluator_module
from rlfree.board import Board
from rlfree.checkpoint import CheckpointError, load_checkpoint
from rlfree.coevolve import YARDSTICK, CoevolutionTrainer, DuelPolicy, DuelRecord, load_duel_agent, side_spaces
from rlfree.config import Config, ConfigError
from rlfree.policy import Policy
from rlfree.run_loop import RunLoop, load_run

from conftest import load_script


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second intra-op thread only adds waiting, many times over on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_config(tmp_path, **run) -> Config:
    return Config.from_dict(
        {
            "env": {"env": "rlfree/CatMouseDuel-v0"},
            "network": {"hidden": 3, "obs_encoding": "bins:6"},
            "walk": {"population": 6, "sigma": 0.2, "lr": 0.1},
            "run": {"episodes": 3, "eval_freq": 1, "eval_episodes": 20, "generations": 2, "logdir": str(tmp_path), **run},
        }
    )


def run(config, run_dir, observers=None, resume=False):
    """A co-evolution run in ``run_dir`` (continued from its latest checkpoint with ``resume``)."""
    trainer = CoevolutionTrainer(config)
    state = None
    if resume:
        _, state, parts = load_run(run_dir)
        trainer.restore(parts)
    return trainer, RunLoop(trainer, run_dir, observers, config=config, state=state).run()


def test_generations_log_both_sides_and_write_a_checkpoint_per_animal(tmp_path):
    config = small_config(tmp_path)
    trainer, result = run(config, tmp_path, [Board(tmp_path, DuelRecord, config.to_dict())])
    assert result.state.generation == 2 and not result.interrupted
    assert result.state.episodes == 2 * (2 * 6 * 3 + 20)  # both halves of the population, then the centres
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert [int(r["generation"]) for r in rows] == [1, 2]
    for row in rows:
        for name in ("mouse_return", "cat_return", "capture_rate", "game_length", "centre_mouse_return"):
            assert row[name] != ""
        assert 0.0 <= float(row["capture_rate"]) <= 1.0 and 1.0 <= float(row["game_length"]) <= 10.0
    assert list(tmp_path.glob("events.out.tfevents.*"))
    for side, actions in (("mouse", 4), ("cat", 5)):
        checkpoint = load_checkpoint(tmp_path / "checkpoints" / "latest" / side)
        assert checkpoint.network["role"] == side and checkpoint.state["generation"] == 2
        assert checkpoint.W.shape == (actions + 3, 1 + 24 + actions + 3)
        np.testing.assert_array_equal(checkpoint.W.reshape(-1), trainer.walks[side].centre.numpy())


def test_cat_fitness_is_minus_the_mouse_return(tmp_path, monkeypatch):
    config = small_config(tmp_path)
    trainer = CoevolutionTrainer(config)
    seen = {}
    rollout_of = evaluator_module.evaluate

    def recording_evaluate(policy, params, env, seeds, max_steps=None, on_progress=None, **options):
        rollout = rollout_of(policy, params, env, seeds, max_steps, on_progress, **options)
        seen.setdefault("rollout", rollout)
        return rollout

    for side in ("mouse", "cat"):
        tell = trainer.walks[side].tell
        monkeypatch.setattr(trainer.walks[side], "tell", lambda returns, side=side, tell=tell: (seen.__setitem__(side, returns), tell(returns))[1])
    monkeypatch.setattr(evaluator_module, "evaluate", recording_evaluate)
    RunLoop(trainer, tmp_path, config=config).step()
    returns = seen["rollout"].returns
    assert returns.shape == (12, 3)
    assert torch.equal(seen["mouse"], returns[:6])
    assert torch.equal(seen["cat"], -returns[6:])
    assert not torch.equal(seen["mouse"], -seen["cat"])  # two different halves of the games


def test_duel_policy_acts_as_the_two_policies_side_by_side():
    policies = {side: Policy.for_spaces("rlfree/CatMouseDuel-v0", *side_spaces(side), hidden=2, ticks=2, activation="tanh", obs_encoding="bins:6") for side in ("mouse", "cat")}
    duel = DuelPolicy(policies["mouse"], policies["cat"])
    gen = torch.Generator().manual_seed(0)
    params = {side: torch.randn(3, p.spec.n_params, generator=gen, dtype=torch.float64) for side, p in policies.items()}
    obs = torch.randint(0, 6, (3 * 5, 4), generator=gen).to(torch.float64) / 5
    network = duel.network(duel.join(params["mouse"], params["cat"]))
    actions, state = duel.act(network, obs, network.initial_activations(5))
    assert actions.shape == (15, 2) and state.shape == (3, 5, (4 + 2) + (5 + 2))
    for column, side in enumerate(("mouse", "cat")):
        single = policies[side].network(params[side])
        expected, expected_state = policies[side].act(single, obs, single.initial_activations(5))
        assert torch.equal(actions[:, column], expected)
        part = state[..., :6] if side == "mouse" else state[..., 6:]
        assert torch.equal(part, expected_state)


def test_centres_of_generation_ten_are_kept_and_measured_against(tmp_path):
    config = small_config(tmp_path, generations=YARDSTICK + 1, eval_freq=YARDSTICK + 1, eval_episodes=10)
    run(config, tmp_path)
    early = tmp_path / "checkpoints" / f"gen{YARDSTICK}"
    assert load_checkpoint(early / "mouse").state["generation"] == YARDSTICK
    assert load_checkpoint(early / "cat").state["generation"] == YARDSTICK
    resumed = CoevolutionTrainer(config)
    _, state, parts = load_run(tmp_path)
    resumed.restore(parts)
    assert set(resumed.early) == {"mouse", "cat"}  # the yardstick survives a resume
    figures, _, _ = resumed.evaluate_centres(state.generation)
    assert 0.0 <= figures["cat_vs_early_mouse_capture_rate"] <= 1.0
    assert np.isfinite(figures["mouse_vs_early_cat_return"])


def test_resume_continues_bitwise_identical(tmp_path):
    straight, straight_result = run(small_config(tmp_path / "a", generations=4, eval_freq=2), tmp_path / "a")
    run(small_config(tmp_path / "b", generations=2, eval_freq=2), tmp_path / "b")
    resumed, resumed_result = run(small_config(tmp_path / "b", generations=4, eval_freq=2), tmp_path / "b", resume=True)
    for side in ("mouse", "cat"):
        assert torch.equal(straight.walks[side].centre, resumed.walks[side].centre)
    assert straight_result.state.episodes == resumed_result.state.episodes


def test_a_saved_duel_plays_in_gymnasiums_env_and_mixes_versions(tmp_path):
    run(small_config(tmp_path, generations=YARDSTICK, eval_freq=YARDSTICK), tmp_path)
    agent = load_duel_agent(tmp_path)
    returns = agent.score([1_500_000_000 + i for i in range(8)])
    assert returns.shape == (8,) and np.all((returns < 0) | (returns >= 1.0))
    mixed = load_duel_agent(tmp_path / "checkpoints" / f"gen{YARDSTICK}", cat=tmp_path)
    assert mixed.params.shape == agent.params.shape
    with pytest.raises(CheckpointError, match="expected the cat's"):
        load_duel_agent(tmp_path, cat=tmp_path / "checkpoints" / "latest" / "mouse")
    import gymnasium as gym

    env = gym.make("rlfree/CatMouseDuel-v0")
    total, length = mixed.play(env, seed=3)
    assert 1 <= length <= 10
    env.close()


def test_coevolution_refuses_a_single_animal_env(tmp_path):
    config = small_config(tmp_path)
    config.env.env = "rlfree/CatMouseChase-v0"
    with pytest.raises(ConfigError, match="CatMouseDuel-v0"):
        CoevolutionTrainer(config)


def _script(name: str):
    """scripts/NAME.py as a module (catmouse_report is a script only, not an rlfree command)."""
    return load_script(name)


def test_train_coevolve_then_resume_watch_and_report(tmp_path, capsys):
    from rlfree.commands import train, watch

    report = _script("catmouse_report")
    small = ["--hidden", "2", "--population", "4", "--episodes", "2", "--eval-episodes", "10", "--logdir", str(tmp_path)]
    assert train.main(["--coevolve", "-n", str(YARDSTICK), *small]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert train.main(["--coevolve", "--resume", str(run_dir), "-n", str(YARDSTICK + 2)]) == 0
    assert load_checkpoint(run_dir / "checkpoints" / "latest" / "cat").state["generation"] == YARDSTICK + 2
    assert len(list(csv.DictReader(open(run_dir / "progress.csv")))) == YARDSTICK + 2
    assert watch.main([str(run_dir), "--render", "ansi", "--episodes", "1"]) == 0
    assert "+-------------+" in capsys.readouterr().out  # a board was drawn
    assert report.main(["--duel", str(run_dir), "--only", "duel", "--games", "20"]) == 0
    assert "cat gen 10" in capsys.readouterr().out
