"""The free network against the seed's definition, the space bridges, and the portable agent format."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.checkpoint import CheckpointError, save_checkpoint
from rlfree.config import ConfigError
from rlfree.network import ACTIVATIONS, FreeNetwork, NetworkSpec
from rlfree.policy import Policy
from rlfree.spaces import ActionDecoder, ObservationEncoder, UnsupportedSpaceError

from conftest import DEVICES

# -- the naive reference, written from the seed's definition ---------------------------------
NAIVE_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "identity": lambda z: z,
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
}


def naive_step(spec: NetworkSpec, W: np.ndarray, obs: np.ndarray, a_prev: np.ndarray):
    """One member, one episode, one environment step: x = [1, obs, a_prev]; a = f(W x), `ticks` times."""
    f = NAIVE_ACTIVATIONS[spec.activation]
    a = a_prev
    ticks_outputs = []
    for _ in range(spec.ticks):
        x = np.concatenate([[1.0], obs, a])
        a = f(W @ x)
        ticks_outputs.append(a[: spec.n_outputs])
    out = np.mean(ticks_outputs, axis=0) if spec.sequence_output else ticks_outputs[-1]
    if spec.softmax_output:
        e = np.exp(out - out.max())
        out = e / e.sum()
    return a, out


def naive_rollout(spec: NetworkSpec, params: np.ndarray, observations: np.ndarray):
    """params (P, D), observations (T, P, B, I) -> outputs (T, P, B, n_out), a Python loop over everything."""
    T, P, B, _ = observations.shape
    outputs = np.zeros((T, P, B, spec.n_outputs))
    for p in range(P):
        W = params[p].reshape(spec.n_activations, spec.n_columns)  # row-major, as documented
        for b in range(B):
            a = np.zeros(spec.n_activations)  # episode start: blank recurrent state
            for t in range(T):
                a, outputs[t, p, b] = naive_step(spec, W, observations[t, p, b], a)
    return outputs


def batched_rollout(spec: NetworkSpec, params: np.ndarray, observations: np.ndarray, device: str = "cpu") -> np.ndarray:
    """FreeNetwork on ``device``: params (P, D), observations (T, P, B, I) -> outputs (T, P, B, n_out)."""
    network = FreeNetwork(spec, torch.from_numpy(params).to(device))
    T, P, B, _ = observations.shape
    a = network.initial_activations(B)
    assert a.device.type == torch.device(device).type  # the state lives where the weights do
    outputs = []
    for t in range(T):
        a, out = network.step(torch.from_numpy(observations[t]).to(device), a)
        outputs.append(out.cpu().numpy())
    return np.stack(outputs)


def random_case(spec: NetworkSpec, population: int, batch: int, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    params = rng.normal(0.0, 1.0 / np.sqrt(spec.n_columns), (population, spec.n_params))
    observations = rng.normal(0.0, 1.0, (steps, population, batch, spec.n_inputs))
    return params, observations


# float64 on every device: a CUDA matmul sums in another order and its tanh/exp may differ from
# numpy's by an ulp or two, far inside 1e-12 after 5 steps of these small networks
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("ticks", [1, 2, 3])
@pytest.mark.parametrize("hidden", [0, 3])
def test_batched_step_matches_naive_loop_over_members_and_episodes(activation, ticks, hidden, device):
    spec = NetworkSpec(n_inputs=5, n_outputs=2, n_hidden=hidden, ticks=ticks, activation=activation)
    params, observations = random_case(spec, population=3, batch=4, steps=5, seed=ticks * 10 + hidden)
    expected = naive_rollout(spec, params, observations)
    got = batched_rollout(spec, params, observations, device)
    assert got.dtype == np.float64 and got.shape == (5, 3, 4, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # the carried state matters: step 1 with a blank state would give other outputs
    assert np.abs(expected[1] - batched_rollout(spec, params, observations[1:2], device)[0]).max() > 1e-6


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("softmax_output", [False, True])
@pytest.mark.parametrize("sequence_output", [False, True])
@pytest.mark.parametrize("ticks", [1, 3])
def test_sequence_and_softmax_outputs_match_naive_loop(softmax_output, sequence_output, ticks, device):
    spec = NetworkSpec(n_inputs=3, n_outputs=4, n_hidden=2, ticks=ticks, activation="tanh",
                       softmax_output=softmax_output, sequence_output=sequence_output)
    params, observations = random_case(spec, population=2, batch=3, steps=4, seed=7)
    expected = naive_rollout(spec, params, observations)
    got = batched_rollout(spec, params, observations, device)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    if softmax_output:
        np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


def test_sequence_output_with_one_tick_equals_plain_output():
    plain = NetworkSpec(n_inputs=3, n_outputs=2, n_hidden=2, ticks=1)
    sequence = NetworkSpec(n_inputs=3, n_outputs=2, n_hidden=2, ticks=1, sequence_output=True)
    params, observations = random_case(plain, population=2, batch=2, steps=3, seed=1)
    np.testing.assert_array_equal(batched_rollout(plain, params, observations), batched_rollout(sequence, params, observations))


def test_fresh_initial_activations_restart_the_episode():
    spec = NetworkSpec(n_inputs=4, n_outputs=2, n_hidden=3, ticks=2)
    params, observations = random_case(spec, population=2, batch=3, steps=6, seed=3)
    network = FreeNetwork(spec, torch.from_numpy(params))
    a = network.initial_activations(3)
    assert a.shape == (2, 3, 5) and a.dtype == torch.float64 and not a.any()
    for t in range(3):  # an earlier episode leaves a non-zero state behind
        a, _ = network.step(torch.from_numpy(observations[t]), a)
    assert a.abs().max() > 0.01
    a = network.initial_activations(3)  # a new episode starts
    outputs = []
    for t in range(3, 6):
        a, out = network.step(torch.from_numpy(observations[t]), a)
        outputs.append(out.numpy())
    np.testing.assert_allclose(np.stack(outputs), naive_rollout(spec, params, observations[3:]), rtol=1e-12, atol=1e-12)


def test_network_rejects_params_of_the_wrong_length():
    spec = NetworkSpec(n_inputs=2, n_outputs=1, n_hidden=1)
    assert spec.n_params == 2 * 5
    with pytest.raises(ValueError, match=r"expected \(P, 10\)"):
        FreeNetwork(spec, torch.zeros(3, 11))


@pytest.mark.parametrize(
    "kwargs, words",
    [({"activation": "swish"}, "tanh"), ({"ticks": 0}, "ticks=0"), ({"n_hidden": -1}, "hidden=-1")],
)
def test_network_spec_rejects_impossible_options(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        NetworkSpec(n_inputs=2, n_outputs=1, **kwargs)


# -- observation encoder -----------------------------------------------------------------------
def test_flat_encoding_flattens_a_box():
    encoder = ObservationEncoder(spaces.Box(-1.0, 1.0, (2, 3)))
    assert encoder.encoding == "flat" and encoder.size == 6
    obs = torch.arange(12, dtype=torch.float32).reshape(2, 2, 3)
    got = encoder(obs, torch.float64)
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), np.arange(12.0).reshape(2, 6))


def test_onehot_encoding_of_discrete_with_start():
    encoder = ObservationEncoder(spaces.Discrete(4, start=-1))
    assert encoder.encoding == "onehot" and encoder.size == 4
    got = encoder(torch.tensor([-1, 2, 0]), torch.float32)
    np.testing.assert_array_equal(got.numpy(), [[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]])


def test_onehot_encoding_of_multidiscrete_concatenates_groups():
    encoder = ObservationEncoder(spaces.MultiDiscrete([2, 3]))
    assert encoder.size == 5
    got = encoder(torch.tensor([[0, 2], [1, 0]]), torch.float32)
    np.testing.assert_array_equal(got.numpy(), [[1, 0, 0, 0, 1], [0, 1, 1, 0, 0]])


@pytest.mark.parametrize("K", [2, 3, 4, 5, 7, 10])
def test_bins_encoding_gives_exact_one_hots_for_grid_coordinates(K):
    encoder = ObservationEncoder(spaces.Box(0.0, 1.0, (2,), dtype=np.float32), f"bins:{K}")
    assert encoder.size == 2 * K
    k = np.arange(K)
    obs = np.stack([k / (K - 1), (K - 1 - k) / (K - 1)], axis=1).astype(np.float32)  # (K, 2) grid coordinates
    got = encoder(torch.from_numpy(obs), torch.float32).numpy()
    expected = np.concatenate([np.eye(K)[k], np.eye(K)[K - 1 - k]], axis=1)
    np.testing.assert_array_equal(got, expected)


def test_bins_encoding_clamps_values_outside_the_bounds():
    encoder = ObservationEncoder(spaces.Box(-2.0, 2.0, (1,)), "bins:4")
    got = encoder(torch.tensor([[-5.0], [-2.0], [-0.1], [0.0], [1.99], [2.0], [9.0]]), torch.float32)
    np.testing.assert_array_equal(got.numpy().argmax(1), [0, 0, 1, 2, 3, 3, 3])


@pytest.mark.parametrize(
    "space, encoding, words",
    [
        (spaces.Box(-np.inf, np.inf, (2,)), "bins:3", "bounded Box"),
        (spaces.Box(0.0, 1.0, (2,)), "bins:1", "K >= 2"),
        (spaces.Box(0.0, 1.0, (2,)), "onehot", "'flat' or 'bins:K'"),
        (spaces.Discrete(3), "flat", "use 'onehot'"),
    ],
)
def test_observation_encoding_that_does_not_fit_the_space_is_an_error(space, encoding, words):
    with pytest.raises(UnsupportedSpaceError, match=words):
        ObservationEncoder(space, encoding)


@pytest.mark.parametrize(
    "space, name",
    [
        (spaces.Dict({"a": spaces.Discrete(2)}), "Dict"),
        (spaces.Text(5), "Text"),
        (spaces.Tuple((spaces.Discrete(2),)), "Tuple"),
    ],
)
def test_unsupported_observation_space_error_names_the_space(space, name):
    with pytest.raises(UnsupportedSpaceError, match=f"observation space {name}.*not supported; accepted: Box"):
        ObservationEncoder(space)


# -- action decoder ----------------------------------------------------------------------------
def test_discrete_action_is_argmax_plus_start():
    out = torch.tensor([[0.1, 0.9, -1.0], [2.0, 0.0, 1.0], [-3.0, -2.0, -1.0]])
    assert ActionDecoder(spaces.Discrete(3))(out).tolist() == [1, 0, 2]
    decoder = ActionDecoder(spaces.Discrete(3, start=-1))
    assert decoder.n_outputs == 3
    assert decoder(out).tolist() == [0, -1, 1]


def test_multidiscrete_action_is_argmax_per_group():
    decoder = ActionDecoder(spaces.MultiDiscrete([2, 3], start=[0, 5]))
    assert decoder.n_outputs == 5
    out = torch.tensor([[0.0, 1.0, 0.3, 0.2, 0.1], [1.0, 0.0, 0.0, 0.0, 4.0]])
    assert decoder(out).tolist() == [[1, 5], [0, 7]]


def test_box_action_is_tanh_scaled_to_the_bounds():
    space = spaces.Box(np.array([-2.0, 0.0]), np.array([2.0, 5.0]), dtype=np.float64)
    decoder = ActionDecoder(space)
    out = torch.tensor([[0.0, 0.0], [50.0, -50.0], [0.5, 1.0]], dtype=torch.float64)
    expected = np.array([[0.0, 2.5], [2.0, 0.0], [-2 + (np.tanh(0.5) + 1) * 2, (np.tanh(1.0) + 1) * 2.5]])
    np.testing.assert_allclose(decoder(out).numpy(), expected, rtol=0, atol=1e-12)


def test_box_action_keeps_the_space_shape():
    decoder = ActionDecoder(spaces.Box(-1.0, 3.0, (2, 2)))
    assert decoder.n_outputs == 4
    got = decoder(torch.zeros(5, 4))
    assert got.shape == (5, 2, 2)
    np.testing.assert_allclose(got.numpy(), 1.0)


@pytest.mark.parametrize(
    "space, words",
    [
        (spaces.Box(-np.inf, np.inf, (1,)), "unbounded"),
        (spaces.Box(np.array([-1.0, -np.inf]), np.array([1.0, 1.0]), dtype=np.float64), "unbounded"),
        (spaces.Text(5), "action space Text.*not supported"),
        (spaces.Dict({"a": spaces.Discrete(2)}), "action space Dict.*not supported"),
        (spaces.MultiBinary(3), "action space MultiBinary.*not supported"),
    ],
)
def test_unsupported_action_space_error_names_the_space(space, words):
    with pytest.raises(UnsupportedSpaceError, match=words):
        ActionDecoder(space)


# -- the portable agent ------------------------------------------------------------------------
def cartpole_policy(**kwargs) -> tuple[Policy, gym.Space, gym.Space]:
    env = gym.make("CartPole-v1")
    options = dict(hidden=3, ticks=2, activation="tanh") | kwargs
    policy = Policy.for_spaces("CartPole-v1", env.observation_space, env.action_space, **options)
    return policy, env.observation_space, env.action_space


def test_policy_json_round_trip():
    policy, obs_space, act_space = cartpole_policy(sequence_output=True, activation="elu", ticks=3)
    data = json.loads(json.dumps(policy.to_json()))
    assert data["W_shape"] == [2 + 3, 1 + 4 + 2 + 3]
    again = Policy.from_json(data, obs_space, act_space)
    assert again.spec == policy.spec
    assert again.env_id == "CartPole-v1"
    assert again.to_json() == policy.to_json()


def test_policy_json_round_trip_with_bins_and_box_action():
    obs_space = spaces.Box(0.0, 1.0, (2,), dtype=np.float32)
    act_space = spaces.Box(-2.0, 2.0, (1,), dtype=np.float32)
    policy = Policy.for_spaces("Test-v0", obs_space, act_space, hidden=1, ticks=1, activation="relu", obs_encoding="bins:5")
    data = json.loads(json.dumps(policy.to_json()))
    assert data["observation"] == {"encoding": "bins:5", "size": 10, "bins": 5, "low": [0.0, 0.0], "high": [1.0, 1.0]}
    assert data["action"] == {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0], "box_mapping": "tanh"}  # relu: unbounded
    assert Policy.from_json(data, obs_space, act_space).to_json() == data


@pytest.mark.parametrize(
    "activation, softmax, mapping, output_range",
    [("tanh", False, "linear", [-1.0, 1.0]), ("softsign", False, "linear", [-1.0, 1.0]), ("sigmoid", False, "linear", [0.0, 1.0]),
     ("elu", True, "linear", [0.0, 1.0]), ("identity", False, "tanh", None), ("elu", False, "tanh", None)],
)
def test_box_mapping_follows_whether_the_outputs_are_bounded(activation, softmax, mapping, output_range):
    obs_space, act_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32), spaces.Box(-2.0, 2.0, (1,), dtype=np.float32)
    policy = Policy.for_spaces("Test-v0", obs_space, act_space, hidden=0, ticks=1, activation=activation, softmax_output=softmax)
    action = policy.to_json()["action"]
    assert action["box_mapping"] == mapping and action.get("output_range") == output_range
    assert Policy.from_json(json.loads(json.dumps(policy.to_json())), obs_space, act_space).to_json() == policy.to_json()


def test_linear_box_mapping_reaches_the_bounds_from_a_tanh_network():
    decoder = ActionDecoder(spaces.Box(np.array([-2.0, 0.0]), np.array([2.0, 5.0]), dtype=np.float64), "linear", (-1.0, 1.0))
    out = torch.tensor([[-1.0, 1.0], [0.0, 0.5], [3.0, -7.0]], dtype=torch.float64)  # the last row strays out and is clamped
    np.testing.assert_allclose(decoder(out).numpy(), [[-2.0, 5.0], [0.0, 3.75], [2.0, 0.0]], rtol=0, atol=1e-12)
    sigmoid = ActionDecoder(spaces.Box(-2.0, 2.0, (1,), dtype=np.float64), "linear", (0.0, 1.0))
    np.testing.assert_allclose(sigmoid(torch.tensor([[0.0], [0.25], [1.0]], dtype=torch.float64)).numpy(), [[-2.0], [-1.0], [2.0]])


def test_agents_saved_before_box_mapping_keep_their_tanh_actions():
    obs_space, act_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32), spaces.Box(-2.0, 2.0, (1,), dtype=np.float32)
    data = Policy.for_spaces("Test-v0", obs_space, act_space, hidden=0, ticks=1, activation="tanh").to_json()
    data["version"] = 1
    del data["action"]["box_mapping"], data["action"]["output_range"]
    old = Policy.from_json(data, obs_space, act_space)
    assert old.decoder.box_mapping == "tanh"
    assert old.decoder(torch.tensor([[1.0]])).item() == pytest.approx(-2.0 + (np.tanh(1.0) + 1) * 2)


def test_agent_from_a_newer_rlfree_is_refused_by_name():
    policy, obs_space, act_space = cartpole_policy()
    with pytest.raises(CheckpointError, match="has version 6; this rlfree reads versions 1 to 5"):
        Policy.from_json({**policy.to_json(), "version": 6}, obs_space, act_space)


def test_policy_from_json_rejects_foreign_or_mismatched_configs():
    policy, obs_space, act_space = cartpole_policy()
    with pytest.raises(CheckpointError, match="expected 'rlfree-free-network'"):
        Policy.from_json({**policy.to_json(), "format": "other"}, obs_space, act_space)
    with pytest.raises(CheckpointError, match="takes 4 inputs and gives 2 outputs, but CartPole-v1 needs 5 and 2"):
        Policy.from_json(policy.to_json(), spaces.Box(-1, 1, (5,)), spaces.Discrete(2))


def numpy_agent(W: np.ndarray, config: dict):
    """The README's promise: a saved agent in a few lines of numpy (Box obs, Discrete action)."""
    net = config["network"]
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[net["activation"]]
    a = np.zeros(W.shape[0])

    def act(obs):
        nonlocal a
        outs = []
        for _ in range(net["ticks"]):
            a = f(W @ np.concatenate([[1.0], np.ravel(obs), a]))
            outs.append(a[: net["n_outputs"]])
        out = np.mean(outs, axis=0) if net["sequence_output"] else outs[-1]
        return int(np.argmax(out)) + config["action"]["starts"][0]

    return act


def test_saved_agent_runs_in_plain_numpy_like_rlfree(tmp_path):
    policy, _, act_space = cartpole_policy(hidden=3, ticks=2)
    centre = policy.initial_params(torch.Generator().manual_seed(5), scale=3.0, dtype=torch.float64)
    W = centre.numpy().reshape(policy.spec.n_activations, policy.spec.n_columns)
    save_checkpoint(tmp_path / "agent", W=W, network=policy.to_json(), walk={}, state={})

    loaded_W = np.load(tmp_path / "agent" / "W.npy", allow_pickle=False)
    config = json.loads((tmp_path / "agent" / "network.json").read_text())
    act = numpy_agent(loaded_W, config)

    network = policy.network(centre[None])
    activations = network.initial_activations(1)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=3)
    actions_numpy, actions_rlfree = [], []
    for _ in range(200):
        action, activations = policy.act(network, torch.from_numpy(obs[None]).double(), activations)
        actions_rlfree.append(int(action[0]))
        actions_numpy.append(act(obs))
        obs, _, terminated, truncated, _ = env.step(actions_rlfree[-1])
        if terminated or truncated:
            break
    env.close()
    assert len(actions_rlfree) > 10
    assert len(set(actions_rlfree)) == 2  # both actions occur: the comparison is not trivial
    assert actions_numpy == actions_rlfree


def test_fast_tanh_of_large_float32_batches_stays_within_float32_rounding_of_tanh():
    from rlfree.network import FAST_TANH_MIN_ELEMENTS, tanh_

    z = torch.linspace(-12.0, 12.0, FAST_TANH_MIN_ELEMENTS * 2, dtype=torch.float32)
    torch.testing.assert_close(tanh_(z.clone()), torch.tanh(z), rtol=0, atol=3e-7)
    small = torch.linspace(-3.0, 3.0, 100, dtype=torch.float64)
    assert torch.equal(tanh_(small.clone()), torch.tanh(small))  # exact below the threshold and in float64
