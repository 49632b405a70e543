"""Weight-agnostic free networks: per-neuron activations and masks (rlfree.network), the search
behind the optimiser seam (rlfree.wann), the saved agent, watch --shared-weight, the numpy runner."""

from __future__ import annotations

import csv
import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlfree.agent import load_agent
from rlfree.commands import train as train_script
from rlfree.commands import watch as watch_script
from rlfree.config import Config, ConfigError, WalkConfig
from rlfree.network import NEURON_ACTIVATIONS, FreeNetwork, NetworkSpec
from rlfree.policy import Policy
from rlfree.wann import SHARED_WEIGHTS, WeightAgnosticSearch, nsga_ranks

F64 = torch.float64

# The reference's activations (prettyNEAT's applyAct), written out in numpy.
REFERENCE_ACTIVATIONS = {
    "linear": lambda x: x,
    "step": lambda x: 1.0 * (x > 0.0),
    "sin": lambda x: np.sin(np.pi * x),
    "gaussian": lambda x: np.exp(-np.multiply(x, x) / 2.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: (np.tanh(x / 2.0) + 1.0) / 2.0,
    "inverse": lambda x: -x,
    "abs": np.abs,
    "relu": lambda x: np.maximum(0, x),
    "cos": lambda x: np.cos(np.pi * x),
}


def per_neuron_spec(inputs=4, outputs=2, hidden=5, ticks=3) -> NetworkSpec:
    return NetworkSpec(n_inputs=inputs, n_outputs=outputs, n_hidden=hidden, ticks=ticks, activation="per_neuron")


def test_the_activation_set_is_the_references_in_its_order():
    assert list(NEURON_ACTIVATIONS) == list(REFERENCE_ACTIVATIONS)
    z = torch.linspace(-3, 3, 61, dtype=F64)
    for name, f in NEURON_ACTIVATIONS.items():
        np.testing.assert_allclose(f(z.clone()).numpy(), REFERENCE_ACTIVATIONS[name](z.numpy()), rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_population_of_mixed_genomes_steps_as_a_naive_loop_over_members_does():
    spec = per_neuron_spec()
    P, B, A, K = 7, 3, spec.n_activations, spec.n_columns
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(P, A, K, generator=g) < 0.4
    W = torch.randn(P, A, K, generator=g, dtype=F64) * masks
    codes = torch.randint(len(NEURON_ACTIVATIONS), (P, A), generator=g)
    params = torch.cat([W.reshape(P, -1), codes.to(F64)], 1)
    assert params.shape == (P, spec.n_params) and spec.n_params == A * K + A
    network = FreeNetwork(spec, params)
    a = network.initial_activations(B)
    naive = np.zeros((P, B, A))
    functions = list(REFERENCE_ACTIVATIONS.values())
    for step in range(4):
        inputs = torch.randn(P, B, spec.n_inputs, generator=g, dtype=F64)
        a, outputs = network.step(inputs, a)
        for p in range(P):  # one member, one episode, one neuron at a time
            for b in range(B):
                for _ in range(spec.ticks):
                    x = np.concatenate([[1.0], inputs[p, b].numpy(), naive[p, b]])
                    z = W[p].numpy() @ x
                    naive[p, b] = [functions[codes[p, i]](z[i]) for i in range(A)]
        np.testing.assert_allclose(a.numpy(), naive, rtol=1e-9, atol=1e-9, err_msg=f"step {step}")  # sin(pi z) of |z| ~ 50 amplifies rounding
        np.testing.assert_allclose(outputs.numpy(), naive[..., : spec.n_outputs], rtol=1e-9, atol=1e-9)


def test_flat_matrix_and_neurons_round_trip_and_refuse_bad_names():
    spec = per_neuron_spec()
    names = ["linear", "sin", "cos", "step", "abs", "relu", "gaussian"]
    W = np.arange(spec.n_activations * spec.n_columns, dtype=np.float64).reshape(spec.n_activations, spec.n_columns)
    flat = spec.flat(W, names)
    assert np.array_equal(spec.matrix(flat), W) and spec.neurons(flat) == names
    with pytest.raises(ValueError, match="'swish' is not accepted"):
        spec.flat(W, names[:-1] + ["swish"])
    with pytest.raises(ValueError, match="an activation for each of its 7 neurons"):
        spec.flat(W, names[:3])
    with pytest.raises(ConfigError, match="per_neuron is not accepted with feed_forward"):
        NetworkSpec(n_inputs=2, n_outputs=1, n_hidden=0, ticks=1, activation="per_neuron", feed_forward=True)


def search(spec=None, **kwargs) -> WeightAgnosticSearch:
    options = dict(population=12, search_generations=4, elites=2, tournament=3, prob_moo=0.8, add_connection=0.5, add_node=0.3,
                   change_activation=0.5, init_connection=0.5, walk=WalkConfig(population=6, sigma=0.1, lr=0.05), seed=3, dtype=F64)
    return WeightAgnosticSearch(spec or per_neuron_spec(), **{**options, **kwargs})


def toy_returns(params: torch.Tensor, spec: NetworkSpec) -> torch.Tensor:
    """(rows, 2): a return that likes sin neurons, output weights near 1.3 and a few connections."""
    W = params[:, : spec.n_weights]
    codes = params[:, spec.n_weights :]
    sins = (codes == list(NEURON_ACTIVATIONS).index("sin")).sum(1).to(F64)
    score = sins + (W != 0).sum(1).to(F64).clamp(max=6) - (W.sum(1) - 1.3).abs()
    return torch.stack([score, score + 0.5], 1)


def test_ask_is_every_genome_at_every_shared_weight_genome_major():
    algorithm = search()
    spec = algorithm.spec
    rows = algorithm.ask()
    assert rows.shape == (12 * 6, spec.n_params) and algorithm.rows == 72
    for n in range(12):
        for k, w in enumerate(SHARED_WEIGHTS):
            row = rows[n * 6 + k]
            expected = torch.cat([w * algorithm.masks[n].to(F64).reshape(-1), algorithm.codes[n].to(F64)])
            assert torch.equal(row, expected)
    # the first genomes: bias/input -> output connections only, every neuron linear
    assert not algorithm.masks[:, spec.n_outputs :].any() and not algorithm.masks[:, :, 1 + spec.n_inputs :].any()
    assert algorithm.masks.reshape(12, -1).any(1).all() and (algorithm.codes == 0).all()


def test_operators_keep_genomes_valid_and_grow_them():
    spec = per_neuron_spec()
    algorithm = search(population=16, search_generations=100)
    for _ in range(12):
        algorithm.tell(toy_returns(algorithm.ask(), spec))
    masks, codes = algorithm.masks, algorithm.codes
    hidden_used = masks[:, spec.n_outputs :].any(2)  # (N, H)
    assert hidden_used.any(), "add node never used a hidden neuron"
    # every connection leaves a source in use: bias, input, an output or a hidden neuron with inputs
    for n in range(16):
        used = masks[n].any(1)
        used[: spec.n_outputs] = True
        assert not masks[n][:, 1 + spec.n_inputs :][:, ~used].any()
        assert not masks[n][~used].any()
    assert (codes[:, : spec.n_outputs] == 0).all(), "output neurons stay linear"
    assert (codes[:, spec.n_outputs :] != 0).any(), "change activation / add node never chose an activation"
    assert (masks[:, :, 1 + spec.n_inputs :]).any(), "no connection from a neuron (add node's second half or a loop)"


def test_nsga_ranks_put_the_first_front_first_and_spread_it():
    objectives = torch.tensor([[1.0, 1.0], [3.0, 0.0], [0.0, 3.0], [2.0, 2.0], [0.5, 0.5], [2.0, 1.9]], dtype=F64)
    rank = nsga_ranks(objectives)
    front = {1, 2, 3}
    assert set(torch.argsort(rank)[:3].tolist()) == front
    assert rank[4] == 5  # dominated by everything
    assert rank[5] == 3  # second front, ahead of 0 and 4
    assert sorted(rank.tolist()) == list(range(6))


@pytest.mark.parametrize("tuner", ["walk", "cmaes"])
def test_centre_is_the_best_mean_genome_at_its_best_weight_and_tuning_moves_only_its_weights(tuner):
    spec = per_neuron_spec()
    algorithm = search(search_generations=3, tuner=tuner, cmaes_population=6)
    for _ in range(3):
        rows = algorithm.ask()
        returns = toy_returns(rows, spec)
        stats = algorithm.tell(returns)
        by = returns.mean(1).reshape(12, 6)
        champion = int(by.mean(1).argmax())
        assert torch.equal(algorithm.centre, rows[champion * 6 + int(by[champion].argmax())])
        assert stats["shared_weight"] == SHARED_WEIGHTS[int(by[champion].argmax())]
        assert stats["connections"] == int((rows[champion * 6, : spec.n_weights] != 0).sum())
        assert stats["weight_norm"] == pytest.approx(float(algorithm.centre[: spec.n_weights].norm()))  # the codes left out
    assert algorithm.tuning is not None and algorithm.rows == 6
    start = algorithm.centre.clone()
    for _ in range(4):
        algorithm.tell(toy_returns(algorithm.ask(), spec))
    moved = algorithm.centre != start
    assert moved.any()
    assert not moved[spec.n_weights :].any(), "the activation codes moved"
    assert not (algorithm.centre[: spec.n_weights][start[: spec.n_weights] == 0] != 0).any(), "a missing weight appeared"


@pytest.mark.parametrize("split, tuner", [(2, "walk"), (5, "walk"), (5, "cmaes")], ids=["mid_search", "mid_tuning", "mid_cmaes_tuning"])
def test_state_dict_then_load_state_dict_continues_bitwise(split, tuner):
    spec = per_neuron_spec()
    straight = search(tuner=tuner)
    for _ in range(8):
        straight.tell(toy_returns(straight.ask(), spec))
    first = search(tuner=tuner)
    for _ in range(split):
        first.tell(toy_returns(first.ask(), spec))
    state = {k: v.numpy() if torch.is_tensor(v) else v for k, v in first.state_dict().items()}  # as a checkpoint holds it
    resumed = search(seed=99, tuner=tuner)
    resumed.load_state_dict({k: torch.from_numpy(v) if hasattr(v, "shape") else v for k, v in state.items()})
    for _ in range(8 - split):
        resumed.tell(toy_returns(resumed.ask(), spec))
    end = straight.state_dict()
    assert set(end) == set(resumed.state_dict())
    for name, value in end.items():
        other = resumed.state_dict()[name]
        assert torch.equal(value, other) if torch.is_tensor(value) else value == other, name


def test_a_state_of_another_optimiser_or_shape_is_refused():
    algorithm = search()
    with pytest.raises(ValueError, match="has no 'masks'"):
        algorithm.load_state_dict({"centre": torch.zeros(3), "generation": 1, "seed": 3})
    state = algorithm.state_dict()
    with pytest.raises(ValueError, match="does not fit a population of 12"):
        algorithm.load_state_dict({**state, "masks": torch.zeros(5, 7, 12)})


# -- end to end: train, the saved agent, watch, the numpy runner ----------------------------------
def wann_args(tmp_path, logdir, generations=4, env="CartPole-v1"):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return ["--config", str(empty), "--env", env, "--algo", "wann", "--wann-population", "8", "--wann-generations", "2", "--wann-elites", "2",
            "--population", "4", "--hidden", "3", "--ticks", "2", "--episodes", "2", "--eval-episodes", "2", "--eval-freq", "1",
            "--target", "1e9", "--seed", "2", "-n", str(generations), "--logdir", str(logdir)]


@pytest.fixture(scope="module")
def wann_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wann")
    assert train_script.main(wann_args(tmp, tmp / "runs")) == 0
    return next((tmp / "runs").iterdir())


def numpy_runner(folder, seed: int, shared_weight: float | None = None) -> float:
    """The README's numpy runner for a wann agent (Discrete action)."""
    acts = {"linear": lambda x: x, "step": lambda x: 1.0 * (x > 0), "sin": lambda x: np.sin(np.pi * x),
            "gaussian": lambda x: np.exp(-x * x / 2), "tanh": np.tanh, "sigmoid": lambda x: (np.tanh(x / 2) + 1) / 2,
            "inverse": lambda x: -x, "abs": np.abs, "relu": lambda x: np.maximum(0, x), "cos": lambda x: np.cos(np.pi * x)}
    W, saved = np.load(f"{folder}/W.npy"), json.load(open(f"{folder}/network.json"))
    if shared_weight is not None:
        W = shared_weight * np.array(saved["mask"])
    fs = [acts[name] for name in saved["neurons"]]
    env = gym.make(saved["env_id"])
    obs, _ = env.reset(seed=seed)
    a, done, total = np.zeros(W.shape[0]), False, 0.0
    while not done:
        for _ in range(saved["network"]["ticks"]):
            z = W @ np.concatenate([[1.0], obs, a])
            a = np.array([f(v) for f, v in zip(fs, z)])
        obs, reward, terminated, truncated, _ = env.step(int(np.argmax(a[: saved["network"]["n_outputs"]])))
        total, done = total + reward, terminated or truncated
    return total


def test_saved_agent_states_each_neurons_activation_and_mask_and_numpy_plays_it(wann_run):
    best = wann_run / "checkpoints" / "best"
    saved = json.loads((best / "network.json").read_text())
    W = np.load(best / "W.npy")
    assert saved["version"] == 5 and saved["network"]["activation"] == "per_neuron"
    assert len(saved["neurons"]) == W.shape[0] and set(saved["neurons"]) <= set(NEURON_ACTIVATIONS)
    assert np.array_equal(np.array(saved["mask"]), (W != 0).astype(int))
    agent = load_agent(wann_run)
    for shared in (None, -1.0, 2.0):
        played = agent if shared is None else agent.with_shared_weight(shared)
        env = played.make_env()
        rlfree_return = played.play(env, seed=7)[0]
        env.close()
        assert numpy_runner(best, 7, shared) == rlfree_return


def test_watch_plays_a_wann_agent_at_a_shared_weight_and_refuses_it_for_others(wann_run, capsys):
    assert watch_script.main([str(wann_run), "--no-render", "--episodes", "2", "--shared-weight", "-0.5"]) == 0
    assert "at shared weight -0.5" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        watch_script.main([str(wann_run), "--no-render", "--episodes", "1", "--shared-weight", "nan"])
    assert exit_info.value.code == 2
    assert "--shared-weight nan is not accepted" in capsys.readouterr().err


def test_tuning_plays_its_own_episodes_per_member_from_its_first_generation(tmp_path):
    logdir = tmp_path / "runs"
    assert train_script.main(wann_args(tmp_path, logdir, 4) + ["--wann-tune-episodes", "3"]) == 0
    run = next(logdir.iterdir())
    with open(run / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["episodes_per_member"]) for r in rows] == [2, 2, 3, 3]  # 2 generations of search, then tuning
    played = np.diff([0] + [int(r["episodes"]) for r in rows]).tolist()
    # search: 8 genomes x 6 shared weights x 2 episodes + the centre's 2; tuning: the walk's 4 rows x 3 + one row of 3 for the centre
    assert played == [8 * 6 * 2 + 2, 8 * 6 * 2 + 2, 4 * 3 + 3, 4 * 3 + 3]


@pytest.mark.parametrize("tune_episodes", [[], ["--wann-tune-episodes", "3"]])
@pytest.mark.parametrize("split_at", [1, 3])  # in the search, in the tuning
def test_resume_continues_bitwise_identical_across_search_and_tuning(tmp_path, tune_episodes, split_at):
    straight = tmp_path / "straight"
    assert train_script.main(wann_args(tmp_path, straight, 4) + tune_episodes) == 0
    split = tmp_path / "split"
    assert train_script.main(wann_args(tmp_path, split, split_at) + tune_episodes) == 0
    run = next(split.iterdir())
    assert train_script.main(["--resume", str(run), "-n", "4"]) == 0
    a, b = next(straight.iterdir()) / "checkpoints" / "latest", run / "checkpoints" / "latest"
    with np.load(a / "walk.npz") as x, np.load(b / "walk.npz") as y:
        assert set(x.files) == set(y.files) and "tune_centre" in x.files
        for name in x.files:
            assert np.array_equal(x[name], y[name]), name
    assert np.array_equal(np.load(a / "W.npy"), np.load(b / "W.npy"))


@pytest.mark.parametrize("flags, words", [
    (["--algo", "wann", "--activation", "tanh"], "activation 'tanh' is not accepted with algo 'wann'"),
    (["--activation", "per_neuron"], "activation 'per_neuron' is not accepted with algo 'walk'"),
    (["--algo", "wann", "--wann-elites", "16"], "wann_elites=16 is not accepted: use 1 to wann_population - 1 (15)"),
    (["--algo", "wann", "--wann-add-node", "1.5"], "are probabilities"),
    (["--algo", "wann", "--wann-tune-episodes", "-1"], "wann_tune_episodes=-1 is not accepted: use 1 or more, or 0 for --episodes"),
])
def test_bad_wann_settings_are_one_line_and_nothing_is_written(tmp_path, capsys, flags, words):
    logdir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--env", "CartPole-v1", "--wann-population", "16", "--logdir", str(logdir), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert not logdir.exists()


def test_wiring_picture_draws_inputs_neurons_connections_and_loops():
    from rlfree.wiring_image import BACK, NEGATIVE, POSITIVE, neuron_depths, wiring_picture

    spec = per_neuron_spec(inputs=2, outputs=1, hidden=3, ticks=2)
    W = np.zeros((spec.n_activations, spec.n_columns))
    W[1, 1] = 1.0  # obs 0 -> hidden 1
    W[0, 3 + 1] = -2.0  # hidden 1 -> output 0
    W[1, 3 + 0] = 0.5  # output 0 -> hidden 1: back
    W[2, 3 + 2] = 1.0  # hidden 2 -> itself, reached from nothing else
    assert neuron_depths(spec, W != 0) == {0: 2, 1: 1, 2: 1}
    names = ["linear", "sin", "relu", "cos"]
    picture = wiring_picture(spec, W, names)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert {POSITIVE, NEGATIVE, BACK} <= colours
    # without the loops, no orange
    plain = W.copy()
    plain[1, 3], plain[2, 5] = 0.0, 0.0
    assert BACK not in {tuple(c) for c in wiring_picture(spec, plain, names).reshape(-1, 3)}


def test_a_wann_run_saves_its_wiring_beside_the_agent_and_to_tensorboard(wann_run):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    png = wann_run / "checkpoints" / "best" / "wiring.png"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 200
    events = EventAccumulator(str(wann_run), size_guidance={"images": 0}).Reload()
    assert "wann/wiring" in events.Tags()["images"] and "wann/connections" in events.Tags()["scalars"]


def test_wann_report_refuses_bad_input_in_one_line(capsys):
    from test_coevolve import _script

    report = _script("wann_report")
    assert report.main(["--envs", "Pong-v5"]) == 2
    err = capsys.readouterr().err
    assert "--envs Pong-v5" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_wann_report_runs_its_three_runs_and_prints_the_table(tmp_path, capsys):
    from test_coevolve import _script

    report = _script("wann_report")
    assert report.main(["--envs", "CartPole-v1", "--scale", "0.1", "--episodes", "3", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "WANN, mean over the six shared weights" in out and "dense free network, walk" in out
    result = json.loads((tmp_path / "r.json").read_text())[0]
    assert set(result["by_weight"]) == {str(w) for w in SHARED_WEIGHTS}
    assert result["connections"]["wann"] < result["connections"]["dense"] == 6 * (1 + 4 + 6)  # 2 outputs + 4 hidden, every weight
    assert result["tuning"]["episodes"] > result["search"]["episodes"]


@pytest.mark.parametrize("shared", [None, -1.0])
def test_the_readmes_numpy_runner_plays_a_wann_agent_as_rlfree_does(wann_run, shared, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if 'saved["neurons"]' in b]
    best = wann_run / "checkpoints" / "best"
    block = block.replace('"runs/rlfree-CartPoleSwingUp-v0__.../checkpoints/best"', repr(str(best)))
    if shared is not None:
        block = block.replace("# W = -1.0 * np.array", "W = -1.0 * np.array")
    exec(block, {})
    agent = load_agent(wann_run)
    agent = agent if shared is None else agent.with_shared_weight(shared)
    env = agent.make_env()
    expected = agent.play(env, seed=1)[0]
    env.close()
    assert float(capsys.readouterr().out) == expected


@pytest.mark.parametrize("edit, words", [
    (lambda saved: saved["neurons"].__setitem__(0, "swish"), "neuron activation 'swish' is not accepted"),
    (lambda saved: saved.pop("neurons"), "needs an activation for each of its"),
    (lambda saved: saved["mask"].pop(), "its mask should be"),
])
def test_a_hand_edited_wann_agent_is_one_line(wann_run, tmp_path, edit, words):
    import shutil

    from rlfree.checkpoint import CheckpointError

    folder = tmp_path / "agent"
    shutil.copytree(wann_run / "checkpoints" / "best", folder)
    saved = json.loads((folder / "network.json").read_text())
    edit(saved)
    (folder / "network.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match=words):
        load_agent(folder)
