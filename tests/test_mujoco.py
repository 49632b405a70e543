"""MuJoCo's envs (the `mujoco` extra, part of `test`): rlfree plays and trains them on the gymnasium backend."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rlfree import mujoco_warnings
from rlfree.commands import train as train_script
from rlfree.vector import MissingDependencyError, check_dependencies


def test_mujoco_envs_can_be_made_with_the_test_extra():
    check_dependencies("Swimmer-v5")  # raises when the extra is missing


def test_a_missing_mujoco_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    # as on a machine without the mujoco extra: gymnasium's mujoco modules fail to import
    monkeypatch.setitem(sys.modules, "mujoco", None)
    for name in [name for name in sys.modules if name.startswith("gymnasium.envs.mujoco")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingDependencyError, match="env 'Swimmer-v5' cannot be made: MuJoCo is not installed"):
        check_dependencies("Swimmer-v5")
    logdir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(["--env", "Swimmer-v5", "--logdir", str(logdir)])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip("\n").split("\n")
    assert len(lines) == 1 and "MuJoCo is not installed" in lines[0]
    assert lines[0].endswith("(with rlfree: pip install 'rlfree[mujoco]')")
    assert not logdir.exists()


def test_swimmer_trains_with_arss_options_and_its_agent_replays(tmp_path, capsys):
    from rlfree.commands import watch as watch_script

    empty = tmp_path / "empty.toml"
    empty.write_text("")
    logdir = tmp_path / "runs"
    argv = ["--config", str(empty), "--env", "Swimmer-v5", "--hidden", "0", "--ticks", "1", "--activation", "identity",
            "--feed-forward", "--normalize-obs", "--action-mapping", "clip", "--population", "4", "--top-directions", "1",
            "--reward-shift", "0.1", "--horizon", "20", "--eval-episodes", "2", "-n", "2", "--target", "1e9", "--logdir", str(logdir)]
    assert train_script.main(argv) == 0
    (run_dir,) = logdir.iterdir()
    latest = run_dir / "checkpoints" / "latest"
    network = json.loads((latest / "network.json").read_text())
    assert network["network"]["feed_forward"] and network["action"]["box_mapping"] == "clip"
    assert network["observation"]["normalization"]["count"] == 2 * 4 * 20  # 2 generations of 4 members, 20 steps each
    W = np.load(latest / "W.npy")
    assert W.shape == (2, 1 + 8 + 2) and not W[:, 9:].any()
    capsys.readouterr()
    assert watch_script.main([str(latest), "--no-render", "--episodes", "1"]) == 0
    assert "mean return" in capsys.readouterr().out


def test_a_mujoco_warning_is_shown_once_however_many_copies_compile_the_model():
    """HalfCheetah-v5's model warns on every compile (MuJoCo 3.3+); a run makes dozens of copies."""
    code = "from rlfree.gym_copies import make_env\nfor _ in range(4):\n    make_env('HalfCheetah-v5').close()\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert not [line for line in lines if line.startswith("WARNING:")]  # MuJoCo's own printing, once per compile
    assert len([line for line in lines if line.startswith("MuJoCo warning (shown once):")]) <= 1


def test_the_warning_handler_drops_repeats(capsys):
    import mujoco

    mujoco_warnings.install()
    assert mujoco.get_mju_user_warning() is mujoco_warnings.show_once
    for _ in range(3):
        mujoco_warnings.show_once("a test warning 1d8f")
    assert capsys.readouterr().err.count("a test warning 1d8f") == 1
