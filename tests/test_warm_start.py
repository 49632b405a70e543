"""--init-from: a new run that starts from a saved agent's weights (rlfree.warm_start)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rlfree.agent import load_agent
from rlfree.checkpoint import load_checkpoint
from rlfree.commands import train as train_script
from rlfree.config import Config, load_toml
from rlfree.obs_norm import RunningStats
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer


def train_args(logdir: Path, *extra: str) -> list[str]:
    return ["--env", "CartPole-v1", "--backend", "torch", "--hidden", "2", "--population", "8", "--episodes", "1", "--eval-episodes", "2",
            "--target", "1e9", "--seed", "3", "-n", "2", "--logdir", str(logdir), *extra]


def only_run(logdir: Path) -> Path:
    (run_dir,) = logdir.iterdir()
    return run_dir


def trainer_from(agent: Path, tmp_path: Path, *extra: str) -> Trainer:
    config = Config()
    config.update(load_toml(preset_path("CartPole-v1")), "preset")  # what train_args' runs use
    config.update({"env": {"env": "CartPole-v1", "backend": "torch"}, "network": {"hidden": 2},
                   "walk": {"population": 8}, "run": {"init_from": str(agent)}}, "test")
    for flag in extra:
        section, name, value = flag
        config.update({section: {name: value}}, "test")
    return Trainer(config)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    logdir = tmp_path_factory.mktemp("saved")
    assert train_script.main(train_args(logdir, "--normalize-obs")) == 0
    return only_run(logdir)


def test_the_run_starts_at_the_agents_weights_and_observation_statistics(saved_run, tmp_path):
    trainer = trainer_from(saved_run, tmp_path, ("network", "normalize_obs", True))
    try:
        agent = load_agent(saved_run)
        assert torch.equal(trainer.optimiser.centre.to(torch.float64), agent.params[0].to(torch.float32).to(torch.float64))
        saved = RunningStats.from_arrays(load_checkpoint(saved_run).walk, trainer.policy.spec.n_inputs)
        assert int(trainer.obs_stats.count) == int(saved.count) > 0
        np.testing.assert_array_equal(trainer.obs_stats.mean, saved.mean)
        np.testing.assert_array_equal(trainer.policy.normalizer.std, agent.policy.normalizer.std)
    finally:
        trainer.close()


def test_an_agent_folder_brings_its_frozen_statistics(saved_run, tmp_path):
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    for name in ("W.npy", "network.json"):  # what agents/ ships: no walk.npz
        shutil.copy(saved_run / "checkpoints" / "best" / name, agent_dir / name)
    trainer = trainer_from(agent_dir, tmp_path, ("network", "normalize_obs", True))
    try:
        frozen = load_agent(agent_dir).policy.normalizer
        np.testing.assert_allclose(trainer.policy.normalizer.mean, frozen.mean)
        np.testing.assert_allclose(trainer.policy.normalizer.std, frozen.std)
        assert trainer.policy.normalizer.count == frozen.count
    finally:
        trainer.close()


@pytest.mark.parametrize("algo", [{"algo": "cmaes"}, {"algo": "cmaes", "cmaes_covariance": "diagonal"}, {"algo": "ga", "ga_population": 6}, {}])
def test_every_optimiser_starts_at_the_agent(saved_run, tmp_path, algo):
    """The centre is the agent's W; the GA's first children are its mutations, not random networks."""
    trainer = trainer_from(saved_run, tmp_path, ("network", "normalize_obs", True), *(("algo", k, v) for k, v in algo.items()))
    try:
        agent = load_agent(saved_run).params[0].to(torch.float32)
        assert torch.equal(trainer.optimiser.centre, agent)
        if algo.get("algo") == "ga":
            rows = trainer.optimiser.ask()
            assert torch.equal(rows[0], agent)
            distances = (rows[1:] - agent).norm(dim=1) / (Config().algo.ga_sigma * agent.numel() ** 0.5)
            assert distances.min() > 0.5 and distances.max() < 1.5, distances  # sigma * sqrt(D) away: mutations
    finally:
        trainer.close()


def test_init_from_on_the_command_line_makes_a_new_run_that_names_it(saved_run, tmp_path):
    logdir = tmp_path / "runs"
    assert train_script.main(train_args(logdir, "--normalize-obs", "--init-from", str(saved_run), "--algo", "cmaes", "-n", "1")) == 0
    run_dir = only_run(logdir)
    assert f'init_from = "{saved_run}"' in (run_dir / "config.toml").read_text()
    assert (run_dir / "checkpoints" / "latest" / "W.npy").is_file()


@pytest.mark.parametrize("flags, words", [
    (["--hidden", "3"], "is not of this run's env and network: hidden 2 (this run: 3)"),
    (["--activation", "relu"], "activation tanh (this run: relu)"),
    ([], "normalize_obs true (this run: false)"),
    (["--normalize-obs", "--algo", "wann", "--activation", "per_neuron"], "is not accepted with algo wann"),
])  # fmt: skip
def test_another_network_is_one_line_and_nothing_is_written(saved_run, tmp_path, capsys, flags, words):
    logdir = tmp_path / "runs"
    args = train_args(logdir, "--init-from", str(saved_run), *flags)
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not logdir.exists()


def test_another_env_and_a_missing_agent_are_one_line(saved_run, tmp_path, capsys):
    for target, words in ((str(saved_run), "env CartPole-v1 (this run: Acrobot-v1)"), (str(tmp_path / "nowhere"), "nowhere")):
        with pytest.raises(SystemExit) as exit_info:
            train_script.main(["--env", "Acrobot-v1", "--hidden", "2", "--normalize-obs", "--init-from", target, "-n", "1",
                               "--logdir", str(tmp_path / "runs")])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_resume_refuses_init_from_and_continues_without_reading_it_again(saved_run, tmp_path, capsys):
    logdir = tmp_path / "runs"
    copy = tmp_path / "copy"
    shutil.copytree(saved_run, copy)
    assert train_script.main(train_args(logdir, "--normalize-obs", "--init-from", str(copy), "-n", "1")) == 0
    run_dir = only_run(logdir)
    with pytest.raises(SystemExit):
        train_script.main(["--resume", str(run_dir), "--init-from", str(copy)])
    assert "--init-from is not accepted with --resume" in capsys.readouterr().err
    shutil.rmtree(copy)  # the run's own checkpoint is all a resume needs
    assert train_script.main(["--resume", str(run_dir), "-n", "2"]) == 0
    state = json.loads((run_dir / "checkpoints" / "latest" / "state.json").read_text())
    assert state["generation"] == 2


def test_the_duel_refuses_init_from(saved_run, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--coevolve", "--init-from", str(saved_run), "--logdir", str(tmp_path / "runs"), "-n", "1"])
    assert "is not accepted with --coevolve: the duel starts both sides from random weights" in capsys.readouterr().err
