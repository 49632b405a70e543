"""--reward-shift S: the walk learns from every step's reward less S; everything reported is the env's own."""

import pytest
import torch

from rlfree.commands import train as train_script
from rlfree.commands import watch as watch_script
from rlfree.config import Config
from rlfree.run_loop import RunState
from rlfree.trainer import Trainer


def cartpole_config(tmp_path, shift: float, name: str) -> Config:
    config = Config()
    config.env.env = "CartPole-v1"
    config.walk.population, config.walk.reward_shift = 8, shift
    config.run.episodes, config.run.eval_episodes, config.run.generations = 2, 4, 1
    config.run.target = 1.0  # any centre reaches it: the target check runs in generation 1
    config.run.logdir, config.run.exp_name = str(tmp_path / "runs"), name
    return config


def test_the_walk_learns_from_shifted_rewards_and_every_figure_is_the_envs_own(tmp_path):
    # CartPole pays 1 per step: less 1 per step every member's training return is 0, so the walk,
    # which compares only those, ties everywhere and stays put
    records, centres = {}, {}
    for shift in (0.0, 1.0):
        trainer = Trainer(cartpole_config(tmp_path, shift, f"shift{shift:g}"))
        start = trainer.optimiser.centre.clone()
        state = RunState(env_id="CartPole-v1", config=trainer.config.to_dict())
        records[shift] = trainer.generation(state).record
        centres[shift] = (start, trainer.optimiser.centre.clone())
        trainer.close()
    plain, shifted = records[0.0], records[1.0]
    assert shifted.step_norm == 0.0 and shifted.tied_share == 1.0 and torch.equal(*centres[1.0])
    assert plain.step_norm > 0 and not torch.equal(*centres[0.0])
    assert shifted.population_mean == plain.population_mean > 5  # the env's own returns, not 0
    assert (shifted.population_max, shifted.population_min) == (plain.population_max, plain.population_min)
    assert shifted.eval_mean == plain.eval_mean > 5  # the centre's evaluation: the env's reward
    assert shifted.check_mean == plain.check_mean > 5  # the target check on gymnasium: the env's reward
    assert shifted.env_steps == plain.env_steps


def test_a_shifted_runs_agent_scores_the_envs_reward_in_watch(tmp_path, capsys):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    outputs = {}
    for shift in ("0", "0.5"):
        logdir = tmp_path / f"runs{shift}"
        argv = ["--config", str(empty), "--env", "Pendulum-v1", "--population", "6", "--episodes", "1", "--eval-episodes", "3",
                "-n", "2", "--target", "1e9", "--reward-shift", shift, "--logdir", str(logdir)]
        assert train_script.main(argv) == 0
        (run_dir,) = logdir.iterdir()
        assert "reward_shift = " + ("0.0" if shift == "0" else "0.5") in (run_dir / "config.toml").read_text()
        assert "shift" not in (run_dir / "checkpoints" / "best" / "network.json").read_text()  # the agent knows nothing of it
        capsys.readouterr()
        assert watch_script.main([str(run_dir), "--no-render", "--episodes", "3"]) == 0
        outputs[shift] = capsys.readouterr().out.splitlines()[1:]
        # generation 1's evaluation is the best so far: the initial centre, the same in both runs
        rows = (run_dir / "progress.csv").read_text().splitlines()
        outputs[shift + "csv"] = rows[1].split(",")[3]  # population_mean of generation 1
    assert outputs["0"] == outputs["0.5"]
    assert outputs["0csv"] == outputs["0.5csv"]
    returns = [float(line.split("return ")[1]) for line in outputs["0"][:3]]
    assert all(-2000 < value < 0 for value in returns)  # Pendulum's own reward, never shifted up by 0.5 * 200


def test_coevolve_refuses_a_reward_shift_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--coevolve", "--reward-shift", "1", "--logdir", str(tmp_path / "runs")])
    assert "reward_shift=1.0 is not accepted with --coevolve" in capsys.readouterr().err


@pytest.mark.parametrize("variant", ["smart", "seed"])
def test_the_walks_figures_describe_the_env_returns_and_its_step_the_shifted_ones(variant):
    from rlfree.config import WalkConfig
    from rlfree.optimiser import make_optimiser

    config = WalkConfig(population=4, variant=variant)
    learned = torch.tensor([[3.0], [1.0], [4.0], [1.0], [5.0]])[: 4 + (variant == "seed")]
    env = learned + 100.0
    walks = [make_optimiser(config, torch.zeros(6), seed=2) for _ in range(2)]
    for walk in walks:
        walk.ask()
    alone, with_env = walks[0].tell(learned), walks[1].tell(learned, env_returns=env)
    assert torch.equal(walks[0].centre, walks[1].centre)  # the same step: from the returns told
    members = env[1:] if variant == "seed" else env
    assert with_env["population_mean"] == pytest.approx(float(members.mean()))
    assert with_env["population_max"] == float(members.max()) and with_env["population_min"] == float(members.min())
    assert {k: v for k, v in with_env.items() if not k.startswith("population")} == {k: v for k, v in alone.items() if not k.startswith("population")}
