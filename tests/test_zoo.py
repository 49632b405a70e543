"""scripts/zoo.py: the threshold every algorithm is timed to, the comparison table, bad input, a whole run."""

from pathlib import Path

import numpy as np
import pytest

from rlfree.commands import zoo

REPO = Path(__file__).resolve().parent.parent

AGENTS = REPO / "agents"


@pytest.mark.parametrize(
    "env_id, threshold",
    [
        ("Acrobot-v1", -100.0),  # the env's reward_threshold, not the preset's margin of -90
        ("LunarLander-v3", 200.0),  # the preset stops at 225
        ("rlfree/CatMouseChase-v0", 2.0),  # registered by rlfree; the preset stops at 2.4
        ("Pendulum-v1", -200.0),  # gymnasium sets none: the preset's target
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
