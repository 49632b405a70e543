"""--action-mapping: how a network's outputs become a Box action (auto, linear, tanh, clip)."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.commands import train as train_script
from rlfree.config import Config, ConfigError
from rlfree.policy import Policy
from rlfree.spaces import ActionDecoder

OBS = spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64)
ACT = spaces.Box(np.array([-3.0, 0.0], dtype=np.float32), np.array([3.0, 0.5], dtype=np.float32), dtype=np.float32)


def test_clip_gives_the_outputs_themselves_clipped_to_the_bounds():
    decoder = ActionDecoder(ACT, "clip")
    out = torch.tensor([[-7.0, 0.25], [2.5, -1.0], [3.0, 9.0]], dtype=torch.float64)
    np.testing.assert_array_equal(decoder(out).numpy(), [[-3.0, 0.25], [2.5, 0.0], [3.0, 0.5]])
    assert decoder.to_json() == {"type": "box", "shape": [2], "low": [-3.0, 0.0], "high": [3.0, 0.5], "box_mapping": "clip"}


@pytest.mark.parametrize("activation, mapping, expected", [
    ("tanh", "auto", "linear"), ("identity", "auto", "tanh"), ("identity", "clip", "clip"),
    ("tanh", "clip", "clip"), ("identity", "tanh", "tanh"), ("sigmoid", "linear", "linear"),
])
def test_the_option_picks_the_decoders_mapping(activation, mapping, expected):
    policy = Policy.for_spaces("Test-v0", OBS, ACT, hidden=0, ticks=1, activation=activation, action_mapping=mapping)
    assert policy.decoder.box_mapping == expected


def test_a_clip_agent_round_trips_through_network_json_as_version_4():
    policy = Policy.for_spaces("Test-v0", OBS, ACT, hidden=0, ticks=1, activation="identity", action_mapping="clip")
    data = json.loads(json.dumps(policy.to_json()))
    assert data["version"] == 4 and data["action"]["box_mapping"] == "clip"
    again = Policy.from_json(data, OBS, ACT)
    assert again.decoder.box_mapping == "clip" and again.to_json() == data
    # an agent using nothing of version 4 keeps version 3, which an older rlfree reads correctly
    assert Policy.for_spaces("Test-v0", OBS, ACT, hidden=0, ticks=1, activation="tanh").to_json()["version"] == 3


def test_mappings_that_cannot_apply_are_one_config_error():
    with pytest.raises(ConfigError, match="action_mapping 'linear' needs bounded outputs .* identity is unbounded: use clip or tanh"):
        Policy.for_spaces("Test-v0", OBS, ACT, hidden=0, ticks=1, activation="identity", action_mapping="linear")
    with pytest.raises(ConfigError, match=r"action_mapping 'clip' applies to Box actions; the action space is Discrete\(2\): leave action_mapping auto"):
        Policy.for_spaces("Test-v0", OBS, spaces.Discrete(2), hidden=0, ticks=1, activation="tanh", action_mapping="clip")
    config = Config()
    config.network.action_mapping = "squash"
    with pytest.raises(ConfigError, match="action_mapping 'squash' is not accepted; use one of auto, linear, tanh, clip"):
        config.validate()


def test_a_run_with_clip_saves_an_agent_whose_actions_are_clipped_outputs(tmp_path, capsys):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    argv = ["--config", str(empty), "--env", "Pendulum-v1", "--hidden", "0", "--ticks", "1", "--activation", "identity",
            "--action-mapping", "clip", "--population", "4", "--episodes", "1", "--eval-episodes", "1", "-n", "2",
            "--target", "1e9", "--logdir", str(tmp_path / "runs")]
    assert train_script.main(argv) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    network = json.loads((run_dir / "checkpoints" / "latest" / "network.json").read_text())
    assert network["action"]["box_mapping"] == "clip"
    config = (run_dir / "config.toml").read_text()
    assert 'action_mapping = "clip"' in config
    env = gym.make("Pendulum-v1")
    policy = Policy.from_json(network, env.observation_space, env.action_space)
    W = np.load(run_dir / "checkpoints" / "latest" / "W.npy").astype(np.float64)
    obs = np.array([[0.5, -0.8, 3.0]])
    net = policy.network(torch.from_numpy(W.reshape(1, -1)))
    actions, _ = policy.act(net, torch.from_numpy(obs), net.initial_activations(1))
    x = np.concatenate([[1.0], obs[0], [0.0]])  # [1, obs, previous activation (0 at the start)]
    np.testing.assert_allclose(actions.numpy()[0], np.clip(W @ x, -2.0, 2.0), rtol=1e-12)
