"""rlfree tune: the search space, a CartPole study whose preset solves CartPole, shared and resumed studies, bad input."""

import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from rlfree.commands import tune as tune_command
from rlfree.commands import train as train_command
from rlfree.config import Config, load_toml
from rlfree.run_loop import Terminated
from rlfree.search_space import DEFAULT_SPACE, Choice, Fixed, Range, SearchSpace, owner

REPO = Path(__file__).resolve().parents[1]
# A walk-only space around the CartPole preset: trials of a fraction of a second, for the tests of the study's mechanics.
SMALL_SPACE = """\
[algo]
algo = "walk"
[walk]
population = [32, 64, 128]
sigma = { low = 0.1, high = 0.5, log = true }
lr = { low = 0.05, high = 0.3 }
shaping = "zscore"
optimizer = "sgd"
[network]
hidden = { low = 0, high = 2 }
ticks = 1
activation = "tanh"
[run]
episodes = 1
"""


def small_space(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SMALL_SPACE)
    return path


def load_study(out: Path, name: str = "CartPole-v1") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


# -- the search space ---------------------------------------------------------------------------------
def test_the_space_is_conditional_on_the_optimiser():
    space = SearchSpace.load(None)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        values = space.sample(trial, "walk")
        algo = values["algo.algo"]
        seen.add(algo)
        assert all(owner(key) in (None, algo) for key in values), values
        assert ("walk.sigma" in values) == (algo == "walk") and ("algo.ga_sigma" in values) == (algo == "ga")
        study.tell(trial, 1.0)
    assert seen == {"walk", "ga", "cmaes"}


def test_a_space_file_replaces_only_the_entries_it_names(tmp_path):
    space = SearchSpace.load(str(small_space(tmp_path)))
    assert space.entries["walk.sigma"] == Range(0.1, 0.5, log=True)
    assert space.entries["walk.population"] == Choice((32, 64, 128))
    assert space.entries["network.ticks"] == Fixed(1)
    assert space.entries["network.hidden"] == Range(0, 2, whole=True)
    assert space.entries["algo.cmaes_sigma"] == SearchSpace.load(None).entries["algo.cmaes_sigma"]  # not named: the default's


def test_print_space_writes_a_space_file_that_loads_back_as_the_same_space(tmp_path, capsys):
    assert tune_command.main(["--print-space"]) == 0
    path = tmp_path / "printed.toml"
    path.write_text(capsys.readouterr().out)
    assert SearchSpace.from_dict(load_toml(path), str(path)).entries == SearchSpace.load(None).entries
    assert set(load_toml(path)) == set(DEFAULT_SPACE)


@pytest.mark.parametrize("text, message", [
    ("[walk]\nsigmaa = 0.2\n", "space.toml: unknown setting 'sigmaa' in [walk] (did you mean 'sigma'?)"),
    ("[walk]\nsigma = { low = 0.5, high = 0.1 }\n", "space.toml: walk.sigma has low 0.5 above high 0.1; use low <= high"),
    ("[walk]\nsigma = { low = 0.0, high = 0.1, log = true }\n", "space.toml: walk.sigma has low 0.0 with log = true; a log range needs low > 0"),
    ("[walk]\nshaping = [\"zscore\", \"rank\"]\n", "space.toml: walk.shaping = \"rank\" is not accepted; use one of zscore, centred_ranks, raw"),
    ("[network]\nhidden = { low = 0, high = 2.5 }\n", "space.toml: network.hidden = 2.5 is a float; expected a whole number"),
    ("[network]\nactivation = { low = 1, high = 2 }\n", "space.toml: network.activation is str, which has no range; give an array of choices or a single value"),
    ("[run]\nseed = [1, 2]\n", "space.toml: run.seed is not searched: rlfree tune sets it in every trial from --seed; leave it out"),
    ("[tune]\nsigma = 1\n", "space.toml: unknown section [tune]; accepted: env, network, algo, walk, run"),
])
def test_a_bad_space_file_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, text, message):
    (tmp_path / "space.toml").write_text(text)
    monkeypatch.chdir(tmp_path)  # the message names the file as given
    with pytest.raises(SystemExit) as exit_:
        tune_command.main(["--env", "CartPole-v1", "--space", "space.toml", "--out", str(tmp_path / "study")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"rlfree tune: error: {message}\n"
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("argv, message", [
    (["--env", "CartPole-v1", "--trials", "0"], "--trials 0 is not accepted: use 1 or more"),
    (["--env", "CartPole-v1", "--jobs", "0"], "--jobs 0 is not accepted: use 1 or more worker processes"),
    (["--env", "CartPole-v1", "--budget", "-1"], "--budget -1 is not accepted: use a value > 0"),
    (["--trials", "3"], "--env is required: the gymnasium id of the task to tune, e.g. --env CartPole-v1"),
    (["--env", "CartPole-v1", "--storage", "not a url"], "--storage 'not a url' is not a database URL; use sqlite:///PATH (one machine) "
                                                         "or postgresql://USER:PASSWORD@HOST/DB, mysql://... (several)"),
    (["--env", "Pendulum-v1", "--config", "none.toml"], "config file 'none.toml' does not exist"),
    (["--env", "CartPole-v1", "--storage", "sqlite:////nonexistent/folder/study.db"],
     "--storage 'sqlite:////nonexistent/folder/study.db' cannot be opened (unable to open database file)"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        tune_command.main([*argv, "--out", str(tmp_path / "study")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"rlfree tune: error: {message}\n"
    assert not (tmp_path / "study").exists()  # nothing written


def test_an_env_without_a_threshold_needs_a_target(tmp_path, capsys):
    (tmp_path / "base.toml").write_text('[env]\nenv = "Pendulum-v1"\n')
    with pytest.raises(SystemExit):
        tune_command.main(["--env", "Pendulum-v1", "--config", str(tmp_path / "base.toml"), "--out", str(tmp_path / "study")])
    assert "has no reward_threshold and the preset no [run] target: give --target" in capsys.readouterr().err


def test_without_optuna_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(SystemExit) as exit_:
        tune_command.main(["--env", "CartPole-v1", "--out", str(tmp_path / "study")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == 'rlfree tune: error: rlfree tune needs Optuna, which is not installed: pip install "rlfree[tune]"\n'
    assert not (tmp_path / "study").exists()


def test_unsolved_trials_rank_below_solved_ones_and_by_how_close_they_came():
    from rlfree.tuning import Outcome, Task

    task = Task(Config(), target=475.0, budget=2.0)
    solved_late = Outcome(solved=True, used=2.3, best_eval=480.0, generations=40, env_steps=9_000, seconds=2.3)
    close = Outcome(solved=False, used=2.1, best_eval=470.0, generations=40, env_steps=9_000, seconds=2.1)
    far = Outcome(solved=False, used=2.0, best_eval=100.0, generations=40, env_steps=9_000, seconds=2.0)
    pruned = Outcome(solved=False, used=0.4, best_eval=30.0, generations=8, env_steps=900, seconds=0.4, pruned=True)
    assert solved_late.value(task) == 2.0  # solved in the generation that crossed the budget
    assert close.value(task) == pytest.approx(2.0 + 5.0) and far.value(task) == pytest.approx(2.0 + 375.0)
    assert solved_late.value(task) < close.value(task) < far.value(task)
    assert pruned.value(task) == pytest.approx(2.0 + 445.0)  # charged the whole budget
    assert math.isnan(Outcome(False, 2.0, None, 3, 100, 2.0).value(task))  # no evaluation ran: the trial fails


@pytest.mark.parametrize("error", [Terminated, KeyboardInterrupt])
def test_a_trial_stopped_by_a_signal_raises_what_the_signal_was(error):
    """SIGTERM inside a trial's run ends rlfree tune with 143, Ctrl-C with 130: the trial passes on which one it was."""
    from rlfree.tuning import Task, run_trial

    base = Config()
    base.update(load_toml(REPO / "agents" / "CartPole-v1.toml"), "CartPole-v1.toml")

    def signal_now():
        raise error()

    with pytest.raises(KeyboardInterrupt) as caught:
        run_trial(Task(base, target=475.0, budget=2.0), base, stop=signal_now)
    assert type(caught.value) is error


# -- studies ------------------------------------------------------------------------------------------
@pytest.mark.slow  # a study of trials that each train for up to their budget
def test_a_ten_trial_cartpole_study_writes_a_preset_that_solves_cartpole(tmp_path, capsys):
    out = tmp_path / "study"
    started = time.perf_counter()
    code = tune_command.main(["--env", "CartPole-v1", "--trials", "10", "--budget", "2", "--finalists", "2", "--recheck-seeds", "2",
                              "--out", str(out)])
    seconds = time.perf_counter() - started
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert sum(line.startswith("trial ") for line in printed.splitlines()) >= 10 and "10/10 done" in printed  # a line per trial
    study = load_study(out)
    assert sum(t.state != optuna.trial.TrialState.RUNNING for t in study.trials) >= 10
    preset = load_toml(out / "best.toml")
    assert preset["env"]["env"] == "CartPole-v1" and preset["run"]["target"] == 475.0
    report = (out / "report.html").read_text()
    assert "<svg" in report and "Finalists" in report and "importances" in report
    assert len((out / "trials.csv").read_text().splitlines()) == len(study.trials) + 1
    print(f"10-trial study: {seconds:.1f} s")  # shown with -s; the "well under a minute"
    # the preset as a user would train it: rlfree train --config best.toml, on a seed no trial used
    code = train_command.main(["--config", str(out / "best.toml"), "--seed", "11", "--logdir", str(tmp_path / "runs")])
    assert code == 0
    assert "\nsolved: " in capsys.readouterr().out


@pytest.mark.slow  # a study of trials that each train for up to their budget
def test_two_worker_processes_on_one_sqlite_study_both_add_trials(tmp_path, capsys):
    out = tmp_path / "study"
    code = tune_command.main(["--env", "CartPole-v1", "--trials", "8", "--budget", "1", "--jobs", "2", "--space", str(small_space(tmp_path)),
                              "--finalists", "1", "--recheck-seeds", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    study = load_study(out)
    workers = [t.user_attrs.get("worker") for t in study.trials if t.state != optuna.trial.TrialState.RUNNING]
    assert len(workers) >= 8 and set(workers) == {0, 1}
    assert (out / "best.toml").is_file()


KEPT = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)  # the trials a resumed study keeps


def wait_for_trials(count: int, process: subprocess.Popen, stdout: Path, stderr: Path, timeout: float = 180.0) -> int:
    """Wait until the running study has printed ``count`` finished trials; fail at once, with the
    process's stderr, if it ends before that. Progress is read from the printed lines, not the
    database: a second SQLite connection while rlfree tune creates the study's tables races it."""
    deadline = time.time() + timeout
    done = 0
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"rlfree tune ended with {process.returncode} after {done} trials: {stderr.read_text()[-2000:]}")
        done = sum(bool(re.match(r"trial \d+ .*\| \d+/\d+ done$", line)) for line in stdout.read_text().splitlines())
        if done >= count:
            return done
        time.sleep(0.5)
    raise AssertionError(f"{done} trials done in {timeout} s: {stderr.read_text()[-2000:]}")


@pytest.mark.slow  # a study of trials that each train for up to their budget
def test_ctrl_c_keeps_the_study_and_the_same_command_resumes_it(tmp_path):
    out = tmp_path / "study"
    command = [sys.executable, "-m", "rlfree", "tune", "--env", "CartPole-v1", "--budget", "2", "--space", str(small_space(tmp_path)),
               "--finalists", "1", "--recheck-seeds", "1", "--out", str(out)]
    # output to files, not pipes: nobody reads a pipe while the trials run, and a full one would stall the study
    out_log, err_log = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_log.open("w") as stdout_file, err_log.open("w") as stderr_file:
        process = subprocess.Popen([*command, "--trials", "1000"], stdout=stdout_file, stderr=stderr_file, text=True, cwd=tmp_path)
        try:
            wait_for_trials(3, process, out_log, err_log)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    stderr = err_log.read_text()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["rlfree tune: interrupted; the study is kept: run the same command again to resume it"]
    assert not (out / "best.toml").exists()
    before = load_study(out).trials
    kept = [t for t in before if t.state in KEPT]
    assert len(kept) >= 3
    total = len(kept) + 2
    resumed = subprocess.run([*command, "--trials", str(total)], capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} of {total} trials done" in resumed.stdout
    after = load_study(out).trials
    assert [t.number for t in after[: len(before)]] == [t.number for t in before]  # the kept trials are the same
    assert sum(t.state in KEPT for t in after) == total
    assert (out / "best.toml").is_file()


def test_a_study_resumed_with_another_budget_is_refused(tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["--env", "CartPole-v1", "--trials", "2", "--space", str(small_space(tmp_path)), "--finalists", "1", "--recheck-seeds", "1",
            "--out", str(out)]
    assert tune_command.main([*argv, "--budget", "2"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        tune_command.main([*argv, "--budget", "5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("rlfree tune: error: study 'CartPole-v1' in sqlite:///") and "was made with budget 2.0, not this one" in err
