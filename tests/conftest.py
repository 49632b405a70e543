"""What several test modules share."""

import importlib.util
import os
import time
from pathlib import Path

import torch

# Ray's servers on 127.0.0.1 only, for the Ray instances the tests start (rlfree.ray_evaluator says
# why this switch does it); read when ray is first imported, so set before any test module imports it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

# The devices the device-sensitive tests run on: the CPU, and CUDA where this machine has it. A
# machine without a GPU collects only the cpu cases, so nothing is skipped there; on a GPU
# machine each such test also checks that the device gives what the CPU gives.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def wait_for_generations(logdir: Path, count: int, timeout: float = 60.0) -> Path:
    """Wait until the one run in ``logdir`` has logged ``count`` generations (or ``timeout`` passed); its progress.csv."""
    deadline = time.time() + timeout
    while time.time() < deadline and not list(logdir.glob("*/progress.csv")):
        time.sleep(0.2)
    progress = next(iter(logdir.glob("*/progress.csv")))
    while time.time() < deadline and len(progress.read_text().splitlines()) < count + 1:  # the header, then a row each
        time.sleep(0.2)
    return progress


def load_script(name: str):
    """scripts/NAME.py as a module: the report scripts are scripts, not rlfree commands or package modules."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
