"""scripts/algos_report.py: a real run on CartPole-v1, its table from the saved runs, and a bad saved file."""

import json

import pytest

from conftest import load_script


def _report():
    return load_script("algos_report")


def test_cartpole_runs_and_comes_back_from_json(tmp_path, capsys):
    report = _report()
    saved, table = tmp_path / "runs.json", tmp_path / "table.md"
    assert report.main(["--tasks", "CartPole-v1", "--seeds", "0", "--optimisers", "walk,ga-truncation", "--skip-reference",
                        "--json", str(saved), "--markdown", str(table)]) == 0
    runs = json.loads(saved.read_text())["runs"]
    assert [r["optimiser"] for r in runs] == ["walk", "ga-truncation"]
    for run in runs:
        assert run["solved"] and run["check"] >= 475 and run["env_steps"] > run["training_steps"] > 0
    written = table.read_text()
    assert "| `walk` | 128 | 1/1 |" in written and "| `ga-truncation` | 64 | 1/1 |" in written
    capsys.readouterr()
    assert report.main(["--from-json", str(saved)]) == 0
    assert "| `walk` | 128 | 1/1 |" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "not json", "[{\"task\": 1}]x", "{\"load\": []}"])
def test_a_bad_saved_file_is_one_line_naming_it(tmp_path, capsys, content):
    report = _report()
    path = tmp_path / "runs.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        report.main(["--from-json", str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--from-json" in err and str(path) in err and "Traceback" not in err
