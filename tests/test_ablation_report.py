"""scripts/ablation_report.py: every variant is a valid config that changes only what it names, and a run reports real scores."""

import json

import pytest

from conftest import load_script

pytest.importorskip("mujoco")
pytest.importorskip("Box2D")


def _report():
    return load_script("ablation_report")


def test_every_variant_is_the_preset_with_one_change():
    report = _report()
    for task, (_, variants) in report.TASKS.items():
        preset = report.task_config(task, 0, {})
        for variant, overrides in variants.items():
            config = report.task_config(task, 0, overrides)
            config.validate()  # no variant is refused for a combination the preset's other settings forbid
            changed = {(section, key) for section in ("network", "walk", "run", "env")
                       for key, value in vars(getattr(config, section)).items() if getattr(getattr(preset, section), key) != value}
            named = {(section, key) for section, keys in overrides.items() for key in keys}
            assert changed <= named, f"{task} {variant}: {changed - named} changed without being named"
            assert changed or not overrides, f"{task} {variant}: the overrides change nothing"


def test_a_run_reports_its_final_centre_on_held_out_episodes(tmp_path, monkeypatch, capsys):
    report = _report()
    budget, variants = report.TASKS["Hopper-v5"]
    first = next(iter(variants))
    monkeypatch.setitem(report.TASKS, "Hopper-v5", (3_000, {first: variants[first], "without top-b (all 8 pairs)": report.WITHOUT_TOP_B}))
    saved, table = tmp_path / "runs.json", tmp_path / "table.md"
    assert report.main(["--tasks", "Hopper-v5", "--seeds", "0", "--json", str(saved), "--markdown", str(table)]) == 0
    runs = json.loads(saved.read_text())["runs"]
    assert [r["variant"] for r in runs] == [first, "without top-b (all 8 pairs)"]
    for run in runs:
        assert not run["solved"] and run["env_steps"] >= 3_000
        assert 0 < run["final"] < 3000  # a Hopper that barely trained: a real, small return, not a placeholder
    assert "| without top-b (all 8 pairs) | 0/1 | >3,000 |" in table.read_text()
    # the table comes back from the saved runs alone
    assert report.main(["--from-json", str(saved)]) == 0
    assert "| without top-b (all 8 pairs) | 0/1 | >3,000 |" in capsys.readouterr().out


def test_a_preset_without_its_own_target_is_shown_stopping_at_the_envs_threshold():
    report = _report()
    variant = next(iter(report.TASKS["Swimmer-v5"][1]))
    run = {"task": "Swimmer-v5", "seed": 0, "variant": variant, "solved": False, "generations": 108, "env_steps": 1_501_000,
           "seconds": 139.0, "best_eval": 360.8, "final": 359.3}
    text = report.tables([run], "header")
    assert "**Swimmer-v5** (the preset stops at 360; budget 1,500,000 env steps; seeds 0)" in text
    assert f"| {variant} | 0/1 | >1,500,000 | - | 361 | 359 |" in text


def test_variant_runs_only_the_variants_it_names(tmp_path, monkeypatch):
    report = _report()
    _, variants = report.TASKS["Hopper-v5"]
    monkeypatch.setitem(report.TASKS, "Hopper-v5", (3_000, variants))
    saved = tmp_path / "runs.json"
    assert report.main(["--tasks", "Hopper-v5", "--variant", "without the reward shift", "--json", str(saved)]) == 0
    assert [r["variant"] for r in json.loads(saved.read_text())["runs"]] == ["without the reward shift"]


def test_an_unknown_variant_is_refused_in_one_line_before_anything_runs(tmp_path, capsys):
    report = _report()
    saved = tmp_path / "runs.json"
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--tasks", "Hopper-v5", "--variant", "without normalization", "--json", str(saved)])
    assert exit_info.value.code == 2 and not saved.exists()
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--variant 'without normalization' is not a variant of Hopper-v5: use one of" in error
    assert "'without normalisation'" in error
