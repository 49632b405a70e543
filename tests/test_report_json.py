"""rlfree.report_json: a report's runs saved whole after each run, several saved files merged back, bad files named."""

import json

import pytest

from rlfree.report_json import load_report_json, save_report_json


def test_saved_files_merge_back_in_the_order_given(tmp_path):
    first, second = tmp_path / "seed0.json", tmp_path / "seed1.json"
    save_report_json(first, runs=[{"seed": 0}], load=[0.9])
    save_report_json(second, runs=[{"seed": 1}, {"seed": 1}], load=[1.1])
    merged = load_report_json([str(first), str(second)], ("runs", "load", "reference"))
    assert merged == {"runs": [{"seed": 0}, {"seed": 1}, {"seed": 1}], "load": [0.9, 1.1], "reference": []}
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed over the file, not left beside it


def test_a_bare_list_is_the_runs_of_an_early_report_file(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps([{"seed": 0}]))
    assert load_report_json([str(path)], ("runs", "load")) == {"runs": [{"seed": 0}], "load": []}


def test_saving_again_replaces_the_file_whole(tmp_path):
    path = tmp_path / "runs.json"
    save_report_json(path, runs=[{"seed": 0}] * 50)
    save_report_json(path, runs=[{"seed": 0}])
    assert json.loads(path.read_text()) == {"runs": [{"seed": 0}]}


@pytest.mark.parametrize("content, why", [
    (None, "FileNotFoundError"),
    ("not json", "JSONDecodeError"),
    ('{"load": []}', "no list of runs"),
    ('{"runs": [], "load": 3}', "'load' is not a list"),
    ('"runs"', "no list of runs"),
])
def test_a_file_that_is_not_a_report_file_is_one_error_naming_it(tmp_path, content, why):
    path = tmp_path / "runs.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError) as caught:
        load_report_json([str(path)], ("runs", "load"))
    message = str(caught.value)
    assert message.startswith(f"--from-json {str(path)!r} is not a file this script's --json wrote") and why in message
    assert "\n" not in message
