"""Episodes that never end: an env without a time limit is cut at a default horizon, said at the
start of the run, in training, target checks and watch alike; a long generation says how far it is."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rlfree.agent import load_agent
from rlfree.commands import train, watch
from rlfree.config import DEFAULT_HORIZON
from rlfree.evaluate import StepProgress, evaluate
from rlfree.policy import Policy
from rlfree.progress import Console
from rlfree.trainer import TARGET_CHECK_EPISODES, GenerationRecord
from rlfree.vector import GymVectorEnv

ENDLESS_ID = "rlfree_test/Endless-v0"
GUARD = 3 * DEFAULT_HORIZON  # a test's guard: before the default horizon such an episode ran 1,000,000 steps


class EndlessEnv(gym.Env):
    """Never terminates, never truncates: reward 1 a step. Raises past GUARD steps, so that an
    uncut episode fails fast instead of running for minutes."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.steps += 1
        if self.steps > GUARD:
            raise RuntimeError(f"stepped {self.steps} times: the episode was not cut")
        return np.zeros(1, dtype=np.float32), 1.0, False, False, {}


if ENDLESS_ID not in gym.registry:
    gym.register(ENDLESS_ID, entry_point=EndlessEnv)  # no max_episode_steps: no time limit


def run_endless(tmp_path: Path, *flags: str) -> tuple[Path, list[dict]]:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    logdir = tmp_path / "runs"
    code = train.main(["--env", ENDLESS_ID, "-n", "1", "--population", "4", "--eval-episodes", "2", "--target", "1",
                       "--hidden", "0", "--config", str(empty), "--logdir", str(logdir), *flags])
    assert code == 0
    (run_dir,) = logdir.iterdir()
    with open(run_dir / "progress.csv", newline="") as f:
        return run_dir, list(csv.DictReader(f))


def test_env_without_time_limit_is_cut_at_the_default_horizon_and_says_so(tmp_path, capsys):
    assert gym.spec(ENDLESS_ID).max_episode_steps is None
    run_dir, rows = run_endless(tmp_path)
    out = capsys.readouterr().out
    notice = f"env {ENDLESS_ID} has no time limit: episodes are cut at {DEFAULT_HORIZON} steps (--horizon)"
    assert out.count(notice) == 1
    assert out.index("run folder:") < out.index(notice) < out.index(GenerationRecord.HEADER)
    (row,) = rows
    assert float(row["episode_length_mean"]) == DEFAULT_HORIZON
    assert float(row["eval_mean"]) == DEFAULT_HORIZON
    # the target check (gymnasium's own env, 100 episodes) is cut where the walk's episodes are
    assert float(row["check_mean"]) == DEFAULT_HORIZON
    walk_steps = (4 + 2) * DEFAULT_HORIZON
    assert int(row["env_steps"]) == walk_steps + TARGET_CHECK_EPISODES * DEFAULT_HORIZON
    assert "solved" in out


def test_explicit_horizon_overrides_the_default_for_env_without_time_limit(tmp_path, capsys):
    run_dir, rows = run_endless(tmp_path, "--horizon", "50")
    out = capsys.readouterr().out
    assert "has no time limit" not in out
    (row,) = rows
    assert float(row["episode_length_mean"]) == 50 and float(row["eval_mean"]) == 50
    assert float(row["check_mean"]) == 50  # no time limit of its own: the check is cut at the run's horizon
    assert int(row["env_steps"]) == (4 + 2 + TARGET_CHECK_EPISODES) * 50


def test_horizon_does_not_cut_target_checks_of_env_with_time_limit(tmp_path, capsys):
    """CartPole-v1 has a time limit of 500: --horizon cuts the walk, the check plays whole episodes."""
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert train.main(["--env", "CartPole-v1", "-n", "1", "--population", "4", "--eval-episodes", "2", "--horizon", "3",
                       "--target", "1", "--config", str(empty), "--logdir", str(tmp_path / "runs")]) == 0
    assert "has no time limit" not in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    state = json.loads((run_dir / "checkpoints" / "latest" / "state.json").read_text())
    assert state["check_mean"] > 3  # an episode the check cut at 3 steps would score at most 3


def test_watch_and_score_of_an_agent_of_env_without_time_limit_stop_at_the_default_horizon(tmp_path, capsys):
    run_dir, _ = run_endless(tmp_path, "--horizon", "50")
    agent = load_agent(run_dir)
    assert agent.score([1, 2]).tolist() == [DEFAULT_HORIZON, DEFAULT_HORIZON]
    env = agent.make_env()
    try:
        assert agent.play(env, seed=3) == (float(DEFAULT_HORIZON), DEFAULT_HORIZON)
    finally:
        env.close()
    capsys.readouterr()
    assert watch.main([str(run_dir), "--no-render", "--episodes", "2"]) == 0
    assert f"mean return {DEFAULT_HORIZON:.2f} ± 0.00 over 2 episodes" in capsys.readouterr().out


# -- progress within a generation ----------------------------------------------------------------
def endless_policy() -> Policy:
    return Policy.for_spaces(ENDLESS_ID, EndlessEnv.observation_space, EndlessEnv.action_space, hidden=0, ticks=1, activation="tanh")


def test_evaluation_reports_its_progress_about_once_a_second(monkeypatch):
    """A clock that moves 1/8 s at every look: the loop looks every CLOCK_EVERY = 16 steps and
    reports every REPORT_EVERY = 1 s, counting the copies still running."""
    looks = iter(np.arange(0.0, 1000.0, 0.125))
    monkeypatch.setattr("rlfree.evaluate.time.perf_counter", lambda: float(next(looks)))
    env = GymVectorEnv(ENDLESS_ID, 3)
    try:
        reports: list[StepProgress] = []
        rollout = evaluate(endless_policy(), torch.zeros(3, endless_policy().spec.n_params), env, torch.tensor([1]),
                           max_steps=400, on_progress=reports.append)
    finally:
        env.close()
    assert rollout.lengths.reshape(-1).tolist() == [400, 400, 400]
    # look 0 starts the clock; look k, at step 16 k, reads k / 8 s: a report at looks 8 and 16, ...
    assert [(r.steps, r.max_steps, r.running, r.copies, r.seconds) for r in reports[:2]] == [(128, 400, 3, 3, 1.0), (256, 400, 3, 3, 2.0)]
    assert len(reports) == 3  # and at look 24 (step 384); the loop ends at step 400


def test_evaluation_without_a_listener_never_reads_the_clock_in_its_loop(monkeypatch):
    reads = []
    monkeypatch.setattr("rlfree.evaluate.time.perf_counter", lambda: reads.append(1) or 0.0)
    env = GymVectorEnv(ENDLESS_ID, 2)
    try:
        evaluate(endless_policy(), torch.zeros(2, endless_policy().spec.n_params), env, torch.tensor([1]), max_steps=100)
    finally:
        env.close()
    assert len(reads) <= 1  # the start, at most


def progress(steps: int, running: int) -> StepProgress:
    return StepProgress(steps=steps, max_steps=1000, running=running, copies=130, seconds=0.0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_says_how_far_a_long_generation_is_after_a_few_seconds(monkeypatch):
    """Not at a terminal, even without --progress: a plain line on stderr, at most every LOG_EVERY seconds."""
    clock = iter([0.0, 1.0, 6.0, 9.0, 17.0])
    monkeypatch.setattr("rlfree.progress.time.perf_counter", lambda: next(clock))
    out, status = io.StringIO(), io.StringIO()
    console = Console(GenerationRecord, 10, status=False, stream=out, status_stream=status)
    console.on_progress(progress(100, 130))  # t = 1 s: too early to say anything
    console.on_progress(progress(600, 12))  # t = 6 s
    console.on_progress(progress(900, 5))  # t = 9 s: within LOG_EVERY of the last line
    console.on_progress(progress(1000, 1))  # t = 17 s
    assert status.getvalue().splitlines() == [
        "this generation has run 6s: step 600 of at most 1,000, 12 of 130 episodes still running",
        "this generation has run 17s: step 1,000 of at most 1,000, 1 of 130 episodes still running",
    ]
    assert out.getvalue().splitlines() == [GenerationRecord.HEADER]


def test_console_at_a_terminal_redraws_its_status_line_with_the_progress(monkeypatch):
    clock = iter([0.0, 7.0, 8.0])
    monkeypatch.setattr("rlfree.progress.time.perf_counter", lambda: next(clock))
    status = Terminal()
    console = Console(GenerationRecord, 10, status=True, stream=io.StringIO(), status_stream=status)
    console.on_progress(progress(700, 40))
    console.on_progress(progress(800, 30))
    assert status.getvalue() == (
        "\r\033[Kthis generation has run 7s: step 700 of at most 1,000, 40 of 130 episodes still running"
        "\r\033[Kthis generation has run 8s: step 800 of at most 1,000, 30 of 130 episodes still running"
    )


def test_a_long_generation_of_a_run_reports_its_progress(tmp_path, capsys, monkeypatch):
    """The trainer hands the console what the step loop reports (here with no waiting at all)."""
    monkeypatch.setattr("rlfree.progress.PROGRESS_AFTER", 0.0)
    monkeypatch.setattr("rlfree.evaluate.REPORT_EVERY", 0.0)
    run_endless(tmp_path)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("this generation has run")]
    assert lines and lines[0].endswith(f"step 16 of at most {DEFAULT_HORIZON:,}, 6 of 6 episodes still running")
