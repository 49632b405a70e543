"""Checkpoints: save, load and resume, with no pickle anywhere.

A checkpoint is a folder::

    W.npy          the centre, shape (A, 1 + I + A): columns [1, encoded obs, previous activations]
    network.json   how to run W: network shape and options, observation encoding, action mapping
    walk.npz       the walk's tensors (centre, optimiser moments), read with allow_pickle=False
    state.json     format, generation, counters, sigma and the resolved run config

``W.npy`` and ``network.json`` alone are a portable agent: numpy can run it without rlfree.
Everything is written into a fresh temporary folder first and then swapped in by renames, so a
crash or Ctrl-C at any moment leaves either the old or the new checkpoint, never half of one;
the temporary folders a killed writer left are removed by the next save of that checkpoint.
Loading runs no code from the files: arrays are read without pickle, and the env id a
network.json names imports its package only when the user allows it (:mod:`rlfree.backend`).
"""

from __future__ import annotations

import json
import os
import zipfile
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlfree.errors import UserError

CHECKPOINT_FORMAT = "rlfree-checkpoint"
CHECKPOINT_VERSION = 1
FILES = ("W.npy", "network.json", "walk.npz", "state.json")


class CheckpointError(UserError, ValueError):
    """A path that is not a readable rlfree checkpoint; the message says what was expected."""


@dataclass
class Checkpoint:
    path: Path
    W: np.ndarray  # (A, K)
    network: dict  # Policy.to_json()
    walk: dict[str, np.ndarray]  # centre, adam_m, adam_v
    state: dict  # generation, counters, sigma, config


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _fresh_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder ``parent/prefix<random>``, made as mkdir makes any folder (its mode
    follows the umask, as the run folder's does; tempfile.mkdtemp's would be 0700)."""
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def save_checkpoint(path: str | Path, *, W: np.ndarray, network: dict, walk: dict[str, np.ndarray], state: dict,
                    extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a checkpoint folder at ``path`` atomically; returns the path. ``extra_files``: name ->
    bytes written beside the agent in the same folder (a picture of its wiring), never read back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    for stale in path.parent.glob(f"{prefix}*"):  # left by a writer killed mid-save; only one writer saves a checkpoint
        shutil.rmtree(stale, ignore_errors=True)
    tmp = _fresh_folder(path.parent, prefix)
    try:
        _write_npy(tmp / "W.npy", np.ascontiguousarray(W))
        _write_bytes(tmp / "network.json", (json.dumps(network, indent=2) + "\n").encode())
        with open(tmp / "walk.npz", "wb") as f:
            np.savez(f, **{k: np.ascontiguousarray(v) for k, v in walk.items()})
            f.flush()
            os.fsync(f.fileno())
        full_state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
        _write_bytes(tmp / "state.json", (json.dumps(full_state, indent=2) + "\n").encode())
        for name, data in (extra_files or {}).items():
            _write_bytes(tmp / name, data)
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)  # between these two renames only `.old` exists; load() falls back to it
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def find_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A checkpoint folder from a run folder (``checkpoints/<which>``) or a checkpoint folder itself."""
    path = Path(path)
    candidates = [path, path / "checkpoints" / which, path / "checkpoints" / ("latest" if which == "best" else "best")]
    for candidate in candidates:
        for folder in (candidate, candidate.with_name(f".{candidate.name}.old")):
            if (folder / "network.json").is_file() and (folder / "W.npy").is_file():
                return folder
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; give a run folder or a checkpoint folder")
    raise CheckpointError(
        f"{str(path)!r} is not an rlfree run or checkpoint: expected network.json and W.npy in it or in checkpoints/{which}"
    )


# numpy's np.load takes a file with neither magic for a pickle, and says so; these say what it is not
MAGIC = {".npy": (b"\x93NUMPY", "a numpy .npy array"), ".npz": (b"PK", "a numpy .npz archive")}


def _check_magic(path: Path) -> None:
    """CheckpointError when ``path`` is empty or does not start as its suffix's numpy format does."""
    magic, kind = MAGIC[path.suffix]
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if not head:
        raise CheckpointError(f"{str(path)!r} is empty (0 bytes); expected {kind}")
    if head != magic:
        raise CheckpointError(f"{str(path)!r} is not {kind} (its first bytes are not {magic!r})")


def load_checkpoint(path: str | Path, which: str = "best") -> Checkpoint:
    """Read a checkpoint without executing any code from it (no pickle)."""
    folder = find_checkpoint(path, which)
    try:
        network = json.loads((folder / "network.json").read_text())
        _check_magic(folder / "W.npy")
        W = np.load(folder / "W.npy", allow_pickle=False)
        state = json.loads((folder / "state.json").read_text()) if (folder / "state.json").is_file() else {}
        walk: dict[str, np.ndarray] = {}
        if (folder / "walk.npz").is_file():
            _check_magic(folder / "walk.npz")
            with np.load(folder / "walk.npz", allow_pickle=False) as archive:
                walk = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:  # a truncated file: EOFError, BadZipFile
        raise CheckpointError(f"checkpoint {str(folder)!r} cannot be read: {err}") from None
    if not isinstance(network, dict) or network.get("format") != "rlfree-free-network":
        raise CheckpointError(f"{str(folder / 'network.json')!r} is not an rlfree network config (format {network.get('format') if isinstance(network, dict) else None!r})")
    if not isinstance(network.get("env_id"), str):
        raise CheckpointError(f"{str(folder / 'network.json')!r} has env_id {network.get('env_id')!r}; expected a gymnasium id (a string)")
    if not isinstance(network.get("network"), dict):  # a resume reads no other part of it, and would go on without it
        raise CheckpointError(f"{str(folder / 'network.json')!r} has no 'network' table (the network's shape and options); it is damaged")
    if W.dtype.kind != "f":
        raise CheckpointError(f"{str(folder / 'W.npy')!r} holds {W.dtype} values; expected floats")
    if state and (not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT):
        found = state.get("format") if isinstance(state, dict) else None
        raise CheckpointError(f"{str(folder / 'state.json')!r} is not an rlfree checkpoint state (format {found!r})")
    shape = network.get("W_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)):
        shown = f"W_shape {json.dumps(shape)}" if "W_shape" in network else "no W_shape"
        raise CheckpointError(f"{str(folder / 'network.json')!r} has {shown}; expected a list of two whole numbers [A, K], the shape of W; it is damaged")
    expected = tuple(shape)
    if W.shape != expected:
        raise CheckpointError(f"{str(folder / 'W.npy')!r} has shape {W.shape}; network.json says {expected}")
    return Checkpoint(folder, W, network, walk, state)
