"""What several test modules share."""

import time
from pathlib import Path


def wait_for_generations(logdir: Path, count: int, timeout: float = 60.0) -> Path:
    """Wait until the one run in ``logdir`` has logged ``count`` generations (or ``timeout`` passed); its progress.csv."""
    deadline = time.time() + timeout
    while time.time() < deadline and not list(logdir.glob("*/progress.csv")):
        time.sleep(0.2)
    progress = next(iter(logdir.glob("*/progress.csv")))
    while time.time() < deadline and len(progress.read_text().splitlines()) < count + 1:  # the header, then a row each
        time.sleep(0.2)
    return progress
