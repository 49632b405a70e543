"""Hardening: a shared checkpoint runs no code, every bad input is one line, faults lose nothing.

The rule these pin: bad input gets one line naming the value and what is accepted, exit 2,
nothing written and nothing lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rlfree.agent import load_agent
from rlfree.backend import ImportNotAllowed
from rlfree.checkpoint import save_checkpoint
from rlfree.commands import bench, train, watch, zoo
from rlfree.config import Config
from rlfree.run_loop import RunFolderError, make_run_folder

from conftest import wait_for_generations

REPO = Path(__file__).resolve().parent.parent


def one_line_error(run, capsys) -> str:
    """Run a command's main, expect exit 2, return its single stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        run()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.out
    return lines[0]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    """A real two-generation CartPole-v1 run on its twin, made once; tests take copies."""
    root = tmp_path_factory.mktemp("made")
    empty = root / "empty.toml"
    empty.write_text("")
    code = train.main(["--env", "CartPole-v1", "-n", "2", "--population", "4", "--eval-episodes", "2", "--save-freq", "1",
                       "--config", str(empty), "--logdir", str(root / "runs")])
    assert code == 0
    (run_dir,) = (root / "runs").iterdir()
    assert (run_dir / "checkpoints" / "best" / "W.npy").is_file()
    return run_dir


@pytest.fixture
def run_copy(made_run, tmp_path, capsys) -> Path:
    copy = tmp_path / "runs" / made_run.name
    shutil.copytree(made_run, copy)
    capsys.readouterr()
    return copy


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def checkpoints(run_dir: Path) -> list[Path]:
    return [run_dir / "checkpoints" / which for which in ("latest", "best")]


# -- a checkpoint runs no code -------------------------------------------------------------------
PLANTED = """
from pathlib import Path
Path({mark!r}).write_text("imported")
"""


def test_saved_env_id_imports_no_package_in_watch_resume_or_load_agent(run_copy, tmp_path, monkeypatch, capsys):
    module = "rlfree_planted_probe"
    mark = tmp_path / "imported.txt"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / f"{module}.py").write_text(PLANTED.format(mark=str(mark)))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, module, raising=False)
    env_id = f"{module}:CartPole-v1"
    for folder in checkpoints(run_copy):
        edit_json(folder / "network.json", lambda d: d.update(env_id=env_id))
        edit_json(folder / "state.json", lambda d: d["config"]["env"].update(env=env_id))
    before = files_of(run_copy)

    line = one_line_error(lambda: watch.main([str(run_copy), "--no-render", "--episodes", "1"]), capsys)
    assert f"needs package {module!r}" in line and f"--import {module}" in line and "network.json" in line
    line = one_line_error(lambda: train.main(["--resume", str(run_copy), "-n", "3"]), capsys)
    assert f"needs package {module!r}" in line and f"--import {module}" in line and "state.json" in line
    with pytest.raises(ImportNotAllowed, match=module):
        load_agent(run_copy)
    assert not mark.exists() and module not in sys.modules
    assert files_of(run_copy) == before  # nothing written, nothing lost

    # named by the user, it is imported (and then it registers nothing, so CartPole-v1 plays)
    agent = load_agent(run_copy, allow_import=[module])
    assert mark.read_text() == "imported" and agent.env_id == "CartPole-v1"


def test_watch_of_a_run_naming_this_prints_no_zen(run_copy):
    edit_json(run_copy / "checkpoints" / "best" / "network.json", lambda d: d.update(env_id="this:CartPole-v1"))
    done = subprocess.run([sys.executable, "-m", "rlfree", "watch", str(run_copy), "--no-render", "--episodes", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Zen of Python" not in done.stdout + done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "--import this" in done.stderr


def test_watch_refuses_env_beside_a_path(run_copy, capsys):
    line = one_line_error(lambda: watch.main([str(run_copy), "--env", "CartPole-v1", "--no-render"]), capsys)
    assert "--env CartPole-v1" in line and "--import" in line


@pytest.mark.parametrize("env_id", [".:CartPole-v1", "..os:CartPole-v1", "../x:Foo-v0", ":CartPole-v1"])
def test_relative_or_path_package_in_env_id_is_one_line(env_id, tmp_path, capsys):
    line = one_line_error(lambda: train.main(["--env", env_id, "--logdir", str(tmp_path / "runs")]), capsys)
    assert repr(env_id.partition(":")[0]) in line and "is not a package name" in line
    assert not (tmp_path / "runs").exists()


# -- the run folder stays inside --logdir --------------------------------------------------------
def test_exp_name_that_is_a_path_is_refused_from_flag_and_preset(tmp_path, capsys):
    logdir = tmp_path / "a" / "runs"
    line = one_line_error(lambda: train.main(["--env", "CartPole-v1", "--exp-name", "a/../../x", "--logdir", str(logdir)]), capsys)
    assert "exp_name 'a/../../x' is not accepted" in line and "plain name" in line
    preset = tmp_path / "preset.toml"
    preset.write_text('[run]\nexp_name = ".."\n')
    line = one_line_error(lambda: train.main(["--config", str(preset), "--logdir", str(logdir)]), capsys)
    assert "exp_name '..' is not accepted" in line
    assert list(tmp_path.rglob("*")) == [preset]


def test_make_run_folder_never_leaves_logdir(tmp_path):
    config = Config()
    config.run.logdir = str(tmp_path / "runs")
    config.run.exp_name = "../../escaped"  # past validate, as a library caller could set it
    with pytest.raises(RunFolderError, match="inside --logdir"):
        make_run_folder(config)
    assert list(tmp_path.rglob("*")) == []


# -- options that would do nothing ---------------------------------------------------------------
def test_resume_refuses_another_logdir_or_exp_name(run_copy, tmp_path, capsys):
    before = files_of(run_copy)
    line = one_line_error(lambda: train.main(["--resume", str(run_copy), "--logdir", str(tmp_path / "other")]), capsys)
    assert "--logdir" in line and "its own folder" in line
    line = one_line_error(lambda: train.main(["--resume", str(run_copy), "--exp-name", "other"]), capsys)
    assert "--exp-name other" in line and "its own folder" in line
    assert files_of(run_copy) == before and not (tmp_path / "other").exists()
    # the run's own logdir is what it does anyway: accepted
    assert train.main(["--resume", str(run_copy), "--logdir", str(run_copy.parent), "-n", "3"]) == 0
    assert json.loads((run_copy / "checkpoints" / "latest" / "state.json").read_text())["generation"] == 3


def test_resume_refuses_another_env_and_accepts_its_own(run_copy, capsys):
    before = files_of(run_copy)
    line = one_line_error(lambda: train.main(["--resume", str(run_copy), "--env", "Acrobot-v1", "-n", "3"]), capsys)
    assert line == "rlfree train: error: --env Acrobot-v1 is not accepted with --resume: the run was made with env CartPole-v1; leave --env out"
    assert files_of(run_copy) == before
    assert train.main(["--resume", str(run_copy), "--env", "CartPole-v1", "-n", "3"]) == 0
    state = json.loads((run_copy / "checkpoints" / "latest" / "state.json").read_text())
    assert state["generation"] == 3 and state["env_id"] == "CartPole-v1"


def test_async_vectorization_on_a_twin_is_refused(tmp_path, capsys):
    line = one_line_error(lambda: train.main(["--env", "CartPole-v1", "--vectorization", "async", "--logdir", str(tmp_path / "runs")]), capsys)
    assert "vectorization 'async'" in line and "twin" in line and "--backend gym" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("flags", [["--backend", "gym"], ["--backend", "gym", "--vectorization", "sync"], []], ids=["gym", "gym-sync", "twin"])
def test_workers_without_async_vectorization_are_refused(tmp_path, flags, capsys):
    line = one_line_error(lambda: train.main(["--env", "CartPole-v1", "--workers", "3", *flags, "--logdir", str(tmp_path / "runs")]), capsys)
    assert "workers=3 is not accepted with vectorization 'sync'" in line and "--vectorization async" in line
    assert not (tmp_path / "runs").exists()


# -- argparse's refusals -------------------------------------------------------------------------
@pytest.mark.parametrize("command, argv", [
    (train, ["--generations", "abc"]), (watch, ["--episodes", "abc"]), (zoo, ["--seeds", "abc"]), (bench, ["--seeds", "abc"]),
], ids=["train", "watch", "zoo", "bench"])
def test_argparse_error_is_one_line_with_a_pointer_to_help(command, argv, capsys):
    name = command.__name__.rsplit(".", 1)[-1]
    line = one_line_error(lambda: command.main(argv, prog=f"rlfree {name}"), capsys)
    assert line.startswith(f"rlfree {name}: error: argument ") and "invalid int value: 'abc'" in line
    assert line.endswith(f"(see rlfree {name} --help)")


# -- damaged checkpoints -------------------------------------------------------------------------
def zero_bytes(folder: Path) -> None:
    (folder / "W.npy").write_bytes(b"")


def random_bytes(folder: Path) -> None:
    (folder / "W.npy").write_bytes(np.random.default_rng(0).bytes(256))


def no_network_key(folder: Path) -> None:
    edit_json(folder / "network.json", lambda d: d.pop("network"))


def random_walk(folder: Path) -> None:
    (folder / "walk.npz").write_bytes(np.random.default_rng(1).bytes(256))


def w_shape(value):
    def harm(folder: Path) -> None:
        edit_json(folder / "network.json", lambda d: d.update(W_shape=value) if value != "missing" else d.pop("W_shape"))
    return harm


DAMAGE = {
    "W_shape-number": (w_shape(5), "network.json' has W_shape 5; expected a list of two whole numbers [A, K]"),
    "W_shape-null": (w_shape(None), "network.json' has W_shape null; expected a list of two whole numbers [A, K]"),
    "W_shape-missing": (w_shape("missing"), "network.json' has no W_shape; expected a list of two whole numbers [A, K]"),
    "W_shape-strings": (w_shape(["6", "11"]), 'network.json\' has W_shape ["6", "11"]; expected a list of two whole numbers [A, K]'),
    "W_shape-three": (w_shape([6, 11, 1]), "network.json' has W_shape [6, 11, 1]; expected a list of two whole numbers [A, K]"),
    "empty-W": (zero_bytes, "W.npy' is empty (0 bytes); expected a numpy .npy array"),
    "random-W": (random_bytes, "W.npy' is not a numpy .npy array"),
    "no-network-key": (no_network_key, "network.json' has no 'network' table"),
    "random-walk": (random_walk, "walk.npz' is not a numpy .npz archive"),
}


@pytest.mark.parametrize("command", ["watch", "resume"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_is_one_line(run_copy, damage, command, capsys):
    harm, expected = DAMAGE[damage]
    for folder in checkpoints(run_copy):
        harm(folder)
    before = files_of(run_copy)
    if command == "watch":
        line = one_line_error(lambda: watch.main([str(run_copy), "--no-render", "--episodes", "1"]), capsys)
    else:
        line = one_line_error(lambda: train.main(["--resume", str(run_copy), "-n", "3"]), capsys)
    assert expected in line
    assert "pickled" not in line
    assert files_of(run_copy) == before


@pytest.mark.parametrize("where, value, expected", [
    ("sigma", None, "sigma = null is not accepted; expected a number"),
    ("sigma", "0.3", "sigma = '0.3' is not accepted; expected a number"),
    ("seed", 1.5, "walk state seed = 1.5 is not accepted; expected a whole number"),
    ("seed", 2.0, "walk state seed = 2.0 is not accepted; expected a whole number"),
    ("generation", 2.5, "generation = 2.5 is not accepted; expected int"),
    ("population", "8", 'walk.population = "8" is a string; expected a whole number'),
    ("config-sigma", None, "walk.sigma = null is null; expected a number"),
])
def test_mistyped_state_json_is_one_line_on_resume(run_copy, where, value, expected, capsys):
    def change(state):
        if where in ("sigma", "seed", "generation"):
            state[where] = value
        else:
            state["config"]["walk"][where.removeprefix("config-")] = value

    edit_json(run_copy / "checkpoints" / "latest" / "state.json", change)
    before = files_of(run_copy)
    line = one_line_error(lambda: train.main(["--resume", str(run_copy), "-n", "3"]), capsys)
    assert expected in line and str(run_copy / "checkpoints" / "latest") in line
    assert files_of(run_copy) == before


# -- checkpoint folders --------------------------------------------------------------------------
CHECKPOINT = dict(W=np.zeros((2, 3)), network={"format": "rlfree-free-network"}, walk={"centre": np.zeros(6)}, state={"generation": 1})


def test_checkpoint_folder_has_the_run_folders_mode(tmp_path):
    old = os.umask(0o022)
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        folder = save_checkpoint(run_dir / "checkpoints" / "latest", **CHECKPOINT)
    finally:
        os.umask(old)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o755
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_save_removes_the_temporary_folders_an_interrupted_save_left(tmp_path):
    checkpoints_dir = tmp_path / "checkpoints"
    left = [checkpoints_dir / ".latest.tmp-k1ll3d", checkpoints_dir / ".latest.tmp-abc"]
    others = [checkpoints_dir / ".best.tmp-k1ll3d", checkpoints_dir / "latest-notes"]
    for folder in left + others:
        folder.mkdir(parents=True)
        (folder / "W.npy").write_bytes(b"half")
    save_checkpoint(checkpoints_dir / "latest", **CHECKPOINT)
    assert not any(folder.exists() for folder in left)
    assert all(folder.exists() for folder in others)  # another checkpoint's, or not a temporary folder
    assert sorted(p.name for p in checkpoints_dir.iterdir()) == [".best.tmp-k1ll3d", "latest", "latest-notes"]


# -- faults --------------------------------------------------------------------------------------
def test_run_folders_of_the_same_second_are_made_atomically(tmp_path, monkeypatch):
    """Two runs of one env, seed and second: the one whose exists() check came before the other's
    mkdir takes the next suffix instead of failing with 'File exists'."""
    import rlfree.run_loop as run_loop

    monkeypatch.setattr(run_loop.time, "time", lambda: 1_700_000_000.0)
    config = Config()
    config.run.logdir = str(tmp_path)
    taken = tmp_path / "CartPole-v1__rlfree__0__1700000000"
    taken.mkdir()  # made by the other run just after this one looked
    monkeypatch.setattr(Path, "exists", lambda self: False if self == taken else os.path.exists(self))
    assert make_run_folder(config).name == taken.name + "-1"

    monkeypatch.undo()
    monkeypatch.setattr(run_loop.time, "time", lambda: 1_700_000_001.0)
    barrier = threading.Barrier(8)
    made, errors = [], []

    def start():
        barrier.wait()
        try:
            made.append(make_run_folder(config).name)
        except Exception as err:  # noqa: BLE001 - collected, asserted below
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(made) == sorted(["CartPole-v1__rlfree__0__1700000001"] + [f"CartPole-v1__rlfree__0__1700000001-{i}" for i in range(1, 8)])


def test_async_workers_outlive_a_sigterm_and_are_still_closed_at_once():
    """A worker ignores SIGTERM as it ignores Ctrl-C, so a SIGTERM to the whole group leaves the
    trainer workers to save with and close; close(terminate=True) still stops them at once."""
    from rlfree.gym_copies import WorkerVectorEnv

    env = WorkerVectorEnv("CartPole-v1", 4, workers=2)
    try:
        env.reset(seed=[1, 2, 3, 4])
        for process in env._processes:
            os.kill(process.pid, signal.SIGTERM)
            os.kill(process.pid, signal.SIGINT)
        time.sleep(0.5)
        assert all(process.is_alive() for process in env._processes)
        obs, reward, terminated, truncated, _ = env.step(np.zeros(4, dtype=np.int64))
        assert reward.tolist() == [1.0] * 4
        processes = list(env._processes)
    finally:
        started = time.perf_counter()
        env.close(terminate=True)
    assert time.perf_counter() - started < 2.0 and not any(process.is_alive() for process in processes)


@pytest.mark.parametrize("backend_flags, group", [
    ([], False),
    (["--backend", "gym", "--vectorization", "async", "--workers", "2", "--population", "4", "--eval-episodes", "2"], True),
    # no evaluation rows: every generation steps the workers made in Trainer(), before the run loop began
    (["--backend", "gym", "--vectorization", "async", "--workers", "2", "--population", "4", "--eval-freq", "1000"], True),
], ids=["twin-process", "gym-async-group", "gym-async-group-workers-made-before-the-loop"])
def test_sigterm_writes_latest_and_exits_143_without_traceback(tmp_path, backend_flags, group):
    """SIGTERM as timeout and docker stop send it (the process only) and as a cluster's scheduler
    does (the whole group, async workers included)."""
    logdir = tmp_path / "runs"
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    command = [sys.executable, "-m", "rlfree", "train", "--env", "Acrobot-v1", "-n", "100000", "--target", "1e9",
               "--save-freq", "1000", "--config", str(empty), "--logdir", str(logdir), *backend_flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        progress = wait_for_generations(logdir, 2)
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            os.kill(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        time.sleep(0.5)
        with pytest.raises(ProcessLookupError):  # no worker left behind in the group
            os.killpg(process.pid, 0)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == 143, err
    assert "Traceback" not in err + out
    assert "terminated (SIGTERM): checkpoint saved; continue with: rlfree train --resume" in out
    state = json.loads((progress.parent / "checkpoints" / "latest" / "state.json").read_text())
    assert state["generation"] >= 2  # --save-freq 1000: only the SIGTERM wrote it
