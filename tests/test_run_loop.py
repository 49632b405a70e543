"""The run loop: stop predicate, typed run state, resume after a hard kill, console status, W picture."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rlfree.checkpoint import CheckpointError
from rlfree.config import Config
from rlfree.progress import Console, duration
from rlfree.run_loop import RunLoop, RunState, make_run_folder
from rlfree.trainer import GenerationRecord, Trainer
from rlfree.weight_image import PIXELS, WeightLayout, colour_scale, weight_image


def small_config(tmp_path: Path, **run) -> Config:
    config = Config()
    config.env.backend = "torch"
    config.walk.population = 8
    config.run.eval_episodes = 2
    config.run.target = 1e9
    config.run.logdir = str(tmp_path / "runs")
    for name, value in run.items():
        setattr(config.run, name, value)
    return config


def test_a_stop_predicate_ends_the_run_and_the_checkpoint_holds_where_it_stopped(tmp_path):
    config = small_config(tmp_path, generations=100)
    loop = RunLoop(Trainer(config), make_run_folder(config), config=config, stop=lambda state: state.generation >= 3)
    result = loop.run()
    assert result.state.generation == 3 and not result.interrupted and not result.state.solved
    from rlfree.run_loop import load_run

    _, state, _ = load_run(result.run_dir)
    assert state == result.state


@pytest.mark.parametrize(
    "change, message",
    [
        ({"generation": "3"}, "generation = '3' is not accepted; expected int"),
        ({"elapsed": None}, "elapsed = None is not accepted; expected int or float"),
        ({"solved": "no"}, "solved = 'no' is not accepted; expected bool"),
        ({"env_steps": True}, "env_steps = True is not accepted; expected int"),
    ],
)
def test_run_state_from_json_names_a_mistyped_field(change, message):
    good = RunState(env_id="CartPole-v1", config={}, generation=2).to_json()
    assert RunState.from_json(good, "state.json") == RunState(env_id="CartPole-v1", config={}, generation=2)
    with pytest.raises(CheckpointError) as error:
        RunState.from_json({**good, **change}, "state.json")
    assert str(error.value) == f"state.json: {message}"


def test_run_state_without_an_env_id_is_not_a_run_state():
    with pytest.raises(CheckpointError, match="'env_id' is missing"):
        RunState.from_json({"config": {}}, "state.json")


# -- resume after a hard kill --------------------------------------------------------------------------
def csv_generations(run_dir: Path) -> list[int]:
    with open(run_dir / "progress.csv", newline="") as f:
        return [int(row["generation"]) for row in csv.DictReader(f)]


def tensorboard_steps(run_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()  # honours the purge the resumed run asked for
    return [event.step for event in events.Scalars(tag)]


def test_resume_after_a_hard_kill_shows_no_generation_twice(tmp_path):
    logdir = tmp_path / "runs"
    command = [sys.executable, "-m", "rlfree", "train", "--env", "CartPole-v1", "--algo", "walk", "--backend", "torch", "--population", "64",
               "--episodes", "4", "--eval-episodes", "2", "--target", "1e9", "--save-freq", "5", "-n", "100000", "--logdir", str(logdir)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = list(logdir.glob("*/progress.csv"))
            done = len(csv_generations(runs[0].parent)) if runs else 0
            if done >= 8 and done % 5 in (1, 2, 3):  # rows past the last checkpoint (every 5 generations)
                break
            time.sleep(0.01)
        os.killpg(child.pid, signal.SIGKILL)  # no Ctrl-C handler runs: the CSV and events run ahead of the checkpoint
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    (run_dir,) = logdir.iterdir()
    killed_at = csv_generations(run_dir)
    checkpoint = json.loads((run_dir / "checkpoints" / "latest" / "state.json").read_text())["generation"]
    assert killed_at[-1] > checkpoint  # the CSV (and the events) ran ahead of the checkpoint
    total = killed_at[-1] + 3
    resumed = subprocess.run([sys.executable, "-m", "rlfree", "train", "--resume", str(run_dir), "-n", str(total)],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert csv_generations(run_dir) == list(range(1, total + 1))
    steps = tensorboard_steps(run_dir, "rollout/ep_rew_mean")
    assert len(steps) == total and steps == sorted(set(steps))


# -- the console ----------------------------------------------------------------------------------------
def record(generation: int, eval_mean: float | None = None, elapsed: float = 0.0) -> GenerationRecord:
    return GenerationRecord(generation=generation, env_steps=100 * generation, episodes=8 * generation, population_mean=1.0,
                            population_max=2.0, population_min=0.0, episode_length_mean=10.0, sigma=0.2, step_norm=0.1,
                            weight_norm=1.0, nonfinite_returns=0, nonfinite_actions=0, tied_share=0.0, steps_per_second=1000.0, elapsed=elapsed, eval_mean=eval_mean)


def test_console_status_gives_rate_eta_and_the_best_centre_against_the_target(monkeypatch):
    clock = iter([0.0, 2.0, 4.0, 30.0])
    monkeypatch.setattr("rlfree.progress.time.perf_counter", lambda: next(clock))
    out, status = io.StringIO(), io.StringIO()
    console = Console(GenerationRecord, 100, target=475.0, status=True, stream=out, status_stream=status)
    console.on_generation(record(1, eval_mean=120.5))  # t = 2 s: 0.5 gen/s, 99 left
    console.on_generation(record(2, eval_mean=90.0))  # t = 4 s: within LOG_EVERY of the last status line
    console.on_generation(record(3))  # t = 30 s
    console.close()
    lines = status.getvalue().splitlines()
    assert lines == [
        "gen 1/100 (1%) | 0.50 gen/s | ETA 3m18s | best centre 120.5, target 475 (354.5 to go)",
        "gen 3/100 (3%) | 0.10 gen/s | ETA 16m10s | best centre 120.5, target 475 (354.5 to go)",
    ]
    assert out.getvalue().splitlines()[0] == GenerationRecord.HEADER and len(out.getvalue().splitlines()) == 4


def test_console_without_status_prints_only_the_lines():
    out, status = io.StringIO(), io.StringIO()
    console = Console(GenerationRecord, 10, target=1.0, status=False, stream=out, status_stream=status)
    console.on_generation(record(1, eval_mean=2.0))
    assert status.getvalue() == "" and out.getvalue().splitlines()[1] == record(1, eval_mean=2.0).line()


@pytest.mark.parametrize("seconds, text", [(42.4, "42s"), (185, "3m05s"), (7620, "2h07m")])
def test_durations_read_as_a_person_writes_them(seconds, text):
    assert duration(seconds) == text


# -- the W picture ----------------------------------------------------------------------------------------
def test_weight_picture_marks_the_blocks_and_keeps_one_scale():
    layout = WeightLayout(n_outputs=2, n_hidden=3, n_inputs=4)  # A = 5, K = 1 + 4 + 5 = 10
    W = np.linspace(-1.0, 1.0, 50).reshape(5, 10)
    scale = colour_scale(W)
    image = weight_image(W, layout, scale)
    assert image.shape == (3, 5 * PIXELS + 1, 10 * PIXELS + 2)  # a line under the outputs, two between column blocks
    assert image.min() >= 0.0 and image.max() <= 1.0
    grey = np.full(3, 0.55, dtype=np.float32)
    assert np.allclose(image[:, 0, PIXELS], grey) and np.allclose(image[:, 0, 5 * PIXELS + 1], grey)
    assert np.allclose(image[:, 2 * PIXELS, 0], grey)
    # one scale for the run: a weight twice as large is drawn stronger, not re-normalised to the same picture
    assert not np.allclose(weight_image(2 * W, layout, scale), image)
    assert "2 outputs, then 3 hidden" in layout.legend(scale) and "bias (1) | observation (4) | previous activations (5)" in layout.legend(scale)


def test_tensorboard_gets_the_legend_once_and_the_picture_with_each_evaluation(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlfree.board import Board

    config = small_config(tmp_path, generations=3, eval_freq=1)
    trainer = Trainer(config)
    run_dir = make_run_folder(config)
    RunLoop(trainer, run_dir, [Board(run_dir, GenerationRecord, config.to_dict(), texts=trainer.texts())], config=config).run()
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    assert len(events.Images("walk/W")) == 3
    assert "walk/W_legend/text_summary" in events.Tags()["tensors"]
