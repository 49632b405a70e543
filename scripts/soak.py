#!/usr/bin/env python
"""A soak run: resident memory and open file descriptors over a long training, and Ctrl-C.

    python scripts/soak.py                       # 5000 generations of Acrobot-v1 (twin), 300 of LunarLander-v3 (async)
    python scripts/soak.py --acrobot 500 --lunar 30 --interrupts 2
    python scripts/soak.py --minutes 12          # each training stops after 12 minutes if not done

1. Trains Acrobot-v1 on its twin and LunarLander-v3 on gymnasium copies in worker processes
   (``--vectorization async``) in this process, with no target, and samples this process's
   resident memory with its worker processes' (``/proc/*/statm``) and open file descriptors (``/proc/self/fd``) after
   every generation: the table gives the first, the last and the largest figure, and the growth
   from the 10th generation (after warm-up allocations) to the last.
2. Starts ``rlfree train --env LunarLander-v3 --vectorization async`` as a child process
   ``--interrupts`` times, sends Ctrl-C (SIGINT to its process group, as a terminal does) after
   a different delay each time, and checks that the child exits with 130 and that no process of
   its group is left behind.

Linux only (/proc). Runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlfree.config import Config, load_toml
from rlfree.run_loop import RunLoop, make_run_folder
from rlfree.shipped import preset_path
from rlfree.trainer import Trainer

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_mib() -> float:
    """This process's resident memory plus its worker processes', MiB."""
    pids = ["self"]
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            pids += f.read().split()
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1])
        except OSError:  # a worker that just ended
            continue
    return total * PAGE / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Sampler:
    """An observer: resident memory and open descriptors after every generation."""

    def __init__(self):
        self.samples: list[tuple[int, float, int]] = []  # (generation, MiB, fds)

    def on_generation(self, record) -> None:
        self.samples.append((record.generation, resident_mib(), open_fds()))

    def close(self) -> None:
        pass


def soak(env_id: str, generations: int, logdir: Path, minutes: float, **env_settings) -> list[str]:
    config = Config()
    config.update(load_toml(preset_path(env_id)), "preset")
    config.run.generations, config.run.target, config.run.logdir = generations, 1e9, str(logdir)
    config.run.eval_freq = max(config.run.eval_freq, 10)
    for name, value in env_settings.items():
        setattr(config.env, name, value)
    sampler = Sampler()
    started = time.perf_counter()
    RunLoop(Trainer(config), make_run_folder(config), [sampler], config=config, stop=lambda state: state.elapsed >= 60 * minutes).run()
    seconds = time.perf_counter() - started
    first, warm, last = sampler.samples[0], sampler.samples[min(9, len(sampler.samples) - 1)], sampler.samples[-1]
    peak_mib, peak_fds = max(s[1] for s in sampler.samples), max(s[2] for s in sampler.samples)
    label = f"{env_id} ({'async' if env_settings else 'twin'})"
    return [
        f"| {label} | {last[0]:,} | {seconds:.0f} | {first[1]:.0f} / {last[1]:.0f} / {peak_mib:.0f} | {last[1] - warm[1]:+.1f} | "
        f"{first[2]} / {last[2]} / {peak_fds} | {last[2] - warm[2]:+d} |"
    ]


def group_alive(pgid: int) -> list[int]:
    """Processes still in process group ``pgid``."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    alive.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return alive


def interrupts(count: int, logdir: Path) -> list[str]:
    rows = []
    for i in range(count):
        delay = 4.0 + 3.0 * i  # while starting workers, in a generation, between generations ...
        child = subprocess.Popen(
            [sys.executable, "-m", "rlfree", "train", "--env", "LunarLander-v3", "--vectorization", "async", "-n", "1000",
             "--target", "1e9", "--logdir", str(logdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        try:
            time.sleep(delay)
            os.killpg(child.pid, signal.SIGINT)
            _, err = child.communicate(timeout=120)
            time.sleep(0.5)
            left = group_alive(child.pid)
            traceback = "Traceback" in err
            rows.append(f"| Ctrl-C after {delay:.0f} s | {child.returncode} | {len(left)} | {'yes' if traceback else 'no'} |")
        finally:
            for pid in group_alive(child.pid):
                os.kill(pid, signal.SIGKILL)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--acrobot", type=int, default=5000, help="generations of Acrobot-v1 on its twin (default: 5000)")
    parser.add_argument("--lunar", type=int, default=300, help="generations of LunarLander-v3, async workers (default: 300)")
    parser.add_argument("--interrupts", type=int, default=4, help="Ctrl-C trials of an async LunarLander run (default: 4)")
    parser.add_argument("--minutes", type=float, default=float("inf"), help="stop each training after this many minutes of training (default: none)")
    args = parser.parse_args(argv)
    header = [
        "| run | generations | seconds | resident MiB (with workers): first / last / peak | MiB, gen 10 to last | open fds: first / last / peak | fds, gen 10 to last |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)  # each row as soon as it is measured: a long soak may be cut short
    with tempfile.TemporaryDirectory(prefix="rlfree-soak-") as tmp:
        if args.lunar:
            print("\n".join(soak("LunarLander-v3", args.lunar, Path(tmp), args.minutes, vectorization="async", backend="gym")), flush=True)
        if args.acrobot:
            print("\n".join(soak("Acrobot-v1", args.acrobot, Path(tmp), args.minutes)), flush=True)
        if args.interrupts:
            print("\n| LunarLander-v3, async, 2 workers | exit code | processes left in its group | traceback |\n|---|---|---|---|", flush=True)
            for row in interrupts(args.interrupts, Path(tmp)):
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
