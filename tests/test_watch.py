"""The watch command's rough edges: render modes an env lacks, Ctrl-C, SDL's and imageio's noise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from test_own_env import MY_PKG  # the README's own env: its metadata declares no render modes

from rlfree.agent import Agent
from rlfree.checkpoint import save_checkpoint
from rlfree.commands import watch
from rlfree.policy import Policy
from rlfree.recording import FrameRecorder, padded_to_blocks

REPO = Path(__file__).resolve().parent.parent


def run_watch(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = watch.main(argv, prog="watch.py")
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def own_env_agent(tmp_path, monkeypatch) -> Path:
    """A saved agent of the README's my_pkg:MyEnv-v0 (zero weights), with my_pkg importable."""
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text(MY_PKG)
    monkeypatch.syspath_prepend(str(tmp_path))
    if "MyEnv-v0" not in gym.registry:
        import my_pkg  # noqa: F401  registers MyEnv-v0
    env = gym.make("MyEnv-v0")
    policy = Policy.for_spaces("my_pkg:MyEnv-v0", env.observation_space, env.action_space, hidden=1, ticks=1, activation="tanh")
    network = policy.to_json()
    return save_checkpoint(tmp_path / "agent", W=np.zeros(network["W_shape"]), network=network, walk={}, state={})


@pytest.mark.parametrize(
    "flags, line",
    [
        (["--record", "RECORD"], "watch.py: error: --record needs render mode 'rgb_array', and env 'MyEnv-v0' has no render modes; use --no-render"),
        (["--render", "ansi"], "watch.py: error: --render ansi needs render mode 'ansi', and env 'MyEnv-v0' has no render modes; use --no-render"),
    ],
    ids=["record", "ansi"],
)
def test_an_env_without_the_asked_render_mode_is_one_line_naming_its_modes(tmp_path, capsys, own_env_agent, flags, line):
    flags = [str(tmp_path / "run.gif") if flag == "RECORD" else flag for flag in flags]
    code, _, err = run_watch([str(own_env_agent), *flags], capsys)
    assert code == 2 and err.splitlines() == [line]
    assert not (tmp_path / "run.gif").exists()
    code, out, _ = run_watch([str(own_env_agent), "--no-render", "--episodes", "2"], capsys)
    assert code == 0 and "over 2 episodes" in out  # the way the message offers


def test_the_missing_mode_line_offers_the_modes_the_env_has(capsys):
    code, _, err = run_watch(["--env", "CartPole-v1", "--render", "ansi"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "watch.py: error: --render ansi needs render mode 'ansi', and env 'CartPole-v1' has render modes 'human', 'rgb_array'; "
        "use --render human or --record FILE.gif or --no-render"
    ]


def test_ctrl_c_closes_every_env_and_exits_130_with_one_line(tmp_path, capsys, monkeypatch):
    made: list[gym.Env] = []
    closed: list[gym.Env] = []
    make_env = Agent.make_env

    def tracked_make_env(self, render_mode=None):
        env = make_env(self, render_mode)
        made.append(env)
        real_close = env.close
        env.close = lambda: (closed.append(env), real_close())
        return env

    def pressed_ctrl_c(self, env, seed, on_step=None):
        env.reset(seed=seed)
        raise KeyboardInterrupt

    monkeypatch.setattr(Agent, "make_env", tracked_make_env)
    monkeypatch.setattr(Agent, "play", pressed_ctrl_c)
    record = tmp_path / "run.gif"
    code, out, err = run_watch(["--env", "CartPole-v1", "--record", str(record), "--episodes", "3"], capsys)
    assert code == 130 and err == ""
    assert out.strip().splitlines()[-1] == "interrupted"
    assert len(made) == 2 and sorted(map(id, closed)) == sorted(map(id, made))  # the recording env and the plain one
    assert not record.exists()


def test_ctrl_c_in_a_watch_process_exits_130_without_a_traceback(tmp_path):
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "w") as out:
        child = subprocess.Popen(
            [sys.executable, "scripts/watch.py", "--env", "rlfree/CatMouseChase-v0", "--render", "ansi", "--episodes", "1000000"],
            cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's foreground job has it
        )
        try:
            deadline = time.monotonic() + 60
            while "episode    1" not in out_path.read_text() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.1)
            os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    assert child.returncode == 130, err
    assert err == ""
    assert out_path.read_text().rstrip("\n").splitlines()[-1] == "interrupted"


def test_recording_prints_no_sdl_or_imageio_lines_and_leaves_the_environment_alone(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    env = {name: value for name, value in os.environ.items() if name not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "SDL_AUDIODRIVER")}
    done = subprocess.run(
        [sys.executable, "scripts/watch.py", "--env", "CartPole-v1", "--record", str(tmp_path / "run.mp4"), "--episodes", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "XDG_RUNTIME_DIR is invalid or not set", no macro-block warning
    assert "recorded 501 frames" in done.stdout


def test_sdl_settings_last_only_while_episodes_play(monkeypatch):
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("SDL_AUDIODRIVER", "pulse")  # the user's own choice is kept
    before = dict(os.environ)
    with watch.quiet_sdl("none"):
        assert os.environ["SDL_VIDEODRIVER"] == "dummy" and os.environ["SDL_AUDIODRIVER"] == "pulse"
    with watch.quiet_sdl("human"):
        runtime_dir = Path(os.environ["XDG_RUNTIME_DIR"])
        assert runtime_dir.is_dir() and runtime_dir.stat().st_mode & 0o777 == 0o700
        assert "SDL_VIDEODRIVER" not in os.environ  # a window needs the real video driver
    assert dict(os.environ) == before and not runtime_dir.exists()


def test_mp4_frames_are_padded_to_whole_macro_blocks_not_stretched(tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    frame = np.zeros((100, 150, 3), dtype=np.uint8)
    frame[:, :75] = 255  # left half white, right half black
    padded = padded_to_blocks(frame)
    assert padded.shape == (112, 160, 3)
    np.testing.assert_array_equal(padded[:100, :150], frame)
    assert (padded[:, 150:] == 0).all() and (padded[100:, :75] == 255).all()  # the edge pixels, repeated
    assert padded_to_blocks(padded) is padded

    recorder = FrameRecorder(tmp_path / "run.mp4", fps=10)
    for _ in range(3):
        recorder.add(frame)
    recorder.save()
    reader = imageio.get_reader(tmp_path / "run.mp4")
    try:
        first = reader.get_next_data()
    finally:
        reader.close()
    assert first.shape == (112, 160, 3)
    assert first[50, 60].min() > 200 and first[50, 90].max() < 50  # the white/black edge stays at x = 75


def recording_env(**extra: str) -> dict[str, str]:
    """This process's environment without a display or a chosen MuJoCo renderer, plus ``extra``."""
    dropped = ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL", "PYOPENGL_PLATFORM")
    return {**{name: value for name, value in os.environ.items() if name not in dropped}, **extra}


@pytest.mark.slow  # a 1000-frame GIF
def test_a_mujoco_agent_is_recorded_without_a_display(tmp_path):
    """The shipped Swimmer's GIF on a machine with no display: watch draws through EGL by itself."""
    out = tmp_path / "swimmer.gif"
    done = subprocess.run([sys.executable, "-m", "rlfree", "watch", "--env", "Swimmer-v5", "--record", str(out), "--episodes", "1"],
                          cwd=REPO, env=recording_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "recorded 1001 frames" in done.stdout and out.stat().st_size > 10_000


def test_a_renderer_that_cannot_draw_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rlfree", "watch", "--env", "Swimmer-v5", "--record", str(tmp_path / "s.gif"), "--episodes", "1"],
                          cwd=REPO, env=recording_env(MUJOCO_GL="glfw"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("rlfree watch: error: MuJoCo cannot draw frames here with MUJOCO_GL=glfw") and "set MUJOCO_GL=egl" in line
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s.gif").exists()
