"""rlfree fit: the supervised mode of the free-network reference, its tasks and its baselines."""

import json
import math

import numpy as np
import pytest
import torch

from rlfree.backprop_baselines import FreeNetworkModule, RecurrentModule, matching_width, recurrent_params
from rlfree.commands import fit as fit_command
from rlfree.config import WalkConfig
from rlfree.backprop_baselines import free_network_bptt
from rlfree.fit import FitConfig, OutputMap, ReferenceWalkFit, SmartWalkFit, batch_losses, network_spec, output_map, sequence_outputs
from rlfree.seeding import perturbations
from rlfree.sequence_tasks import encode, make_task, mean_prediction_loss
from rlfree.walk import FaithfulRandomWalk

from conftest import DEVICES, load_script


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as rlfree fit runs by default: on 2 busy cores a second thread made a
    60-step BPTT run 100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def naive_loss(task, W: np.ndarray, n_outputs: int, sequence: np.ndarray, target, sequence_output: bool) -> float:
    """One network on one sequence, written out: a = tanh(W [1, x_t, a]) tick by tick, float64;
    on the adding problem the outputs in (-1, 1) are read as targets in (0, 2)."""
    a = np.zeros(W.shape[0])
    outputs = []
    for x in sequence:
        a = np.tanh(W @ np.concatenate([[1.0], x, a]))
        out = a[:n_outputs]
        if task.loss == "cross_entropy":
            out = np.exp(out) / np.exp(out).sum()
        if task.name == "adding":
            out = out + 1.0
        outputs.append(out)
    scored = outputs if sequence_output else outputs[-1:]
    if task.loss == "mse":
        return float(np.mean([np.mean((out - target) ** 2) for out in scored]))
    return float(np.mean([-math.log(out[target]) for out in scored]))


@pytest.mark.parametrize("task_name, sequence_output", [("memory", False), ("memory", True), ("recall", False), ("adding", True)])
def test_batched_losses_match_a_naive_loop_over_members_and_datapoints(task_name, sequence_output):
    task = make_task(task_name, 5)
    config = FitConfig(hidden=3, sequence_output=sequence_output)
    spec = network_spec(task, config)
    params = torch.randn(3, spec.n_params, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    inputs, targets = task.batch(7, 0, 4)
    losses = batch_losses(task, spec, params, inputs[None], targets[None], sequence_output)
    assert losses.shape == (3, 4)
    encoded = encode(task, inputs).double().numpy()
    for p in range(3):
        W = spec.matrix(params[p].numpy())
        for b in range(4):
            expected = naive_loss(task, W, spec.n_outputs, encoded[b], targets[b].numpy(), sequence_output)
            assert losses[p, b].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_reference_update_matches_a_literal_transcription_of_the_reference():
    """nn_rnd_training's step, written as its text says: per datapoint, run the graph, run it with
    that datapoint's own adjustment, multiply the negative loss change by the adjustment, average."""
    task = make_task("memory", 3)
    config = FitConfig(hidden=2, walk_batch=6, walk_sigma=0.05)
    learner = ReferenceWalkFit(task, config, seed=3)
    spec = learner.spec
    W0 = learner.walk.centre.double().numpy().copy()
    adjustments = config.walk_sigma * perturbations(3, 0, 6, spec.n_params).float().double().numpy()
    data, target = task.batch(3, 0, 6)
    data, target = data.double().numpy(), target.double().numpy()

    total = np.zeros_like(W0)
    for i in range(6):
        loss = naive_loss(task, spec.matrix(W0), spec.n_outputs, data[i], target[i], False)
        adjusted = naive_loss(task, spec.matrix(W0 + adjustments[i]), spec.n_outputs, data[i], target[i], False)
        total += -(adjusted - loss) * adjustments[i]
    expected = W0 + total / 6

    learner.step(0)
    step = learner.walk.centre.double().numpy() - W0
    assert np.abs(expected - W0).max() > 1e-5  # the update is not trivially zero
    np.testing.assert_allclose(step, expected - W0, rtol=2e-3, atol=2e-7)


def test_faithful_walk_refuses_a_baseline_of_the_wrong_length():
    walk = FaithfulRandomWalk(torch.zeros(4), WalkConfig(population=3, variant="seed"), 0)
    walk.ask()
    with pytest.raises(ValueError, match=r"baseline of shape \(2,\)"):
        walk.tell(torch.zeros(4, 1), baseline=torch.zeros(2))


def test_reference_generator_repeats_the_first_tick_plus_a_constant():
    task = make_task("reference")
    inputs, targets = task.batch(0, 0, 500)
    assert inputs.shape == (500, 4, 3) and targets.shape == (500, 2)
    for t in range(4):
        torch.testing.assert_close(inputs[:, t], inputs[:, 0] + t)
    x = inputs[:, 0].double()
    torch.testing.assert_close(targets.double(), torch.sigmoid(torch.stack([x[:, 0] + x[:, 1], x[:, 0] + x[:, 2]], 1)), atol=1e-6, rtol=0)


def test_memory_variant_keeps_the_answer_in_the_first_tick_only():
    task = make_task("memory", 20)
    inputs, targets = task.batch(0, 0, 4000)
    assert inputs.shape == (4000, 20, 3) and targets.shape == (4000, 2)
    assert inputs.min() >= -1 and inputs.max() <= 1
    later = inputs[:, 1:].reshape(4000, -1)
    correlation = torch.corrcoef(torch.cat([targets.T, later.T]))[:2, 2:]
    assert correlation.abs().max() < 0.08  # noise: no later tick tells the answer
    # predicting the targets' mean: the variance of sigmoid(U + U'), U uniform in [-1, 1]
    assert mean_prediction_loss(task, targets) == pytest.approx(0.0318, abs=0.002)


@pytest.mark.parametrize("length", [10, 50, 100, 200])
def test_adding_problem_has_two_markers_and_the_mean_scores_one_sixth(length):
    task = make_task("adding", length)
    inputs, targets = task.batch(1, 0, 20000)
    assert inputs.shape == (20000, length, 2) and targets.shape == (20000, 1)
    markers = inputs[:, :, 1]
    assert torch.all(markers.sum(1) == 2)
    assert torch.all(markers[:, : length // 2].sum(1) == 1)
    torch.testing.assert_close((inputs[:, :, 0] * markers).sum(1, keepdim=True), targets)
    assert float(((targets - 1.0) ** 2).mean()) == pytest.approx(1 / 6, abs=0.005)
    assert mean_prediction_loss(task, targets) == pytest.approx(0.167, abs=0.005)


def test_recall_is_one_hot_symbols_whose_class_is_the_first():
    task = make_task("recall", 6, classes=5)
    inputs, targets = task.batch(0, 0, 1000)
    assert inputs.shape == (1000, 6) and inputs.dtype == torch.int64 and torch.equal(targets, inputs[:, 0])
    encoded = encode(task, inputs)
    assert encoded.shape == (1000, 6, 5) and torch.all(encoded.sum(2) == 1)
    assert mean_prediction_loss(task, targets) == pytest.approx(math.log(5), abs=0.01)


def test_batches_are_reproducible_and_the_test_set_is_held_out():
    task = make_task("adding", 10)
    a, b = task.batch(0, 3, 50), task.batch(0, 3, 50)
    assert torch.equal(a[0], b[0])
    test_inputs, _ = task.test_set(0, 50)
    assert not any(torch.equal(test_inputs, task.batch(0, step, 50)[0]) for step in range(5))
    assert not torch.equal(task.batch(0, 0, 50)[0], task.batch(1, 0, 50)[0])


@pytest.mark.parametrize("device", DEVICES)
def test_the_network_gives_the_same_outputs_under_autograd(device):
    task = make_task("memory", 6)
    spec = network_spec(task, FitConfig(hidden=40))
    params = torch.randn(1, spec.n_params, generator=torch.Generator().manual_seed(0)).mul_(0.2).to(device)
    inputs = task.batch(0, 0, 600)[0].to(device)[None]  # 600 x 42 activations: the in-place fast tanh's size
    plain = sequence_outputs(task, spec, params, inputs, True)
    tracked = sequence_outputs(task, spec, params.clone().requires_grad_(), inputs, True)
    torch.testing.assert_close(tracked.detach(), plain, atol=1e-6, rtol=0)
    tracked.square().mean().backward()  # the in-place activations would refuse this


@pytest.mark.parametrize("activation, expected", [
    ("tanh", OutputMap(1.0, 1.0)), ("softsign", OutputMap(1.0, 1.0)), ("sigmoid", OutputMap(2.0, 0.0)), ("relu", OutputMap()), ("identity", OutputMap()),
])
def test_adding_outputs_are_mapped_onto_the_targets_range_where_the_activation_falls_short(activation, expected):
    task = make_task("adding", 4)
    assert output_map(task, network_spec(task, FitConfig(activation=activation))) == expected
    # the reference's sigmoid targets lie inside tanh's range: read as they are, as the reference does
    for name in ("reference", "memory", "recall"):
        other = make_task(name)
        assert output_map(other, network_spec(other, FitConfig())).identity


def test_the_free_network_can_now_answer_an_adding_target_above_one():
    task = make_task("adding", 4)
    spec = network_spec(task, FitConfig(hidden=2))
    inputs, _ = task.batch(0, 0, 8)

    def output_for_bias(bias: float) -> torch.Tensor:
        """The outputs (1, 8, 1) of a network whose only weight is the output's bias."""
        W = torch.zeros(spec.n_activations, spec.n_columns, dtype=torch.float64)
        W[0, 0] = bias
        return sequence_outputs(task, spec, W.reshape(1, -1), inputs[None].double(), False)

    # saturated at tanh's -1 and +1, the output spans the targets' whole range [0, 2]
    torch.testing.assert_close(output_for_bias(-30.0), torch.zeros(1, 8, 1, dtype=torch.float64))
    torch.testing.assert_close(output_for_bias(30.0), torch.full((1, 8, 1), 2.0, dtype=torch.float64))
    # a target of 1.8, out of tanh's reach unmapped, is answered exactly: tanh(b) = 0.8
    torch.testing.assert_close(output_for_bias(math.atanh(0.8)), torch.full((1, 8, 1), 1.8, dtype=torch.float64))


@pytest.mark.parametrize("sequence_output", [False, True])
def test_walks_and_bptt_read_the_same_mapped_outputs(sequence_output):
    """One forward pass for all three: the walks' loss at their centre is bptt_free's loss at the same weights."""
    task = make_task("adding", 6)
    config = FitConfig(hidden=4, sequence_output=sequence_output, walk_batch=5)
    inputs, targets = task.batch(2, 0, 16)
    bptt = free_network_bptt(task, config, seed=2)
    with torch.no_grad():
        backprop = bptt.module(encode(task, inputs))
        bptt_loss = float(bptt.loss(inputs, targets)[0])
    for walk in (ReferenceWalkFit(task, config, seed=2), SmartWalkFit(task, config, seed=2)):
        torch.testing.assert_close(walk.centre, bptt.module.weights.detach())
        walked = sequence_outputs(task, walk.spec, walk.centre[None], encode(task, inputs)[None], sequence_output)[0]
        torch.testing.assert_close(walked, backprop)
        assert walk.test_loss(inputs, targets) == pytest.approx(bptt_loss, rel=1e-6)
    assert backprop.min() > 0  # mapped: tanh outputs near 0 at small weights are read near 1, the targets' middle


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_torch_baselines_have_about_the_free_networks_parameter_count(cell):
    for task in (make_task("reference"), make_task("adding", 10), make_task("recall", 5, classes=8)):
        config = FitConfig()
        free = FreeNetworkModule(task, config, 0)
        module = RecurrentModule(cell, task, config)
        count = sum(p.numel() for p in module.parameters())
        assert count == recurrent_params(cell, task.n_inputs, task.n_outputs, matching_width(cell, task.n_inputs, task.n_outputs, free.weights.numel()))
        assert abs(count - free.weights.numel()) / free.weights.numel() < 0.1


@pytest.mark.parametrize("method, steps", [("walk_reference", 30), ("walk_smart", 30), ("bptt_free", 60), ("lstm", 60)])
def test_a_short_fit_reduces_the_test_loss(method, steps):
    task = make_task("reference")
    config = FitConfig(walk_batch=300, test_size=300)
    curve = fit_command.fit(task, [method], config, seconds=60, max_steps=steps, evaluations=1)[method]
    assert curve.steps[-1] == steps
    assert curve.test_loss[-1] < 0.9 * curve.test_loss[0]


def test_backprop_runs_log_gradient_norms():
    task = make_task("adding", 12)
    curve = fit_command.fit(task, ["bptt_free", "rnn"], FitConfig(test_size=50), seconds=60, max_steps=3, evaluations=3)["rnn"]
    assert set(curve.extras) == {"grad_norm", "first_input_grad", "last_input_grad"}
    assert all(len(v) == len(curve.seconds) for v in curve.extras.values())
    assert math.isnan(curve.extras["grad_norm"][0]) and curve.extras["grad_norm"][-1] > 0


def test_fit_command_writes_curves_and_tensorboard_events(tmp_path, capsys):
    code = fit_command.main(["--task", "adding", "--length", "6", "--methods", "walk_reference,walk_smart,gru", "--seconds", "5",
                             "--max-steps", "2", "--walk-batch", "20", "--test-size", "20", "--logdir", str(tmp_path)])
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("fit-adding-6__0__")
    data = json.loads((run_dir / "curves.json").read_text())
    assert data["task"] == "adding-6" and set(data["curves"]) == {"walk_reference", "walk_smart", "gru"}
    assert data["output_map"] == {"scale": 1.0, "shift": 1.0}
    assert all(c["steps"][-1] == 2 for c in data["curves"].values())
    assert list(run_dir.glob("events.out.tfevents.*"))
    printed = capsys.readouterr().out
    assert "walk_smart" in printed and "read as 1 y + 1, onto the targets' range [0, 2]" in printed


@pytest.mark.parametrize("argv, named", [
    (["--task", "sorting"], "'sorting'"),
    (["--task", "adding", "--length", "1"], "length=1"),
    (["--task", "adding", "--methods", "walk,lstm"], "'walk'"),
    (["--task", "adding", "--seconds", "0"], "--seconds 0"),
    (["--task", "adding", "--device", "cuda:7"], "'cuda:7'"),
    (["--task", "adding", "--walk-batch", "0"], "walk_batch=0"),
    (["--task", "adding", "--activation", "swish"], "'swish'"),
    (["--task", "recall", "--classes", "1"], "classes=1"),
    (["--task", "adding", "--bptt-lr", "-1"], "bptt_lr=-1"),
    (["--task", "adding", "--length", "ten"], "'ten'"),
])
def test_bad_fit_input_is_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, argv, named):
    with pytest.raises(SystemExit) as exit_info:
        fit_command.main(argv + ["--logdir", str(tmp_path / "runs")], prog="rlfree fit")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and err.startswith("rlfree fit: error:")
    assert not (tmp_path / "runs").exists()


def test_smart_walk_judges_each_pair_on_one_datapoint():
    task = make_task("adding", 5)
    learner = SmartWalkFit(task, FitConfig(hidden=2, walk_batch=4, test_size=10), seed=0)
    assert learner.walk.population == 8 and learner.walk.rows == 8
    figures = learner.step(0)
    assert figures["train_loss"] > 0 and learner.walk.generation == 1


def _fit_report():
    """scripts/fit_report.py as a module (a script, not an rlfree command)."""
    return load_script("fit_report")


def test_fit_report_runs_the_methods_a_file_lacks_and_keeps_the_others(tmp_path):
    """How one method is re-measured (README: the adding rows after the output mapping) without re-running the rest."""
    import dataclasses

    report = _fit_report()
    settings = (("walk_batch", 20), ("test_size", 20), ("bptt_batch", 10))
    config = dataclasses.asdict(FitConfig(**dict(settings)))
    report.run_one("adding", 4, 0, 0.01, 1, str(tmp_path), ("gru",), settings)
    first = json.loads((tmp_path / "adding-4__0.json").read_text())
    assert first["output_map"] == {"scale": 1.0, "shift": 1.0}
    assert report.pending_runs(tmp_path, ["adding-4"], [0, 1], ("gru", "walk_smart"), 0.01, config, redo=False) == [
        ("adding-4", 0, ("walk_smart",)), ("adding-4", 1, ("gru", "walk_smart"))]
    report.run_one("adding", 4, 0, 0.01, 1, str(tmp_path), ("walk_smart",), settings)
    merged = json.loads((tmp_path / "adding-4__0.json").read_text())["curves"]
    assert set(merged) == {"gru", "walk_smart"} and merged["gru"] == first["curves"]["gru"]
    assert report.pending_runs(tmp_path, ["adding-4"], [0], ("gru", "walk_smart"), 0.01, config, redo=False) == []
    assert report.pending_runs(tmp_path, ["adding-4"], [0], ("gru",), 0.01, config, redo=True) == [("adding-4", 0, ("gru",))]
    with pytest.raises(ValueError, match="other settings"):
        report.pending_runs(tmp_path, ["adding-4"], [0], ("gru",), 12.0, config, redo=False)
    with pytest.raises(ValueError, match="other settings"):
        report.pending_runs(tmp_path, ["adding-4"], [0], ("gru",), 0.01, dataclasses.asdict(FitConfig()), redo=False)
