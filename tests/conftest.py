"""What several test modules share."""

import time
from pathlib import Path

import torch

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
