"""--algo from the command line and presets: what each optimiser accepts, refuses and logs."""

import tomllib
from pathlib import Path

import pytest
import torch

from rlfree.commands import train as train_script
from rlfree.config import Config, ConfigError
from rlfree.memory import check_memory
from rlfree.network import NetworkSpec


def args(tmp_path: Path, *extra: str, preset: str = "") -> list[str]:
    config = tmp_path / "preset.toml"
    config.write_text(preset)
    return ["--config", str(config), "--env", "CartPole-v1", "--backend", "torch", "--episodes", "1", "--eval-episodes", "2",
            "--target", "1e9", "--seed", "1", "-n", "2", "--logdir", str(tmp_path / "runs"), *extra]


@pytest.mark.parametrize("flags, words", [
    (["--algo", "ga", "--population", "32", "--ga-population", "16"], "--population 32 and --ga-population 16 disagree: with --algo ga both set ga_population; give one of them"),
    (["--algo", "cmaes", "--sigma", "0.5", "--cmaes-sigma", "0.3"], "--sigma 0.5 and --cmaes-sigma 0.3 disagree"),
    (["--algo", "ga", "--lr", "0.5"], "--lr is not accepted with --algo ga: it is a setting of the walk; leave it out, or use --algo walk"),
    (["--algo", "cmaes", "--top-directions", "2"], "--top-directions is not accepted with --algo cmaes: it is a setting of the walk"),
    (["--algo", "ga", "--sigma-decay", "0.99"], "--sigma-decay is not accepted with --algo ga"),
    (["--algo", "ga", "--adapt-ties"], "--adapt-ties is not accepted with --algo ga: it adapts the walk's sigma and episodes"),
    (["--algo", "pso"], "algo 'pso' is not accepted; use one of walk, ga, cmaes"),
    (["--algo", "ga", "--ga-parents", "65"], "ga_parents=65 is not accepted: use 1 to ga_population (64)"),
    (["--algo", "ga", "--ga-population", "8", "--ga-elites", "8"], "ga_elites=8 is not accepted: use 1 to ga_population - 1 (7)"),
    (["--algo", "cmaes", "--cmaes-covariance", "sparse"], "cmaes_covariance 'sparse' is not accepted; use one of full, diagonal"),
    (["--algo", "cmaes", "--cmaes-population", "1"], "cmaes_population=1 is not accepted"),
])  # fmt: skip
def test_a_setting_the_algo_does_not_carry_out_is_one_line_and_nothing_is_written(tmp_path, capsys, flags, words):
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(args(tmp_path, *flags))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_a_presets_walk_settings_are_named_as_unused_with_another_algo_and_reward_shift_applies(tmp_path, capsys):
    preset = "[walk]\npopulation = 32\nsigma_decay = 0.99\nreward_shift = 1.0\n"
    assert train_script.main(args(tmp_path, "--algo", "ga", "--ga-population", "6", preset=preset)) == 0
    out = capsys.readouterr().out
    assert "algo ga: the preset's walk settings population, sigma_decay are the walk's and not used" in out


def test_a_preset_names_its_algo_and_the_command_line_overrides_it(tmp_path, capsys):
    preset = '[algo]\nalgo = "cmaes"\ncmaes_population = 6\n'
    assert train_script.main(args(tmp_path, preset=preset)) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    assert 'algo = "cmaes"' in (run_dir / "config.toml").read_text()
    assert train_script.main(args(tmp_path, "--algo", "walk", "--population", "4", preset=preset)) == 0


@pytest.mark.parametrize("preset, flags, fields", [
    ('[algo]\nalgo = "cmaes"\n', ["--population", "6", "--sigma", "0.3"], {"cmaes_population": 6, "cmaes_sigma": 0.3}),
    ("", ["--algo", "ga", "--population", "6", "--sigma", "0.05"], {"ga_population": 6, "ga_sigma": 0.05}),
    ("", ["--algo", "ga", "--population", "6", "--ga-population", "6"], {"ga_population": 6}),
])  # fmt: skip
def test_population_and_sigma_set_the_optimisers_own_fields(tmp_path, capsys, preset, flags, fields):
    """--population and --sigma work with every optimiser, also where a preset names one that is not the walk."""
    assert train_script.main(args(tmp_path, *flags, preset=preset)) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    config = Config.from_dict(tomllib.loads((run_dir / "config.toml").read_text()))
    assert {name: getattr(config.algo, name) for name in fields} == fields
    assert (config.walk.population, config.walk.sigma) == (Config().walk.population, Config().walk.sigma)
    assert "not used" not in capsys.readouterr().out


def test_the_duel_refuses_another_algo(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_script.main(["--coevolve", "--algo", "ga", "--logdir", str(tmp_path / "runs"), "-n", "1"])
    assert "algo=ga is not accepted with --coevolve: each side of the duel trains with its own walk" in capsys.readouterr().err


@pytest.mark.parametrize("algo, extra, tags", [
    ("ga", ["--ga-population", "6"], {"ga/sigma", "ga/elite_fitness", "ga/step_norm", "ga/population_max", "ga/tied_share"}),
    ("cmaes", ["--cmaes-population", "6"], {"cmaes/sigma", "cmaes/elite_fitness", "cmaes/axis_ratio", "cmaes/step_norm"}),
])  # fmt: skip
def test_tensorboard_tags_are_the_optimisers_own(tmp_path, algo, extra, tags):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert train_script.main(args(tmp_path, "--algo", algo, *extra)) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert tags <= scalars and not any(tag.startswith("walk/") for tag in scalars), scalars
    assert {"rollout/ep_rew_mean", "eval/mean_reward", "time/fps"} <= scalars  # Stable-Baselines3's stay as they are
    assert len(events.Images(f"{algo}/W")) == 2 and f"{algo}/W_legend/text_summary" in events.Tags()["tensors"]
    header = (run_dir / "progress.csv").read_text().splitlines()[0]
    assert "elite_fitness" in header and "sigma" in header


def test_full_cmaes_too_large_for_memory_asks_for_the_diagonal_variant():
    config = Config()
    config.algo.algo = "cmaes"
    spec = NetworkSpec(n_inputs=4, n_outputs=2, n_hidden=400, ticks=1)  # 402 x 407 weights: a covariance of 2.7e10 entries
    with pytest.raises(ConfigError, match="full CMA-ES on a network of 163,614 weights .* use --cmaes-covariance diagonal"):
        check_memory(config, spec, torch.device("cpu"), torch.float32, 0)
    config.algo.cmaes_covariance = "diagonal"
    check_memory(config, spec, torch.device("cpu"), torch.float32, 0)


def test_resuming_cmaes_with_the_other_covariance_is_one_line(tmp_path, capsys):
    assert train_script.main(args(tmp_path, "--algo", "cmaes", "--cmaes-population", "6")) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--resume", str(run_dir), "-n", "4", "--cmaes-covariance", "diagonal"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot be resumed with this config: CMA-ES state holds a full covariance; this run's cmaes_covariance is diagonal" in err
