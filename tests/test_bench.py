"""rlfree bench's options: --batches, --device, --skip-gym; refusals are one line, and a short run
prints its tables (the figures themselves are the benchmark's business, not a test's)."""

import pytest
import torch

from rlfree.commands import bench


@pytest.mark.parametrize("value", ["64,abc", "100", "0", "-64", ",", ""])
def test_batches_that_are_not_multiples_of_the_population_are_one_line(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--batches", value], prog="rlfree bench")
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"rlfree bench: error: argument --batches: {value!r} is not accepted: ")
    assert "each a multiple of 64 (the population), e.g. 64,1024,16384" in lines[0]


def test_batches_are_read_in_order():
    assert bench.parse_batches("1024,64, 128") == (1024, 64, 128)


@pytest.mark.parametrize("device, words", [("gpu", "device 'gpu' is not a torch device; available here: cpu"),
                                           ("cuda:99", "device 'cuda:99' is not available on this machine")])
def test_a_device_torch_cannot_use_is_one_line(device, words, capsys):
    assert bench.main(["--device", device, "--skip-solve", "--skip-walk"], prog="rlfree bench") == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rlfree bench: error: {words}")


def test_a_device_puts_the_twin_on_the_cpu_beside_its_own():
    header = bench.throughput_header(torch.device("cuda"), with_gym=True, with_numpy_vector=False)
    assert header[:5] == ["task", "batch", "twin on cuda steps/s", "twin on cpu steps/s", "cuda / cpu"]
    assert header[5:] == ["SyncVectorEnv steps/s", "twin / sync", "hand-fused steps/s", "twin / fused"]
    # the CPU's own table keeps the README's columns
    assert bench.throughput_header(torch.device("cpu"), with_gym=True, with_numpy_vector=True) == [
        "task", "batch", "twin steps/s", "SyncVectorEnv steps/s", "twin / sync", "gymnasium NumPy vector env steps/s",
        "twin / NumPy", "hand-fused steps/s", "twin / fused"]


def test_a_short_run_without_gymnasium_prints_one_row_per_task_and_batch(tmp_path, monkeypatch, capsys):
    timed = bench.timed
    monkeypatch.setattr(bench, "timed", lambda fn, min_seconds=0.5, device=bench.CPU: timed(fn, 0.01, device))  # a glance, not a measurement
    markdown = tmp_path / "bench.md"
    assert bench.main(["--batches", "64,128", "--skip-gym", "--skip-solve", "--skip-walk", "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert markdown.read_text() == out
    assert out.startswith(f"torch {torch.__version__}, 1 threads, gymnasium ")
    assert "SyncVectorEnv" not in out and "gym backend" not in out  # --skip-gym
    assert "| task | batch | twin steps/s | hand-fused steps/s | twin / fused |" in out
    rows = [line for line in out.splitlines() if line.startswith(("| CartPole-v1 |", "| Acrobot-v1 |", "| Pendulum-v1 |"))]
    assert [row.split(" | ")[:2] for row in rows] == [[f"| {task}", batch] for task in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1") for batch in ("64", "128")]
    assert all(float(row.split(" | ")[2].replace(",", "")) > 0 for row in rows)
    layout = out.split("by memory layout (64 members, hidden 16):")[1]
    assert "| 64 |" in layout and "| 128 |" in layout
