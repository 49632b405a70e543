"""Runs sent to an experiment tracker: Weights & Biases or MLflow (``rlfree train --track``).

A tracker is an observer of the run loop (:class:`rlfree.run_loop.Observer`), beside the
TensorBoard board: it starts a tracked run named after the run folder with the resolved config,
logs every record's scalars under their TensorBoard tags (:func:`rlfree.board.scalars`, stepped
by env steps), and when the loop closes it (after the last checkpoint is written) sends the
agent, ``checkpoints/best`` (``checkpoints/latest`` when no evaluation made a best), as an
artifact, then ends the run. Both work without a network: W&B in offline mode
(``WANDB_MODE=offline``; ``wandb sync`` uploads later), MLflow to a local file store, by default
``<logdir>/mlruns`` (``MLFLOW_TRACKING_URI`` chooses another store; ``mlflow ui
--backend-store-uri <logdir>/mlruns`` shows it).

Each is an optional extra: ``pip install "rlfree[wandb]"`` or ``"rlfree[mlflow]"``.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from pathlib import Path
from typing import Any, Protocol

from rlfree.board import record_tags, scalars
from rlfree.vector import MissingDependencyError

DEFAULT_PROJECT = "rlfree"


class Tracker(Protocol):
    """An observer that also sends the agent when it is closed."""

    def on_generation(self, record: Any) -> None: ...

    def close(self) -> None: ...


def flat_config(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{'walk': {'sigma': 0.2}} -> {'walk.sigma': 0.2}: the names of the Markdown table TensorBoard shows."""
    return {f"{section}.{name}": value for section, values in config.items() for name, value in values.items()}


def agent_folder(run_dir: Path) -> Path:
    """The agent ``rlfree watch RUN`` plays: checkpoints/best, else checkpoints/latest."""
    best = run_dir / "checkpoints" / "best"
    return best if (best / "W.npy").is_file() else run_dir / "checkpoints" / "latest"


class WandbTracker:
    """A W&B run in ``run_dir/wandb/``; resumed runs continue the same W&B run id."""

    def __init__(self, run_dir: Path, record_type: type, config: dict[str, dict], project: str | None = None):
        import wandb

        self.wandb = wandb
        self.run_dir, self.record_type = run_dir, record_type
        self.tags = record_tags(record_type)
        self.id = re.sub(r"[^A-Za-z0-9_-]", "-", run_dir.name)[-64:]  # W&B run ids: letters, digits, - and _
        self.run = wandb.init(project=project or DEFAULT_PROJECT, name=run_dir.name, id=self.id, resume="allow",
                              dir=str(run_dir), config=config, settings=wandb.Settings(console="off", x_disable_stats=True))

    def on_generation(self, record: Any) -> None:
        self.run.log(scalars(record, self.tags), step=getattr(record, self.record_type.STEP))

    def close(self) -> None:
        artifact = self.wandb.Artifact(f"agent-{self.id}", type="model", metadata={"run_folder": str(self.run_dir)})
        artifact.add_dir(str(agent_folder(self.run_dir)))
        self.run.log_artifact(artifact)
        self.run.finish()


class MlflowTracker:
    """An MLflow run named after the run folder in the experiment ``project``; the config as params,
    the agent under ``agent/``."""

    def __init__(self, run_dir: Path, record_type: type, config: dict[str, dict], project: str | None = None):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.run_dir, self.record_type = run_dir, record_type
        self.tags = record_tags(record_type)
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            # MLflow 3 keeps its file store "in maintenance" behind this switch, preferring a database;
            # the file store is the one that needs neither a server nor SQLAlchemy (mlflow-skinny has it)
            uri = (run_dir.parent / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        name = project or DEFAULT_PROJECT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        # a resumed run (rlfree train --resume) goes on in the MLflow run of its folder
        earlier = self.client.search_runs([experiment_id], filter_string=f"tags.mlflow.runName = '{run_dir.name}'", max_results=1)
        if earlier:
            self.run_id = earlier[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name).info.run_id
            self.client.log_batch(self.run_id, params=[Param(key, str(value)) for key, value in flat_config(config).items()])

    def on_generation(self, record: Any) -> None:
        from mlflow.entities import Metric

        step, now = getattr(record, self.record_type.STEP), int(time.time() * 1000)
        metrics = [Metric(tag, float(value), now, step) for tag, value in scalars(record, self.tags).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        self.client.log_artifacts(self.run_id, str(agent_folder(self.run_dir)), artifact_path="agent")
        self.client.set_terminated(self.run_id)


# --track NAME -> (the tracker, the module it needs, the extra that installs it)
TRACKERS: dict[str, tuple[type, str, str]] = {"wandb": (WandbTracker, "wandb", "wandb"), "mlflow": (MlflowTracker, "mlflow", "mlflow")}


def check_tracker(name: str) -> None:
    """MissingDependencyError, one line saying how to install it, when ``name``'s package is missing."""
    _, module, extra = TRACKERS[name]
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f'--track {name} needs {module}, which is not installed: pip install "rlfree[{extra}]"') from None


def make_tracker(name: str, run_dir: Path, record_type: type, config: dict[str, dict], project: str | None = None) -> Tracker:
    check_tracker(name)
    return TRACKERS[name][0](Path(run_dir), record_type, config, project)
