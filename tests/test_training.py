"""End to end: scripts/train.py and the Trainer, run folders, exact resume, user errors, Ctrl-C."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlfree.checkpoint import load_checkpoint
from rlfree.commands import train as train_script
from rlfree.config import Config, ConfigError, load_toml
from rlfree.policy import Policy
from rlfree.run_loop import RunLoop, load_run, make_run_folder
from rlfree.trainer import Trainer

from conftest import DEVICES, wait_for_generations

REPO = Path(__file__).resolve().parent.parent


class _DictObservationEnv(gym.Env):
    observation_space = spaces.Dict({"position": spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)})
    action_space = spaces.Discrete(2)


class _TextActionEnv(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    action_space = spaces.Text(4)


for _id, _cls in {"rlfree_test/DictObservation-v0": _DictObservationEnv, "rlfree_test/TextAction-v0": _TextActionEnv}.items():
    if _id not in gym.registry:
        gym.register(_id, entry_point=_cls, max_episode_steps=10)


def small_run_args(tmp_path: Path, logdir: Path, generations: int, backend: str = "gym") -> list[str]:
    empty = tmp_path / "empty.toml"  # an empty preset: the run does not depend on agents/*.toml
    empty.write_text("")
    return [
        "--config", str(empty), "--env", "CartPole-v1", "--backend", backend, "--population", "8",
        "--episodes", "2", "--eval-episodes", "2", "--target", "1e9", "--save-freq", "2", "--seed", "5",
        "-n", str(generations), "--logdir", str(logdir),
    ]


def only_run_folder(logdir: Path) -> Path:
    runs = list(logdir.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def latest_centre(run_dir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    latest = run_dir / "checkpoints" / "latest"
    with np.load(latest / "walk.npz", allow_pickle=False) as walk:
        centre = walk["centre"]
    state = json.loads((latest / "state.json").read_text())
    return centre, np.load(latest / "W.npy", allow_pickle=False), state


def progress_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- a run, resumed ------------------------------------------------------------------------------
# every optimiser, with a population of 8 (the walk's flags are its own)
ALGO_ARGS = {
    "walk": [],
    "ga": ["--algo", "ga", "--ga-population", "8"],
    "ga_truncation": ["--algo", "ga", "--ga-population", "8", "--ga-parents", "3", "--ga-elites", "2"],
    "cmaes": ["--algo", "cmaes", "--cmaes-population", "8"],
    "cmaes_diagonal": ["--algo", "cmaes", "--cmaes-population", "8", "--cmaes-covariance", "diagonal"],
}


def algo_run_args(tmp_path: Path, logdir: Path, generations: int, algo: str) -> list[str]:
    args = small_run_args(tmp_path, logdir, generations)
    if algo != "walk":
        at = args.index("--population")
        del args[at : at + 2]
    return args + ALGO_ARGS[algo]


@pytest.mark.parametrize("algo", ALGO_ARGS)
def test_resume_continues_bitwise_identical(tmp_path, algo):
    straight = tmp_path / "straight"
    assert train_script.main(algo_run_args(tmp_path, straight, 6, algo)) == 0
    centre_6, W_6, state_6 = latest_centre(only_run_folder(straight))

    split = tmp_path / "split"
    assert train_script.main(algo_run_args(tmp_path, split, 3, algo)) == 0
    run_dir = only_run_folder(split)
    centre_3, _, state_3 = latest_centre(run_dir)
    assert state_3["generation"] == 3
    assert not np.array_equal(centre_3, centre_6)
    assert train_script.main(["--resume", str(run_dir), "-n", "6"]) == 0
    assert only_run_folder(split) == run_dir  # resuming continues the same folder
    centre_resumed, W_resumed, state_resumed = latest_centre(run_dir)

    assert state_resumed["generation"] == state_6["generation"] == 6
    assert centre_resumed.dtype == np.float32
    assert np.array_equal(centre_resumed, centre_6)
    assert np.array_equal(W_resumed, W_6)
    assert state_resumed["env_steps"] == state_6["env_steps"]
    assert state_resumed["sigma"] == state_6["sigma"]
    rows = progress_rows(run_dir)
    assert [int(r["generation"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    straight_rows = progress_rows(only_run_folder(straight))
    assert [r["population_mean"] for r in rows] == [r["population_mean"] for r in straight_rows]
    assert [r["env_steps"] for r in rows] == [r["env_steps"] for r in straight_rows]
    with np.load(run_dir / "checkpoints" / "latest" / "walk.npz", allow_pickle=False) as resumed, \
            np.load(only_run_folder(straight) / "checkpoints" / "latest" / "walk.npz", allow_pickle=False) as uninterrupted:
        assert sorted(resumed.files) == sorted(uninterrupted.files)  # the GA's parents and elites, CMA-ES's C, paths, ...
        for name in resumed.files:
            assert np.array_equal(resumed[name], uninterrupted[name]), name
    assert {k: v for k, v in state_resumed.items() if k != "elapsed"} .keys() == {k: v for k, v in state_6.items() if k != "elapsed"}.keys()


def test_run_folder_holds_config_progress_events_and_checkpoints(tmp_path):
    logdir = tmp_path / "runs"
    assert train_script.main(small_run_args(tmp_path, logdir, 3, backend="torch")) == 0
    run_dir = only_run_folder(logdir)
    assert run_dir.name.startswith("CartPole-v1__rlfree__5__")

    config = load_toml(run_dir / "config.toml")
    assert config["walk"]["population"] == 8 and config["run"]["target"] == 1e9
    assert config["env"]["backend"] == "torch" and config["run"]["generations"] == 3

    rows = progress_rows(run_dir)
    assert [int(r["generation"]) for r in rows] == [1, 2, 3]
    assert all(float(r["eval_mean"]) >= 8 for r in rows)  # eval_freq 1: the centre is evaluated every generation
    env_steps = [int(r["env_steps"]) for r in rows]
    assert env_steps == sorted(env_steps) and env_steps[0] >= (8 * 2 + 2) * 8

    assert list(run_dir.glob("events.out.tfevents.*"))

    for which in ("latest", "best"):
        folder = run_dir / "checkpoints" / which
        W = np.load(folder / "W.npy", allow_pickle=False)
        assert W.shape == (2 + 4, 1 + 4 + 2 + 4)  # (A, 1 + I + A): CartPole I=4, 2 outputs, hidden 4
        network = json.loads((folder / "network.json").read_text())
        assert network["format"] == "rlfree-free-network" and network["W_shape"] == [6, 11]
        with np.load(folder / "walk.npz", allow_pickle=False) as walk:
            assert set(walk.files) == {"centre"}  # the default plain SGD keeps no buffers
            assert np.array_equal(walk["centre"].reshape(6, 11), W)
        checkpoint = load_checkpoint(run_dir, which)
        assert checkpoint.path == folder
        assert np.array_equal(checkpoint.W, W)
        assert checkpoint.state["format"] == "rlfree-checkpoint"
        assert checkpoint.state["config"]["walk"]["population"] == 8
    assert load_checkpoint(run_dir, "latest").state["generation"] == 3
    best = load_checkpoint(run_dir, "best").state
    evals = [float(r["eval_mean"]) for r in rows]
    assert best["best_eval"] == max(evals)
    assert 0 <= best["generation"] <= 3
    assert not list(run_dir.rglob(".*.tmp-*"))  # no temporary checkpoint folders left behind


# -- user errors: one line, exit code 2, nothing written ------------------------------------------
def run_main_expecting_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rlfree train: error: "), err
    return lines[0]


def test_env_whose_package_is_missing_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    # as on a machine without the box2d extra: gymnasium's box2d module fails to import
    monkeypatch.setitem(sys.modules, "Box2D", None)
    for name in [name for name in sys.modules if name.startswith("gymnasium.envs.box2d")]:
        monkeypatch.delitem(sys.modules, name)
    logdir = tmp_path / "runs"
    line = run_main_expecting_error(["--env", "LunarLander-v3", "--logdir", str(logdir)], capsys)
    assert "env 'LunarLander-v3' cannot be made: Box2D is not installed" in line
    assert line.endswith("(with rlfree: pip install 'rlfree[box2d]')")  # the extra, not only gymnasium's advice
    assert not logdir.exists()


def test_unknown_env_id_is_one_line_with_close_matches_and_exit_code_2(tmp_path):
    logdir = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "--env", "CartPole-v2", "--logdir", str(logdir)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("train.py: error: "), result.stderr
    assert "'CartPole-v2'" in lines[0] and "'CartPole-v1'" in lines[0]
    assert "run folder" not in result.stdout
    assert not logdir.exists()


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--env", "rlfree_test/DictObservation-v0"], "observation space Dict"),
        (["--env", "rlfree_test/TextAction-v0"], "action space Text"),
        (["--population", "1"], "population=1 is not accepted"),
        (["--population", "7"], "population=7 is not accepted with mirrored pairs"),
        (["--sigma", "0"], "sigma=0.0 is not accepted: use a value > 0"),
        (["--sigma=-0.1"], "sigma=-0.1 is not accepted"),
        (["--env", "CartPole-v1", "--backend", "tpu"], "backend 'tpu' is not accepted"),
        (["--env", "rlfree_test/TextAction-v0", "--backend", "torch"], "backend 'torch' needs a twin"),
        (["--device", "gpu"], "device 'gpu' is not a torch device; available here:"),
        (["--device", "cuda:99"], "device 'cuda:99' is not available on this machine"),
        (["--obs-encoding", "bins:1"], "use 'bins:K' with a whole K >= 2"),
        (["--activation", "swish"], "activation 'swish' is not accepted"),
    ],
    ids=["dict-observation", "text-action", "population-1", "odd-mirrored", "sigma-0", "sigma-negative", "backend", "no-twin",
         "device-name", "device-missing", "obs-bins", "activation"],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, flags, words):
    logdir = tmp_path / "runs"
    line = run_main_expecting_error(["--logdir", str(logdir), *flags], capsys)
    assert words in line
    assert not logdir.exists()


def test_odd_population_is_accepted_without_mirrored_pairs():
    config = Config()
    config.walk.population, config.walk.mirrored = 7, False
    config.validate()
    config.walk.variant = "seed"
    config.walk.mirrored = True  # the seed's variant never mirrors
    config.validate()


@pytest.mark.parametrize(
    "files, words",
    [
        ({"network.json": "{not json", "W.npy": "garbage"}, "cannot be read"),
        ({"network.json": json.dumps({"format": "keras"}), "W.npy": None}, "is not an rlfree network config"),
        ({"network.json": "VALID", "W.npy": "PICKLE"}, "Object arrays cannot be loaded when allow_pickle=False"),
        ({"notes.txt": "hello"}, "is not an rlfree run or checkpoint"),
    ],
    ids=["garbage", "foreign", "pickled-W", "empty"],
)
def test_unreadable_or_foreign_checkpoint_for_resume_is_one_line(tmp_path, capsys, files, words):
    folder = tmp_path / "not-a-run" / "checkpoints" / "latest"
    folder.mkdir(parents=True)
    for name, text in files.items():
        if text is None:
            np.save(folder / name, np.zeros((2, 3)))
        elif text == "PICKLE":  # a W.npy that would run code when unpickled is refused, not loaded
            np.save(folder / name, np.array([{"payload": 1}], dtype=object), allow_pickle=True)
        elif text == "VALID":
            env = gym.make("CartPole-v1")
            policy = Policy.for_spaces("CartPole-v1", env.observation_space, env.action_space, hidden=1, ticks=1, activation="tanh")
            (folder / name).write_text(json.dumps(policy.to_json()))
        else:
            (folder / name).write_text(text)
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    line = run_main_expecting_error(["--resume", str(folder)], capsys)
    assert words in line and str(folder) in line
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before


def test_missing_checkpoint_for_resume_is_one_line(tmp_path, capsys):
    line = run_main_expecting_error(["--resume", str(tmp_path / "nowhere")], capsys)
    assert "does not exist" in line


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--hidden", "7"], "cannot be resumed with this config: walk state 'centre' has shape"),
        (["--env-kwargs", "sutton_barto_reward=true"], "--env-kwargs is not accepted with --resume"),
        (["--algo", "cmaes"], "--algo cmaes is not accepted with --resume: the run was made with algo walk; leave --algo out"),
    ],
    ids=["other-network", "other-env-kwargs", "other-algo"],
)
def test_resume_with_settings_that_change_the_run_is_one_line(tmp_path, capsys, flags, words):
    train_script.main(small_run_args(tmp_path, tmp_path / "runs", 2))
    run_dir = only_run_folder(tmp_path / "runs")
    before = sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file())
    capsys.readouterr()
    line = run_main_expecting_error(["--resume", str(run_dir), "-n", "4", *flags], capsys)
    assert words in line
    assert sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*") if p.is_file()) == before


def test_resume_refuses_a_folder_that_is_not_a_run_folder(tmp_path, capsys):
    """A checkpoint folder outside RUN/checkpoints/ has no run to continue: nothing is written anywhere."""
    train_script.main(small_run_args(tmp_path, tmp_path / "runs", 2))
    loose = tmp_path / "loose"
    (only_run_folder(tmp_path / "runs") / "checkpoints" / "latest").rename(loose)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    line = run_main_expecting_error(["--resume", str(loose)], capsys)
    assert line.endswith(f"{str(loose)!r} is not an rlfree run folder: expected checkpoints/latest in it")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_unwritable_run_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = run_main_expecting_error(small_run_args(tmp_path, blocker / "runs", 2, backend="torch"), capsys)
    assert "cannot be written" in line and "--logdir" in line
    assert blocker.read_text() == "not a folder"


def test_horizon_cuts_the_walks_episodes_but_not_the_target_check(tmp_path):
    config = small_config(tmp_path)
    config.run.horizon = 5
    config.run.target = 4.0  # any CartPole centre lasts 5 steps, so the first evaluation calls a check
    loop = RunLoop(Trainer(config), make_run_folder(config), config=config)
    try:
        record = loop.step()
    finally:
        loop.algorithm.close()
    assert record.population_max <= 5 and record.eval_mean == 5.0
    assert loop.state.solved and record.check_mean > 5.0  # whole episodes of gymnasium's CartPole-v1


def test_negative_horizon_is_rejected(tmp_path):
    config = small_config(tmp_path)
    config.run.horizon = -1
    with pytest.raises(ConfigError, match="horizon=-1 is not accepted"):
        config.validate()


# -- Ctrl-C ---------------------------------------------------------------------------------------
def small_config(tmp_path: Path) -> Config:
    config = Config()
    config.env.backend = "torch"
    config.walk.population = 8
    config.run.generations = 50
    config.run.eval_episodes = 2
    config.run.target = 1e9
    config.run.save_freq = 10
    config.run.seed = 3
    config.run.logdir = str(tmp_path / "runs")
    return config


class InterruptAt:
    """An observer that presses Ctrl-C after generation ``at`` is done."""

    def __init__(self, at: int):
        self.at = at
        self.closed = False
        self.centres = {}
        self.trainer = None

    def on_generation(self, record):
        self.centres[record.generation] = self.trainer.optimiser.centre.clone()
        if record.generation == self.at:
            raise KeyboardInterrupt

    def close(self):
        self.closed = True


def test_ctrl_c_saves_latest_and_reports_interrupted(tmp_path):
    config = small_config(tmp_path)
    observer = InterruptAt(2)
    trainer = Trainer(config)
    observer.trainer = trainer
    result = RunLoop(trainer, make_run_folder(config), [observer], config=config).run()
    assert result.interrupted and not result.state.solved
    assert result.state.generation == 2
    assert observer.closed
    checkpoint = load_checkpoint(result.run_dir, "latest")
    assert checkpoint.state["generation"] == 2
    assert np.array_equal(checkpoint.walk["centre"], observer.centres[2].numpy())


def test_ctrl_c_in_the_middle_of_a_generation_keeps_the_last_finished_one(tmp_path):
    config = small_config(tmp_path)
    observer = InterruptAt(at=10**6)
    trainer = Trainer(config)
    observer.trainer = trainer
    loop = RunLoop(trainer, make_run_folder(config), [observer], config=config)
    loop.step()
    loop.step()

    tell = trainer.optimiser.tell

    def tell_then_ctrl_c(returns):
        tell(returns)
        raise KeyboardInterrupt  # Ctrl-C after the walk moved, before generation 3 was finished

    trainer.optimiser.tell = tell_then_ctrl_c
    result = loop.run()
    assert result.interrupted
    assert trainer.optimiser.generation == 3  # the walk had moved on ...
    checkpoint = load_checkpoint(result.run_dir, "latest")
    assert checkpoint.state["generation"] == 2  # ... but the checkpoint holds the last finished generation
    assert np.array_equal(checkpoint.walk["centre"], observer.centres[2].numpy())
    run_dir, state, parts = load_run(result.run_dir)
    assert run_dir == result.run_dir and state.generation == 2
    resumed = Trainer(config)
    resumed.restore(parts)
    assert resumed.optimiser.generation == 2
    assert torch.equal(resumed.optimiser.centre, observer.centres[2])
    resumed.close()


@pytest.mark.parametrize("backend_flags", [[], ["--backend", "gym", "--vectorization", "async", "--population", "4", "--eval-episodes", "2"]], ids=["twin", "gym-async"])
def test_real_ctrl_c_writes_latest_and_exits_130_without_traceback(tmp_path, backend_flags):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it (async workers included)."""
    import os
    import signal

    logdir = tmp_path / "runs"
    command = [sys.executable, str(REPO / "scripts" / "train.py"), "--env", "Acrobot-v1", "-n", "100000",
               "--target", "1e9", "--config", str(EMPTY_PRESET_FOR_SIGINT(tmp_path)), "--logdir", str(logdir), *backend_flags]
    # A shell's background job (as CI may be) inherits an ignored SIGINT; a terminal's child does not.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=REPO,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        progress = wait_for_generations(logdir, 2)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # never leave a training (and its workers) running
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out
    assert "interrupted: checkpoint saved" in out
    state = json.loads((progress.parent / "checkpoints" / "latest" / "state.json").read_text())
    assert state["generation"] >= 2


def EMPTY_PRESET_FOR_SIGINT(tmp_path):
    preset = tmp_path / "empty.toml"
    preset.write_text("")
    return preset


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_default_command_solves_cartpole_on_gymnasiums_own_env(tmp_path, device):
    """`scripts/train.py --env CartPole-v1` (with `--device cuda` on a GPU) stops by itself, and
    `scripts/watch.py` on a machine without a GPU (CUDA hidden) scores the saved agent >= 475 on
    100 held-out gymnasium episodes: a checkpoint holds no device, whatever trained it."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train.py"), "--env", "CartPole-v1", *(["--device", device] if device != "cpu" else []),
         "--logdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"backend torch, device {device})" in result.stdout
    assert "solved: centre's mean" in result.stdout
    run_dir = next(tmp_path.glob("CartPole-v1__*"))
    watched = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "watch.py"), str(run_dir), "--no-render", "--episodes", "100", "--seed", "1500000000"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert watched.returncode == 0, watched.stderr
    mean = float(watched.stdout.split("mean return ")[1].split()[0])
    assert mean >= 475.0, watched.stdout
