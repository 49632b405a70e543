"""rlfree train --track: an offline W&B run and an MLflow file-store run hold the scalars, the config and the agent."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from rlfree.commands import train as train_command

ARGS = ["--env", "CartPole-v1", "-n", "3", "--population", "8", "--eval-episodes", "2", "--target", "1e9"]


def trained(tmp_path: Path, tracker: str) -> Path:
    code = train_command.main([*ARGS, "--logdir", str(tmp_path / "runs"), "--track", tracker, "--track-project", "tests"])
    assert code == 0
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("CartPole-v1__")]
    return run_dir


def test_an_mlflow_file_store_run_holds_the_scalars_the_config_and_the_agent(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = trained(tmp_path, "mlflow")
    client = MlflowClient(tracking_uri=(tmp_path / "runs" / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("tests")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params["walk.population"] == "8" and run.data.params["env.env"] == "CartPole-v1"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "time/total_timesteps")]
    values = [m.value for m in client.get_metric_history(run.info.run_id, "time/total_timesteps")]
    assert len(steps) == 3 and steps == [int(v) for v in values]  # stepped by env steps, as TensorBoard
    assert len(client.get_metric_history(run.info.run_id, "eval/mean_reward")) == 3
    names = sorted(Path(a.path).name for a in client.list_artifacts(run.info.run_id, "agent"))
    assert {"W.npy", "network.json"} <= set(names)
    local = client.download_artifacts(run.info.run_id, "agent/W.npy", str(tmp_path))
    assert np.array_equal(np.load(local), np.load(run_dir / "checkpoints" / "best" / "W.npy"))


def wandb_records(run_dir: Path) -> list:
    """The records of the offline run's transaction log (what `wandb sync` would upload): a LevelDB-style
    log of 32 KiB blocks after a 7-byte ':W&B' header, each record a 7-byte header (checksum, length,
    kind: 1 whole, 2 first, 3 middle, 4 last piece) and a protobuf Record."""
    from wandb.proto import wandb_internal_pb2

    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data = log.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:  # zeros to the end of the block
            pos += 32768 - pos % 32768
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def test_an_offline_wandb_run_holds_the_scalars_the_config_and_the_agent(tmp_path, monkeypatch):
    import json

    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")
    run_dir = trained(tmp_path, "wandb")
    import wandb

    wandb.teardown()  # W&B's service process writes the last of the log when it stops, as at the end of rlfree train's process
    records = wandb_records(run_dir)
    history = [{item.nested_key[0] if item.nested_key else item.key: json.loads(item.value_json) for item in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert len(history) == 3
    assert [row["time/total_timesteps"] for row in history] == [row["_step"] for row in history]
    assert all("eval/mean_reward" in row for row in history)
    config = [r.run.config for r in records if r.WhichOneof("record_type") == "run"] + [
        r.config for r in records if r.WhichOneof("record_type") == "config"]
    assert any(item.key == "walk" and json.loads(item.value_json)["population"] == 8 for c in config for item in c.update)
    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifact.type == "model"
    files = {entry.path for entry in artifact.manifest.contents}
    assert {"W.npy", "network.json"} <= files


@pytest.mark.parametrize("tracker, extra", [("wandb", "wandb"), ("mlflow", "mlflow")])
def test_a_missing_tracker_is_one_line_saying_how_to_install_it(tmp_path, capsys, monkeypatch, tracker, extra):
    monkeypatch.setitem(sys.modules, tracker, None)  # import raises ImportError
    with pytest.raises(SystemExit) as exit_:
        train_command.main([*ARGS, "--logdir", str(tmp_path / "runs"), "--track", tracker])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == f'rlfree train: error: --track {tracker} needs {tracker}, which is not installed: pip install "rlfree[{extra}]"\n'
    assert not (tmp_path / "runs").exists()


def test_a_resumed_run_goes_on_in_the_same_mlflow_run(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = trained(tmp_path, "mlflow")
    assert train_command.main(["--resume", str(run_dir), "-n", "5", "--track", "mlflow", "--track-project", "tests"]) == 0
    client = MlflowClient(tracking_uri=(tmp_path / "runs" / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert len(client.get_metric_history(run.info.run_id, "time/total_timesteps")) == 5
    assert run.info.status == "FINISHED"
