"""scripts/zoo.py: the threshold every algorithm is timed to, the comparison table, bad input, a whole run,
and the baselines' zoo entries for the continuous-control tasks with their normalised evaluation."""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlfree.commands import zoo
from rlfree.run_loop import Terminated

REPO = Path(__file__).resolve().parent.parent

AGENTS = REPO / "agents"


@pytest.mark.parametrize(
    "env_id, threshold",
    [
        ("Acrobot-v1", -100.0),  # the env's reward_threshold, not the preset's margin of -90
        ("LunarLander-v3", 200.0),  # the preset stops at 225
        ("rlfree/CatMouseChase-v0", 2.0),  # registered by rlfree; the preset stops at 2.4
        ("Pendulum-v1", -200.0),  # gymnasium sets none: the preset's target
        ("Hopper-v5", 3000.0),  # the target its preset and agent were made for, not gymnasium's 3800; the preset stops at 3100
    ],
)
def test_every_algorithm_is_timed_to_the_envs_threshold_not_a_presets_margin(env_id, threshold):
    assert zoo.task_threshold(zoo.preset_config(env_id, AGENTS)) == threshold


def outcome(seconds: float, solved: bool = True, steps: int = 1000) -> "zoo.RunOutcome":
    return zoo.RunOutcome(solved, seconds, 0.0, steps, np.full(100, 10.0))


def table_row(table: str, env_id: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {env_id} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_table_gives_medians_ranges_and_the_baselines_time_over_rlfrees():
    task = zoo.TaskResult("CartPole-v1", 475.0)
    task.runs["rlfree"] = [outcome(0.2), outcome(0.3), outcome(0.5)]
    task.runs["PPO"] = [outcome(3.0), outcome(4.5), outcome(6.0)]
    # ARS misses on two seeds of three: its median is only a lower bound, the time at which it stopped
    task.runs["ARS"] = [outcome(2.0), outcome(9.0, solved=False), outcome(12.0, solved=False)]
    row = table_row(zoo.results_table([task], ["rlfree", "PPO", "ARS"]), "CartPole-v1")
    assert row[2:5] == ["3/3", "10.0 ± 0.0", "0.30 [0.20–0.50]"]
    assert row[10] == "1/3" and row[12] == "— [2.0–∞]"
    assert row[-2:] == ["15.0x", ">30.0x"]


def test_no_ratio_when_rlfree_itself_missed_on_most_seeds():
    task = zoo.TaskResult("Acrobot-v1", -100.0)
    task.runs["rlfree"] = [outcome(1.0, solved=False), outcome(2.0, solved=False), outcome(0.5)]
    task.runs["PPO"] = [outcome(3.0), outcome(4.0), outcome(5.0)]
    assert table_row(zoo.results_table([task], ["rlfree", "PPO"]), "Acrobot-v1")[-1] == "—"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--tasks", "CartPol-v1"], "no preset for 'CartPol-v1'"),
        (["--seeds", "0"], "--seeds 0 is not accepted"),
        (["--time-limit", "0"], "--time-limit 0.0 is not accepted"),
        (["--cheap-episodes", "-3"], "--cheap-episodes -3 is not accepted"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    assert zoo.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_a_zoo_run_retrains_rescores_and_writes_its_command_with_the_tables(tmp_path, capsys):
    report = tmp_path / "zoo.md"
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--reevaluate", "--markdown", str(report)]) == 0
    text = report.read_text()
    assert text.startswith("`rlfree zoo --tasks CartPole-v1 --seeds 1 --reevaluate --markdown ")
    trained = table_row(text, "CartPole-v1")
    assert trained[1:3] == ["475", "1/1"] and float(trained[3].split(" ± ")[0]) >= 475
    shipped = table_row(text.split("shipped agent")[1], "CartPole-v1")
    assert float(shipped[2].split(" ± ")[0]) >= 475 and shipped[3] == "yes"


@pytest.mark.slow
def test_baselines_run_on_the_same_check_and_table(tmp_path, capsys):
    report = tmp_path / "zoo.md"
    # 2 counted seconds: PPO (about 4 s here) stops unsolved, so its ratio is a lower bound
    argv = ["--tasks", "CartPole-v1", "--seeds", "1", "--compare", "--time-limit", "2", "--markdown", str(report)]
    assert zoo.main(argv) == 0
    row = table_row(report.read_text(), "CartPole-v1")
    assert row[2] == "1/1"  # rlfree
    assert row[6] in ("0/1", "1/1") and row[10] in ("0/1", "1/1")  # PPO and ARS ran and were scored
    ppo_final = float(row[7].split(" ± ")[0])
    assert 8.0 <= ppo_final <= 500.0  # a real score of gymnasium's CartPole, not a placeholder
    assert row[-2].endswith("x") and row[-1].endswith("x")


def test_compare_can_name_one_baseline(tmp_path, capsys):
    report = tmp_path / "zoo.md"
    # ARS only (any case), with a time limit that stops it at once: the table has rlfree and ARS, no PPO
    argv = ["--tasks", "CartPole-v1", "--seeds", "1", "--compare", "ars", "--time-limit", "0.5", "--markdown", str(report)]
    assert zoo.main(argv) == 0
    header = report.read_text().splitlines()[2]
    assert "ARS solved" in header and "PPO" not in header and header.rstrip(" |").endswith("ARS / rlfree time")


def test_a_stopped_comparison_keeps_the_runs_it_finished(tmp_path, monkeypatch, capsys):
    report = tmp_path / "zoo.md"

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C during the first baseline run

    monkeypatch.setattr(zoo, "run_baseline", stopped)
    with pytest.raises(KeyboardInterrupt):
        zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--compare", "PPO", "--markdown", str(report)])
    text = report.read_text()
    assert "(unfinished: the runs done so far)" in text
    row = table_row(text, "CartPole-v1")
    assert row[2] == "1/1" and row[6] == "—"  # rlfree's run is kept; PPO's never finished


class CountedRuns:
    """Stands in for run_rlfree and run_baseline: a quick made-up outcome per run, and which runs were made."""

    def __init__(self, monkeypatch):
        self.made = []
        monkeypatch.setattr(zoo, "run_rlfree", lambda env_id, agents_dir, seed, args, logdir: self.run("rlfree", seed))
        monkeypatch.setattr(zoo, "run_baseline", lambda algo, env_id, target, seed, args: self.run(algo, seed))

    def run(self, algo, seed):
        self.made.append((algo, seed))
        return zoo.RunOutcome(True, 10.0 + seed, 0.0, 1000 * (seed + 1), np.full(100, 480.0 + seed))


def test_a_comparison_split_over_commands_runs_each_run_once_and_tabulates_them_together(tmp_path, monkeypatch, capsys):
    runs = CountedRuns(monkeypatch)
    saved, report = tmp_path / "runs.json", tmp_path / "zoo.md"
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "2", "--json", str(saved)]) == 0
    assert runs.made == [("rlfree", 0), ("rlfree", 1)]
    argv = ["--tasks", "CartPole-v1", "--seeds", "3", "--compare", "ARS", "--json", str(saved), "--markdown", str(report)]
    assert zoo.main(argv) == 0
    assert runs.made[2:] == [("rlfree", 2), ("ARS", 0), ("ARS", 1), ("ARS", 2)]  # rlfree's seeds 0 and 1 from the file
    assert "CartPole-v1: rlfree, seed 1: from " in capsys.readouterr().err
    row = table_row(report.read_text(), "CartPole-v1")
    assert row[2] == "3/3" and row[3] == "481.0 ± 0.8" and row[4] == "11.0 [10.0–12.0]"  # all three seeds
    assert zoo.main(argv) == 0 and len(runs.made) == 6  # everything from the file now
    assert table_row(report.read_text(), "CartPole-v1") == row
    assert zoo.main(["--tasks", "Acrobot-v1", "--seeds", "1", "--json", str(saved)]) == 0  # another task, same file
    kept = json.loads(saved.read_text())["runs"]
    assert len(kept) == 7 and {r["task"] for r in kept} == {"CartPole-v1", "Acrobot-v1"}


@pytest.mark.parametrize(
    "first, second, words",
    [
        (["--time-limit", "60"], ["--time-limit", "90"], "--time-limit 60.0 (this command: 90.0)"),
        (["--compare", "ARS", "--free-evals"], ["--compare", "ARS"], "ARS seed 0 run with --free-evals True (this command: False)"),
    ],
)
def test_a_saved_run_made_under_other_settings_is_refused_in_one_line(tmp_path, monkeypatch, capsys, first, second, words):
    runs = CountedRuns(monkeypatch)
    saved = tmp_path / "runs.json"
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--json", str(saved)] + first) == 0
    before, made = saved.read_text(), len(runs.made)
    capsys.readouterr()
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--json", str(saved)] + second) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and str(saved) in err
    assert len(runs.made) == made and saved.read_text() == before  # nothing ran, nothing lost


def test_a_saved_run_of_a_preset_edited_since_is_refused(tmp_path, monkeypatch, capsys):
    runs = CountedRuns(monkeypatch)
    agents, saved = tmp_path / "agents", tmp_path / "runs.json"
    agents.mkdir()
    preset = agents / "CartPole-v1.toml"
    preset.write_text((Path(__file__).parents[1] / "agents" / "CartPole-v1.toml").read_text())
    monkeypatch.setenv("RLFREE_AGENTS", str(agents))
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--compare", "ARS", "--json", str(saved)]) == 0
    preset.write_text(preset.read_text().replace("sigma = 0.2", "sigma = 0.1"))  # edited after the run
    before = saved.read_text()
    capsys.readouterr()
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--json", str(saved)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rlfree seed 0 run with a preset of sha256" in err
    assert runs.made == [("rlfree", 0), ("ARS", 0)] and saved.read_text() == before


def test_an_evaluation_setting_of_the_baselines_does_not_touch_rlfrees_saved_runs(tmp_path, monkeypatch):
    runs = CountedRuns(monkeypatch)
    saved = tmp_path / "runs.json"
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--json", str(saved)]) == 0
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--compare", "ARS", "--eval-every", "5000",
                     "--free-evals", "--json", str(saved)]) == 0
    assert runs.made == [("rlfree", 0), ("ARS", 0)]


@pytest.mark.parametrize("text", ["not json", '{"runs": [{"task": "CartPole-v1"}]}', '{"other": 1}'])
def test_a_json_file_that_is_not_the_zoos_is_one_line_and_left_alone(tmp_path, monkeypatch, capsys, text):
    runs = CountedRuns(monkeypatch)
    saved = tmp_path / "runs.json"
    saved.write_text(text)
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "1", "--json", str(saved)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--json {str(saved)!r} is not a file" in err and "Traceback" not in err
    assert runs.made == [] and saved.read_text() == text


def test_a_stopped_comparison_resumes_from_its_json_file(tmp_path, monkeypatch):
    runs = CountedRuns(monkeypatch)
    saved = tmp_path / "runs.json"
    made = runs.run

    def stopped_in_the_second_run(algo, seed):
        if len(runs.made) == 1:
            raise KeyboardInterrupt
        return made(algo, seed)

    runs.run = stopped_in_the_second_run
    with pytest.raises(KeyboardInterrupt):
        zoo.main(["--tasks", "CartPole-v1", "--seeds", "2", "--json", str(saved)])
    assert [r["seed"] for r in json.loads(saved.read_text())["runs"]] == [0]
    runs.run = made
    assert zoo.main(["--tasks", "CartPole-v1", "--seeds", "2", "--json", str(saved)]) == 0
    assert runs.made == [("rlfree", 0), ("rlfree", 1)]


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_stopping_an_rlfree_run_stops_the_zoo_and_keeps_the_finished_runs(tmp_path, monkeypatch, stop):
    """The run loop turns Ctrl-C and SIGTERM into an interrupted run; in the zoo that ends the
    comparison, rather than tabulating the run as unsolved and starting the next one."""
    report = tmp_path / "zoo.md"
    runs = []

    class StoppedInItsSecondRun(zoo.RunLoop):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            runs.append(self)

        def step(self):
            if len(runs) == 2:
                if stop == "ctrl-c":
                    raise KeyboardInterrupt
                os.kill(os.getpid(), signal.SIGTERM)  # the zoo's handler turns it into Terminated, here
            return super().step()

    monkeypatch.setattr(zoo, "RunLoop", StoppedInItsSecondRun)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as raised:
        zoo.main(["--tasks", "CartPole-v1", "--seeds", "3", "--markdown", str(report)])
    assert len(runs) == 2  # the third seed never started
    assert isinstance(raised.value, Terminated) == (stop == "sigterm")
    assert signal.getsignal(signal.SIGTERM) == handler  # the zoo's own SIGTERM handler is gone again
    text = report.read_text()
    assert "(unfinished: the runs done so far)" in text
    assert table_row(text, "CartPole-v1")[2] == "1/1"  # the first seed's run, and only it


def test_compare_names_only_known_baselines(capsys):
    with pytest.raises(SystemExit):
        zoo.main(["--tasks", "CartPole-v1", "--compare", "SAC"])
    assert "'SAC' is not a baseline; accepted: PPO, ARS" in capsys.readouterr().err


# -- the continuous-control entries (rl-baselines3-zoo's MuJoCo and Box2D settings) --------------
NEW_TASKS = ["Swimmer-v5", "HalfCheetah-v5", "Hopper-v5", "BipedalWalker-v3", "LunarLanderContinuous-v3"]
# the model attributes that hold an entry's setting as the entry writes it
SETTINGS = ["n_steps", "batch_size", "gamma", "gae_lambda", "n_epochs", "ent_coef", "max_grad_norm", "vf_coef",
            "n_delta", "n_top", "alive_bonus_offset", "learning_rate", "clip_range", "delta_std"]


def at_start(model, name: str) -> float:
    """A setting's value at the start of training: SB3 keeps some as schedules of the progress remaining (1 -> 0)."""
    value = getattr(model, f"{name}_schedule" if name == "delta_std" else name)
    return value(1.0) if callable(value) else value


@pytest.mark.parametrize("algo", ["PPO", "ARS"])
@pytest.mark.parametrize("env_id", NEW_TASKS)
def test_the_new_entries_build_their_model_and_env_as_the_zoo_sets_them(algo, env_id):
    entry = (zoo.PPO_ZOO if algo == "PPO" else zoo.ARS_ZOO)[env_id]
    model, budget = zoo.baseline_model(algo, env_id, seed=0)
    try:
        assert budget == int(entry["n_timesteps"]) and model.get_env().num_envs == entry["n_envs"]
        for name in SETTINGS:
            if name in entry:
                assert at_start(model, name) == entry[name], name
        normalize = entry.get("normalize", False)
        vec_normalize = model.get_vec_normalize_env()
        assert (vec_normalize is not None) == bool(normalize)
        if normalize:
            expected = normalize if isinstance(normalize, dict) else dict(norm_obs=True, norm_reward=True)
            assert (vec_normalize.norm_obs, vec_normalize.norm_reward) == (expected["norm_obs"], expected["norm_reward"])
            if "gamma" in entry:  # the reward's running return is discounted as the algorithm discounts
                assert vec_normalize.gamma == entry["gamma"]
    finally:
        model.get_env().close()


def test_the_mujoco_ppo_policies_are_the_zoos_relu_256_256_with_log_std_minus_2():
    model, _ = zoo.baseline_model("PPO", "HalfCheetah-v5", seed=0)
    layers = [m for m in model.policy.mlp_extractor.policy_net]
    assert [(m.in_features, m.out_features) for m in layers if hasattr(m, "out_features")] == [(17, 256), (256, 256)]
    assert all(isinstance(m, torch.nn.ReLU) for m in layers if not hasattr(m, "out_features"))
    assert np.allclose(model.policy.log_std.detach().numpy(), -2.0)
    model.get_env().close()


def test_ppo_is_evaluated_on_its_training_statistics_frozen_when_the_evaluation_starts():
    model, _ = zoo.baseline_model("PPO", "Swimmer-v5", seed=0)
    venv, vec_normalize = model.get_env(), model.get_vec_normalize_env()
    rng = np.random.default_rng(0)
    venv.reset()
    for _ in range(20):  # a few training steps: VecNormalize updates its statistics
        venv.step(rng.uniform(-1, 1, (venv.num_envs, 2)).astype(np.float32))
    assert vec_normalize.obs_rms.count > 80
    obs = np.stack([gym.make("Swimmer-v5").reset(seed=s)[0] for s in (11, 12, 13)])  # raw, as play feeds them
    act = zoo.frozen_policy(model)
    then = model.predict(vec_normalize.normalize_obs(obs), deterministic=True)[0]
    np.testing.assert_allclose(act(obs), then, rtol=1e-6)
    # the silent bug: the raw observations give other actions
    assert not np.allclose(act(obs), model.predict(obs.astype(np.float32), deterministic=True)[0], atol=1e-3)
    count = vec_normalize.obs_rms.count
    returns = zoo.play("Swimmer-v5", act, [21, 22])
    assert vec_normalize.obs_rms.count == count and np.isfinite(returns).all()  # evaluating does not train the statistics
    for _ in range(20):  # training goes on: the statistics move, the evaluation that began keeps its own
        venv.step(rng.uniform(-1, 1, (venv.num_envs, 2)).astype(np.float32))
    np.testing.assert_allclose(act(obs), then, rtol=1e-6)
    np.testing.assert_allclose(zoo.frozen_policy(model)(obs), model.predict(vec_normalize.normalize_obs(obs), deterministic=True)[0], rtol=1e-6)
    assert not np.allclose(zoo.frozen_policy(model)(obs), then, atol=1e-6)
    venv.close()
    zoo.close_envs()


def test_ars_trains_on_hoppers_shifted_reward_and_is_scored_on_its_own_through_its_statistics():
    model, _ = zoo.baseline_model("ARS", "Hopper-v5", seed=0)
    assert model.alive_bonus_offset == -1
    model.learn(1)  # one update: 2 * 8 episodes, which update the observation statistics
    vec_normalize = model.get_vec_normalize_env()
    assert vec_normalize.obs_rms.count > 16
    act = zoo.frozen_policy(model)
    seeds = [31, 32]
    returns = zoo.play("Hopper-v5", act, seeds)
    expected = []
    for seed in seeds:  # gymnasium's own env and reward, the policy fed normalised observations
        env = gym.make("Hopper-v5")
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action = model.predict(vec_normalize.normalize_obs(obs[None]), deterministic=True)[0][0]
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        expected.append(total)
    # not bitwise: the policy's float32 product differs in its last bits between a batch of 2 and of 1
    np.testing.assert_allclose(returns, expected, rtol=1e-6)
    model.get_env().close()
    zoo.close_envs()


def test_ars_swimmer_has_no_normalisation_and_plays_raw_observations():
    model, _ = zoo.baseline_model("ARS", "Swimmer-v5", seed=0)
    assert model.get_vec_normalize_env() is None  # the zoo's normalize line is commented out
    obs = np.random.default_rng(1).normal(size=(3, 8))
    np.testing.assert_array_equal(zoo.frozen_policy(model)(obs), model.predict(obs, deterministic=True)[0])
    model.get_env().close()


def test_a_baseline_stops_at_the_time_limit_within_an_update_and_its_final_score_is_not_timed(monkeypatch):
    final_seeds = zoo.FINAL_SEEDS[:2]
    monkeypatch.setattr(zoo, "FINAL_SEEDS", final_seeds)
    play = zoo.play

    def slow_final_score(env_id, act, seeds, vectorization="sync"):
        if seeds == final_seeds:
            time.sleep(2.0)
        return play(env_id, act, seeds, vectorization)

    monkeypatch.setattr(zoo, "play", slow_final_score)
    args = argparse.Namespace(time_limit=0.5, eval_every=10**9, cheap_episodes=1, free_evals=False)
    outcome = zoo.run_baseline("PPO", "Swimmer-v5", 360.0, 0, args)
    # PPO's first update waits for 4 x 1,024 steps (seconds here): the limit cuts it short
    assert not outcome.solved and 0 < outcome.steps < 4 * 1024
    assert 0.5 <= outcome.seconds < 1.5
    zoo.close_envs()


def test_a_preset_whose_env_needs_a_missing_mujoco_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "Swimmer-v5.toml").write_text('[env]\nenv = "Swimmer-v5"\n')
    monkeypatch.setenv("RLFREE_AGENTS", str(tmp_path))
    monkeypatch.setitem(sys.modules, "mujoco", None)  # as without the mujoco extra
    for name in [name for name in sys.modules if name.startswith("gymnasium.envs.mujoco")]:
        monkeypatch.delitem(sys.modules, name)
    assert zoo.main(["--tasks", "Swimmer-v5", "--compare"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'Swimmer-v5' cannot be made: MuJoCo is not installed" in err


SWIMMER_PRESET = """[env]
env = "Swimmer-v5"
backend = "gym"

[network]
hidden = 0
ticks = 1
activation = "identity"
feed_forward = true
normalize_obs = true
action_mapping = "clip"

[walk]
population = 4
top_directions = 1

[run]
horizon = 20
eval_freq = 1000
generations = 3
"""


@pytest.mark.slow
def test_a_mujoco_task_with_a_preset_runs_beside_ppo_and_ars(tmp_path, monkeypatch):
    (tmp_path / "Swimmer-v5.toml").write_text(SWIMMER_PRESET)
    monkeypatch.setenv("RLFREE_AGENTS", str(tmp_path))
    monkeypatch.setattr(zoo, "FINAL_SEEDS", zoo.FINAL_SEEDS[:2])  # a final score of 2 episodes of 1,000 steps
    report = tmp_path / "zoo.md"
    argv = ["--tasks", "Swimmer-v5", "--seeds", "1", "--compare", "--time-limit", "1", "--markdown", str(report)]
    assert zoo.main(argv) == 0
    row = table_row(report.read_text(), "Swimmer-v5")
    assert row[1] == "360"  # gymnasium's threshold
    assert row[2] == "0/1" and row[6] == "0/1" and row[10] == "0/1"  # nobody swims 360 in a second
    for mean_std in (row[3], row[7], row[11]):  # real scores of gymnasium's Swimmer, not placeholders
        assert np.isfinite(float(mean_std.split(" ± ")[0]))
