"""Typed configuration and honest errors: wrong types, registry choices, env_kwargs, UserError."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlfree.network
from rlfree.agent import load_agent
from rlfree.backend import UnknownEnvError, choose_backend, make_batched_env
from rlfree.checkpoint import CheckpointError, save_checkpoint
from rlfree.cli import user_errors
from rlfree.commands import train as train_command
from rlfree.config import Config, ConfigError, add_arguments, parse_key_values, to_toml
from rlfree.errors import UserError
from rlfree.policy import Policy
from rlfree.spaces import UnsupportedSpaceError
from rlfree.run_loop import RunFolderError
from rlfree.vector import GymVectorEnv, MissingDependencyError

REPO = Path(__file__).resolve().parent.parent


def one_error_line(capsys, exit_info, code: int = 2) -> str:
    assert exit_info.value.code == code
    lines = capsys.readouterr().err.strip("\n").split("\n")
    assert len(lines) == 1, lines
    return lines[0]


# -- UserError -------------------------------------------------------------------------------------
@pytest.mark.parametrize("error", [ConfigError, UnknownEnvError, UnsupportedSpaceError, CheckpointError, MissingDependencyError, RunFolderError])
def test_every_error_a_user_can_fix_is_a_user_error(error):
    assert issubclass(error, UserError)


def test_a_user_error_is_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        with user_errors("prog"):
            raise ConfigError("population=1 is not accepted: use 2 or more")
    assert one_error_line(capsys, exit_info) == "prog: error: population=1 is not accepted: use 2 or more"


def test_an_internal_error_keeps_its_traceback():
    # a ValueError that is no UserError is a bug: it propagates, so Python prints its traceback
    with pytest.raises(ValueError, match="an invariant broke"):
        with user_errors("prog"):
            raise ValueError("an invariant broke")


def test_an_internal_error_in_a_command_prints_a_traceback(tmp_path):
    script = "from rlfree.cli import user_errors\nwith user_errors('prog'):\n    raise RuntimeError('an invariant broke')\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr and "RuntimeError: an invariant broke" in done.stderr


# -- typed values --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "toml, line",
    [
        ('[walk]\npopulation = "64"', 'walk.population = "64" is a string; expected a whole number'),
        ("[network]\nhidden = 4.5", "network.hidden = 4.5 is a float; expected a whole number"),
        ("[walk]\npopulation = true", "walk.population = true is a boolean; expected a whole number"),
        ('[run]\ntarget = "high"', 'run.target = "high" is a string; expected a number (or leave the key out)'),
        ('[walk]\nmirrored = "no"', 'walk.mirrored = "no" is a string; expected true or false'),
        ("[network]\nactivation = 3", "network.activation = 3 is a whole number; expected a string"),
        ("[env]\nenv_kwargs = 3", "env.env_kwargs = 3 is a whole number; expected a table of gym.make arguments, e.g. { continuous = true }"),
    ],
    ids=["int-string", "int-float", "int-bool", "float-string", "bool-string", "str-int", "dict-int"],
)
def test_a_value_of_the_wrong_type_names_key_value_and_type(tmp_path, toml, line):
    preset = tmp_path / "bad.toml"
    preset.write_text(toml + "\n")
    with pytest.raises(ConfigError) as info:
        Config().update(tomllib.loads(toml), str(preset))
    assert str(info.value) == f"{preset}: {line}"


def test_numbers_are_converted_to_the_fields_type():
    config = Config.from_dict({"walk": {"sigma": 1, "lr": 0.5}, "run": {"target": 200, "seed": 7}})
    assert config.walk.sigma == 1.0 and isinstance(config.walk.sigma, float)
    assert config.run.target == 200.0 and isinstance(config.run.target, float)
    assert config.run.seed == 7
    assert Config.from_dict({"run": {"target": None}}).run.target is None  # float | None: JSON's null is "no target"


def test_a_bad_preset_exits_2_with_one_line_and_writes_nothing(tmp_path):
    preset = tmp_path / "bad.toml"
    preset.write_text('[walk]\nmirrored = "no"\n')
    logdir = tmp_path / "runs"
    logdir.mkdir()
    done = subprocess.run(
        [sys.executable, "scripts/train.py", "--config", str(preset), "--logdir", str(logdir)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip("\n").split("\n")
    assert lines == [f'train.py: error: {preset}: walk.mirrored = "no" is a string; expected true or false'], done.stderr
    assert list(logdir.iterdir()) == []


def cartpole_policy(**kw) -> Policy:
    env = gym.make("CartPole-v1")
    return Policy.for_spaces("CartPole-v1", env.observation_space, env.action_space, hidden=1, ticks=1, activation="tanh", **kw)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A one-generation CartPole-v1 run, to resume."""
    logdir = tmp_path_factory.mktemp("runs")
    args = ["--env", "CartPole-v1", "--algo", "walk", "-n", "1", "--population", "8", "--eval-episodes", "2", "--target", "1e9", "--logdir", str(logdir)]
    assert train_command.main(args, prog="train.py") == 0
    (run_dir,) = logdir.iterdir()
    return run_dir


@pytest.mark.parametrize(
    "walk, line",
    [({"sigma": None}, "walk.sigma = null is null; expected a number"), ({"population": "8"}, 'walk.population = "8" is a string; expected a whole number')],
    ids=["null-sigma", "string-population"],
)
def test_a_resumed_state_json_of_the_wrong_type_is_one_line(tmp_path, capsys, finished_run, walk, line):
    run_dir = tmp_path / finished_run.name
    shutil.copytree(finished_run, run_dir)
    state_path = run_dir / "checkpoints" / "latest" / "state.json"
    state = json.loads(state_path.read_text())
    state["config"]["walk"].update(walk)
    state_path.write_text(json.dumps(state))
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(["--resume", str(run_dir)], prog="train.py")
    assert one_error_line(capsys, exit_info) == f"train.py: error: {state_path}: {line}"


# -- choices from the registries -------------------------------------------------------------------
def help_text() -> str:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.format_help()


def test_help_lists_the_choices_of_the_registries_themselves(monkeypatch):
    from rlfree.backend import BACKENDS, DTYPES
    from rlfree.optimiser import VARIANTS
    from rlfree.shaping import SHAPINGS
    from rlfree.steps import STEP_RULES
    from rlfree.vector import TRAINING_VECTORIZATIONS

    text = help_text()
    for flag, registry in [("--backend", BACKENDS), ("--dtype", DTYPES), ("--variant", VARIANTS), ("--shaping", SHAPINGS),
                           ("--optimizer", STEP_RULES), ("--vectorization", TRAINING_VECTORIZATIONS)]:
        assert f"{flag} {{{','.join(registry)}}}" in text
    monkeypatch.setitem(rlfree.network.ACTIVATIONS, "swish", lambda z: z)  # a new activation needs no second edit
    assert "--activation {tanh,relu,sigmoid,identity,softsign,elu,swish,per_neuron}" in help_text()


@pytest.mark.parametrize(
    "section, name, value, accepted",
    [("network", "activation", "swish", "tanh, relu, sigmoid, identity, softsign, elu, per_neuron"), ("walk", "shaping", "ranks", "zscore, centred_ranks, raw"),
     ("walk", "optimizer", "rmsprop", "sgd, adam"), ("env", "vectorization", "gymnasium_async", "sync, async"), ("env", "dtype", "float16", "float32, float64")],
    ids=["activation", "shaping", "optimizer", "vectorization", "dtype"],
)
def test_a_preset_value_outside_the_registry_is_refused_with_the_choices(section, name, value, accepted):
    config = Config.from_dict({section: {name: value}}, "preset.toml")
    with pytest.raises(ConfigError) as info:
        config.validate()
    assert str(info.value) == f"{name} {value!r} is not accepted; use one of {accepted}"


def test_a_flag_outside_the_registry_is_one_line_with_the_choices(tmp_path, capsys):
    logdir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(["--shaping", "ranks", "--logdir", str(logdir)], prog="train.py")
    assert one_error_line(capsys, exit_info) == "train.py: error: shaping 'ranks' is not accepted; use one of zscore, centred_ranks, raw"
    assert not logdir.exists()


# -- env_kwargs ------------------------------------------------------------------------------------
def test_env_kwargs_flag_values_are_toml_literals():
    pairs = ["continuous=true", "gravity=-9.5", "turbulence_power=1", "mode=fast", 'name="a b"', "sizes=[1, 2]", "empty="]
    assert parse_key_values(pairs, "--env-kwargs") == {
        "continuous": True, "gravity": -9.5, "turbulence_power": 1, "mode": "fast", "name": "a b", "sizes": [1, 2], "empty": "",
    }


@pytest.mark.parametrize("pair", ["continuous", "=true", "2x=1"])
def test_a_malformed_env_kwargs_pair_is_one_line(tmp_path, capsys, pair):
    logdir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        train_command.main(["--env-kwargs", pair, "--logdir", str(logdir)], prog="train.py")
    line = one_error_line(capsys, exit_info)
    assert line == f"train.py: error: --env-kwargs {pair!r} is not accepted: use KEY=VALUE with a Python name as KEY, e.g. continuous=true gravity=-9.5"
    assert not logdir.exists()


def test_env_kwargs_are_a_toml_inline_table_in_the_saved_config():
    config = Config.from_dict({"env": {"env_kwargs": {"continuous": True, "gravity": -9.5, "mode": 'a "b"'}}})
    text = to_toml(config.to_dict())
    assert 'env_kwargs = { continuous = true, gravity = -9.5, mode = "a \\"b\\"" }' in text
    assert Config.from_dict(tomllib.loads(text)) == config


def test_command_line_env_kwargs_add_to_the_presets():
    config = Config.from_dict({"env": {"env_kwargs": {"continuous": True, "gravity": -9.5}}})
    config.update({"env": {"env_kwargs": {"gravity": -5.0}}}, "command line")
    assert config.env.env_kwargs == {"continuous": True, "gravity": -5.0}


def test_env_kwargs_choose_the_gym_backend_and_are_refused_by_a_twin():
    assert choose_backend("CartPole-v1", "auto") == "torch"
    assert choose_backend("CartPole-v1", "auto", {"sutton_barto_reward": True}) == "gym"
    message = "env_kwargs { sutton_barto_reward = true } cannot be given to backend 'torch': a twin takes no gym.make arguments; use backend auto or gym"
    with pytest.raises(ConfigError) as info:
        choose_backend("CartPole-v1", "torch", {"sutton_barto_reward": True})
    assert str(info.value) == message
    config = Config.from_dict({"env": {"backend": "torch", "env_kwargs": {"sutton_barto_reward": True}}})
    with pytest.raises(ConfigError, match="cannot be given to backend 'torch'"):
        config.validate()


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_env_kwargs_reach_every_gym_make_copy(vectorization):
    import torch

    env = make_batched_env("CartPole-v1", 3, "gym", vectorization=vectorization, workers=2, env_kwargs={"sutton_barto_reward": True})
    try:
        env.reset(torch.arange(3))
        _, reward, _, _ = env.step(torch.zeros(3, dtype=torch.int64))
    finally:
        env.close()
    assert reward.tolist() == [0.0, 0.0, 0.0]  # Sutton and Barto's reward: 0 per step, -1 at the fall


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_an_env_kwarg_the_env_does_not_take_is_one_user_error(vectorization):
    with pytest.raises(ConfigError) as info:
        GymVectorEnv("CartPole-v1", 2, vectorization=vectorization, workers=1, env_kwargs={"bogus": 1})
    assert str(info.value) == "env 'CartPole-v1' does not take the env_kwargs bogus=1: CartPoleEnv.__init__() got an unexpected keyword argument 'bogus'"


def test_network_json_records_env_kwargs_and_load_agent_replays_them(tmp_path):
    kwargs = {"sutton_barto_reward": True}  # 0 per step and -1 on failure, instead of +1 per step
    probe = gym.make("CartPole-v1", **kwargs)
    policy = Policy.for_spaces("CartPole-v1", probe.observation_space, probe.action_space, hidden=1, ticks=1, activation="tanh", env_kwargs=kwargs)
    network = policy.to_json()
    assert network["env_kwargs"] == {"sutton_barto_reward": True}
    folder = save_checkpoint(tmp_path / "agent", W=np.zeros(network["W_shape"]), network=network, walk={}, state={})
    agent = load_agent(folder)
    assert agent.env_kwargs == kwargs and agent.policy.env_kwargs == kwargs
    env = agent.make_env()
    try:
        assert env.unwrapped._sutton_barto_reward
        total, length = agent.play(env, seed=0)
        assert total <= 0.0 < length  # the replayed env's reward, not plain CartPole's +1 per step
    finally:
        env.close()
    assert (agent.score([0, 1]) <= 0.0).all()


def test_an_agent_saved_without_env_kwargs_plays_the_plain_env(tmp_path):
    network = cartpole_policy().to_json()
    del network["env_kwargs"]
    network["version"] = 2
    folder = save_checkpoint(tmp_path / "agent", W=np.zeros(network["W_shape"]), network=network, walk={}, state={})
    agent = load_agent(folder)
    assert agent.env_kwargs == {} and agent.policy.env_kwargs == {}


@pytest.mark.parametrize(
    "change, words",
    [(lambda n: n["action"].update(box_mapping="cubic"), "box mapping 'cubic' is not accepted"),
     (lambda n: n["network"].update(colour="red"), "unexpected keyword argument 'colour'"),
     (lambda n: n.pop("observation"), "no 'observation'")],
    ids=["box-mapping", "unknown-key", "missing-key"],
)
def test_a_damaged_network_json_is_one_checkpoint_error(tmp_path, change, words):
    network = cartpole_policy().to_json()
    change(network)
    folder = save_checkpoint(tmp_path / "agent", W=np.zeros(network["W_shape"]), network=network, walk={}, state={})
    with pytest.raises(CheckpointError, match="network config of 'CartPole-v1' cannot be used: ") as info:
        load_agent(folder)
    assert words in str(info.value)


def test_a_run_with_env_kwargs_records_them_and_its_agent_replays_them(tmp_path):
    logdir = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "scripts/train.py", "--env", "CartPole-v1", "--env-kwargs", "sutton_barto_reward=true", "-n", "1",
         "--algo", "walk", "--population", "8", "--eval-episodes", "2", "--logdir", str(logdir)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = logdir.iterdir()
    assert tomllib.loads((run_dir / "config.toml").read_text())["env"]["env_kwargs"] == {"sutton_barto_reward": True}
    network = json.loads((run_dir / "checkpoints" / "latest" / "network.json").read_text())
    assert network["env_kwargs"] == {"sutton_barto_reward": True}
    returns = load_agent(run_dir).score(list(range(4)))
    assert set(returns.tolist()) <= {-1.0, 0.0}  # Sutton and Barto's reward: -1 at the fall, else 0
