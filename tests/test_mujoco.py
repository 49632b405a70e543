"""MuJoCo's envs (the `mujoco` extra, part of `test`): rlfree plays and trains them on the gymnasium backend."""

import sys

import pytest

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
    assert not logdir.exists()
