"""A real Ray cluster on 127.0.0.1 of two nodes, and `rlfree train --env CartPole-v1 --ray ADDRESS`
solving the task on it with the local run's every figure and weight.

The two nodes are two raylets (and a GCS) on this machine, each with 1 CPU, started by Ray's
own multi-node test harness, ``ray.cluster_utils.Cluster``: the same processes `ray start
--head` and `ray start --address` start, stopped by the handles it keeps. (On Linux `ray start
--address` would advertise and bind the machine's network address, and refuses the loopback
setting these tests keep every server on; `ray stop`, for its part, stops every Ray process of
the user on the machine, other people's included.)
"""

import csv
import os
import time
from pathlib import Path

import numpy as np
import pytest
from ray.cluster_utils import Cluster

from rlfree.commands import train


def children() -> list[str]:
    """The names of this process's child processes."""
    names = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm, rest = (entry / "stat").read_text().rsplit(")", 1)
            except OSError:
                continue
            if int(rest.split()[1]) == os.getpid():
                names.append(comm.split("(", 1)[1])
    return names


@pytest.fixture(scope="module")
def cluster():
    """HOST:PORT of the head of two nodes of 1 CPU each, on 127.0.0.1."""
    before = children()
    nodes = Cluster(shutdown_at_exit=False)
    try:
        for _ in range(2):
            nodes.add_node(num_cpus=1, object_store_memory=80 * 2**20, include_dashboard=False)
        assert nodes.address.startswith("127.0.0.1:")
        yield nodes.address
    finally:
        nodes.shutdown()
        deadline = time.time() + 30
        while children() != before and time.time() < deadline:  # the raylets' workers leave after them
            time.sleep(0.5)
        assert children() == before


def figures(run_dir: Path) -> list[dict]:
    """progress.csv without the columns that are clocks or the executor's own (bytes)."""
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if k not in ("steps_per_second", "elapsed", "bytes_sent", "bytes_received")} for row in rows]


def test_rlfree_train_on_a_two_node_cluster_solves_cartpole_with_the_local_runs_figures_and_weights(cluster, tmp_path, capsys):
    assert train.main(["--env", "CartPole-v1", "--ray", cluster, "--logdir", str(tmp_path / "ray")]) == 0
    out = capsys.readouterr().out
    assert f"ray: 2 actors on 2 nodes of the Ray cluster at {cluster}" in out
    assert "\nsolved: " in out and " ray: sent " in out
    assert train.main(["--env", "CartPole-v1", "--logdir", str(tmp_path / "local")]) == 0
    assert "\nsolved: " in capsys.readouterr().out
    (ray_run,), (local_run,) = (tmp_path / "ray").iterdir(), (tmp_path / "local").iterdir()
    assert figures(ray_run) == figures(local_run) and len(figures(local_run)) >= 2
    ray_bytes = [int(row["bytes_sent"]) for row in csv.DictReader(open(ray_run / "progress.csv"))]
    assert 0 < max(ray_bytes) < 16_000  # 128 members of a 40-weight network would be 20 kB as float32 weights
    for name in ("W.npy", "walk.npz"):
        ours, theirs = np.load(ray_run / "checkpoints" / "latest" / name), np.load(local_run / "checkpoints" / "latest" / name)
        if name == "W.npy":
            assert np.array_equal(ours, theirs)
        else:
            assert ours.files == theirs.files and all(np.array_equal(ours[k], theirs[k]) for k in ours.files)
