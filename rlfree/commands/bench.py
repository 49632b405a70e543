"""Speed of rlfree's batched evaluation, each figure beside a named alternative from the same run.

    rlfree bench                  # everything (about a minute and a half on 2 cores)
    rlfree bench --skip-solve     # throughput tables only
    rlfree bench --markdown bench.md
    rlfree bench --device cuda --batches 1024,16384,262144 --skip-gym

1. Policy-plus-environment steps per second of a population of free networks (hidden 16,
   2 ticks; 64 members, batch / 64 episodes each) at batch sizes 64, 1024 and 16384 (--batches):
   (a) rlfree's twin backend (``evaluate`` on the tensor twin);
   (b) gymnasium's SyncVectorEnv, the same policy batched in torch;
   (c) gymnasium's own NumPy CartPoleVectorEnv (``vector_entry_point``), same policy;
   (d) a hand-fused loop written below: the same network and physics in one plain torch loop
       with no framework around them (CartPole's physics inline; Acrobot's and Pendulum's
       through the twin's pure ``transition`` function, without ``TwinEnv.step``).
   CartPole runs a balancing controller so that episodes last; every loop counts only the
   steps of copies whose episode is still running.
2. The network's memory layout for one tick: (P, B, K) @ (P, K, A) against W @ column vectors.
   Then the gym backend (tasks without a twin): one generation of the shipped Acrobot-v1 and
   LunarLander-v3 agents, perturbed, on gymnasium's SyncVectorEnv and AsyncVectorEnv against
   rlfree's in-process and worker-process copies that step only running episodes.
3. Time to solve CartPole-v1 with the preset, seeds 0-4: twin backend against gymnasium's.
4. The walk's options on CartPole-v1 (twin backend, seeds 0-4): the defaults against centred
   ranks with Adam, no mirroring, and the seed-faithful variant.

``--device cuda`` moves rlfree's own work there: the twin (a), the hand-fused loop (d), the layout
step (2) and every twin-backend training (3, 4). Gymnasium's envs are numpy on the CPU, so (b),
(c), the gym-backend table and the gymnasium backend's time to solve stay on the CPU. Beside the
device's twin, the same twin on the CPU is measured in the same run (and the twin's time to
solve), so that the device's figure stands beside a named alternative. Clocks are read after
``torch.cuda.synchronize``: CUDA runs its kernels asynchronously. ``--skip-gym`` leaves out
everything that runs gymnasium's own envs (slow, and the bulk of the time at large batches).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

from rlfree.atomic_text import write_text_atomically
from rlfree.cli import ArgumentParser
from rlfree.config import Config, ConfigError, check_device, load_toml
from rlfree.evaluate import evaluate
from rlfree.markdown_table import markdown_table
from rlfree.network import tanh_
from rlfree.policy import Policy
from rlfree.registry import make_twin
from rlfree.run_loop import RunLoop
from rlfree.seeding import seeded_uniform
from rlfree.shipped import agents_dir, preset_path
from rlfree.trainer import Trainer
from rlfree.vector import GymVectorEnv, MissingDependencyError, check_dependencies

BATCHES = (64, 1024, 16384)
POPULATION = 64
HIDDEN, TICKS = 16, 2
CPU = torch.device("cpu")


def parse_batches(text: str) -> tuple[int, ...]:
    """'64,1024,16384' -> (64, 1024, 16384); argparse's one-line refusal unless each size is a
    positive multiple of POPULATION (every member plays batch / POPULATION episodes)."""
    try:
        batches = tuple(int(part) for part in text.split(","))
    except ValueError:
        batches = ()
    if not batches or any(batch < POPULATION or batch % POPULATION for batch in batches):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not accepted: use batch sizes separated by commas, each a multiple of {POPULATION} "
            f"(the population), e.g. {','.join(map(str, BATCHES))}"
        )
    return batches


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device``: CUDA kernels run after their launch returns, so a
    clock read without this would time the launches, not the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_line(device: torch.device) -> str:
    """What the header says about a device other than the CPU: its name, and CUDA's version."""
    if device.type == "cuda":
        return f", device {device} ({torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda})"
    return f", device {device}"


def make_policy(env_id: str) -> Policy:
    env = gym.make(env_id)
    policy = Policy.for_spaces(env_id, env.observation_space, env.action_space, hidden=HIDDEN, ticks=TICKS, activation="tanh")
    env.close()
    return policy


def population_params(policy: Policy, env_id: str) -> torch.Tensor:
    """(POPULATION, D) weights: small random ones, plus a balancing rule on CartPole."""
    generator = torch.Generator().manual_seed(0)
    spec = policy.spec
    W = torch.randn(POPULATION, spec.n_activations, spec.n_columns, generator=generator) * 0.05
    if env_id == "CartPole-v1":
        # output 1 (push right) grows with the pole's angle and angular velocity: it balances
        W[:, 1, 1:5] += torch.tensor([0.2, 0.5, 8.0, 1.5])
    return W.reshape(POPULATION, -1)


def timed(fn, min_seconds: float = 0.5, device: torch.device = CPU) -> tuple[float, int]:
    """Run fn() (returning a step count) until min_seconds passed; (seconds, steps). Work fn()
    queued on ``device`` is finished before each clock read."""
    fn()  # warm-up: allocations, first-call overheads (on CUDA: kernel loading, cuBLAS's handle)
    synchronize(device)
    steps, started = 0, time.perf_counter()
    while True:
        steps += fn()
        synchronize(device)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed, steps


def framework_rate(policy, params, env, episodes: int, horizon: int) -> float:
    """Steps per second of ``evaluate`` on ``env``; params: (POPULATION, D) on the env's device."""
    seeds = torch.arange(episodes, dtype=torch.int64)
    seconds, steps = timed(lambda: evaluate(policy, params, env, seeds, max_steps=horizon).env_steps, device=params.device)
    return steps / seconds


def fused_rate(env_id: str, policy: Policy, params: torch.Tensor, episodes: int, horizon: int) -> float:
    """The hand-fused reference loop: network and physics in plain torch, no framework, on params' device."""
    spec = policy.spec
    device = params.device
    P, B, A, I = POPULATION, episodes, spec.n_activations, spec.n_inputs
    W = params.reshape(P, A, spec.n_columns)
    bias = W[:, :, 0].unsqueeze(1).contiguous()
    w_in = W[:, :, 1 : 1 + I].transpose(1, 2).contiguous()
    w_rec = W[:, :, 1 + I :].transpose(1, 2).contiguous()
    seeds = torch.arange(B, dtype=torch.int64, device=device).repeat(P)
    twin = None if env_id == "CartPole-v1" else make_twin(env_id, P * B, device=device)
    low, high = (
        (torch.as_tensor(policy.decoder.low, dtype=torch.float32, device=device), torch.as_tensor(policy.decoder.high, dtype=torch.float32, device=device))
        if policy.decoder.kind == "box" else (None, None)
    )

    def run() -> int:
        a = torch.zeros(P, B, A, device=device)
        running = torch.ones(P * B, dtype=torch.bool, device=device)
        steps = torch.zeros((), dtype=torch.int64, device=device)
        if twin is None:
            x, x_dot, theta, theta_dot = (seeded_uniform(seeds, 4) * 0.1 - 0.05).T.contiguous()
        else:
            state = twin.initial_state(seeds)
        for _ in range(horizon):
            obs = torch.stack([x, x_dot, theta, theta_dot], 1) if twin is None else twin.observe(state)
            drive = torch.baddbmm(bias, obs.reshape(P, B, I), w_in)
            for _ in range(TICKS):
                a = tanh_(torch.baddbmm(drive, a, w_rec))  # the network's own tanh, same math
            out = a[..., : spec.n_outputs].reshape(P * B, spec.n_outputs)
            if twin is None:
                force = torch.where(out[:, 1] > out[:, 0], 10.0, -10.0)
                costheta, sintheta = torch.cos(theta), torch.sin(theta)
                temp = (force + 0.05 * theta_dot * theta_dot * sintheta) / 1.1
                thetaacc = (9.8 * sintheta - costheta * temp) / (0.5 * (4.0 / 3.0 - 0.1 * costheta * costheta / 1.1))
                xacc = temp - 0.05 * thetaacc * costheta / 1.1
                x = x + 0.02 * x_dot
                x_dot = x_dot + 0.02 * xacc
                theta = theta + 0.02 * theta_dot
                theta_dot = theta_dot + 0.02 * thetaacc
                done = (x.abs() > 2.4) | (theta.abs() > 0.20943951023931953)
            else:
                if low is None:
                    action = out.argmax(dim=1)
                else:
                    action = low + (out.clamp(-1.0, 1.0) + 1.0) * (high - low) / 2  # tanh outputs map linearly
                state, _, done = twin.transition(state, action)
            steps += running.sum()
            running &= ~done
        return int(steps)

    seconds, steps = timed(run, device=device)
    return steps / seconds


def throughput_header(device: torch.device, with_gym: bool, with_numpy_vector: bool) -> list[str]:
    """The columns of :func:`throughput_table`'s rows, in their order."""
    header = ["task", "batch"]
    if device.type == "cpu":
        header += ["twin steps/s"]
    else:
        header += [f"twin on {device} steps/s", "twin on cpu steps/s", f"{device} / cpu"]
    if with_gym:
        header += ["SyncVectorEnv steps/s", "twin / sync"]
        if with_numpy_vector:
            header += ["gymnasium NumPy vector env steps/s", "twin / NumPy"]
    return header + ["hand-fused steps/s", "twin / fused"]


def throughput_table(env_id: str, with_numpy_vector: bool, batches=BATCHES, device: torch.device = CPU, with_gym: bool = True) -> list[list[str]]:
    """Rows of :func:`throughput_header`'s columns, one per batch size. The twin and the
    hand-fused loop run on ``device``; gymnasium's envs are numpy, so their policy runs on the CPU."""
    policy = make_policy(env_id)
    params = population_params(policy, env_id)
    on_device = params.to(device)
    horizon = 200
    rows = []
    for batch in batches:
        episodes = batch // POPULATION
        print(f"  {env_id} batch {batch} ...", file=sys.stderr, flush=True)
        twin = framework_rate(policy, on_device, make_twin(env_id, batch, device=device), episodes, horizon)
        row = [env_id, f"{batch:,}", f"{twin:,.0f}"]
        if device.type != "cpu":  # the named alternative of a device: the same twin on the CPU, in this run
            on_cpu = framework_rate(policy, params, make_twin(env_id, batch), episodes, horizon)
            row += [f"{on_cpu:,.0f}", f"{twin / on_cpu:.2f}x"]
        if with_gym:
            sync_env = GymVectorEnv(env_id, batch, vectorization="gymnasium_sync")
            sync = framework_rate(policy, params, sync_env, episodes, max(4, 12800 // batch))
            sync_env.close()
            row += [f"{sync:,.0f}", f"{twin / sync:.0f}x"]
            if with_numpy_vector:
                vector_env = GymVectorEnv(env_id, batch, vectorization="vector_entry_point")
                numpy_vec = framework_rate(policy, params, vector_env, episodes, horizon)
                vector_env.close()
                row += [f"{numpy_vec:,.0f}", f"{twin / numpy_vec:.2f}x"]
        fused = fused_rate(env_id, policy, on_device, episodes, horizon)
        row += [f"{fused:,.0f}", f"{twin / fused:.0%}"]
        rows.append(row)
    return rows


def layout_table(batches=BATCHES, device: torch.device = CPU) -> list[list[str]]:
    """One network step (2 ticks) in each layout, conversions included, at the table's shapes.

    rows: rlfree's FreeNetwork.step, (P, B, K) @ (P, K, A). columns: the same step written as
    W @ column vectors, activations kept as (P, A, B); the observations arrive member-major as
    (P * B, I) and the outputs must leave that way too, so the transposes are part of the cost.
    """
    policy = make_policy("CartPole-v1")
    spec = policy.spec
    params = population_params(policy, "CartPole-v1").to(device)
    network = policy.network(params)
    P, A, I = POPULATION, spec.n_activations, spec.n_inputs
    W = params.reshape(P, A, spec.n_columns)
    bias_col, w_in, w_rec = W[:, :, :1].contiguous(), W[:, :, 1 : 1 + I].contiguous(), W[:, :, 1 + I :].contiguous()
    rows = []
    for batch in batches:
        B = batch // P
        obs = torch.randn(P * B, I).to(device)
        a_rows = network.initial_activations(B)
        a_cols = torch.zeros(P, A, B, device=device)

        def step_rows():
            network.step(obs.reshape(P, B, I), a_rows)
            return 1

        def step_columns():
            x = obs.reshape(P, B, I).transpose(1, 2)  # (P, I, B)
            drive = torch.baddbmm(bias_col, w_in, x)
            a = a_cols
            for _ in range(TICKS):
                a = tanh_(torch.baddbmm(drive, w_rec, a))
            return int(a[:, : spec.n_outputs].transpose(1, 2).reshape(P * B, -1).shape[0] > 0)

        row_s, row_n = timed(step_rows, 0.3, device)
        col_s, col_n = timed(step_columns, 0.3, device)
        row_us, col_us = row_s / row_n * 1e6, col_s / col_n * 1e6
        rows.append([f"{batch:,}", f"{row_us:.1f}", f"{col_us:.1f}", f"{col_us / row_us:.2f}x"])
    return rows


def solve(seeds: list[int], overrides: dict, label: str) -> tuple[list[float], list[int], list[int]]:
    """Train CartPole-v1 from its preset plus ``overrides`` for each seed: (seconds, generations, env steps)."""
    times, generations, steps = [], [], []
    for seed in seeds:
        config = Config()
        config.update(load_toml(preset_path("CartPole-v1")), "preset")
        config.update(overrides, label)
        config.run.seed = seed
        print(f"  solving CartPole-v1 ({label}), seed {seed} ...", file=sys.stderr, flush=True)
        loop = RunLoop(Trainer(config), Path("unused"), config=config)
        loop.save = lambda *args, **kwargs: None  # time the learning, not the disk
        state = loop.run().state
        times.append(state.elapsed if state.solved else math.inf)
        generations.append(state.generation)
        steps.append(state.env_steps)
    return times, generations, steps


def solve_row(label: str, times, generations, steps, reference: float) -> list[str]:
    median = statistics.median(times)
    return [
        label,
        " ".join("unsolved" if math.isinf(t) else f"{t:.2f}" for t in times),
        f"{median:.2f}",
        " ".join(str(g) for g in generations),
        f"{statistics.median(steps):,.0f}",
        f"{median / reference:.2f}x",
    ]


def command_flags(device: torch.device) -> list[str]:
    """The README's training command's flags, and ``--device`` when it is not the CPU."""
    return ["--env", "CartPole-v1"] + ([] if device.type == "cpu" else ["--device", str(device)])


def command_times(seeds: list[int], device: torch.device = CPU) -> tuple[list[float], list[float], list[int], list[int]]:
    """The README's command itself, ``rlfree train --env CartPole-v1 --seed S``, as a user runs it
    (with ``--device`` when it is not the CPU).

    Returns (training seconds as the command prints them, whole-process wall seconds incl.
    interpreter start and imports, generations, env steps).
    """
    training, wall, generations, steps = [], [], [], []
    pattern = re.compile(r"after (\d+) generations, ([\d,]+) env steps, ([\d.]+) s of training")
    with tempfile.TemporaryDirectory() as logdir:
        for seed in seeds:
            print(f"  rlfree train {' '.join(command_flags(device))} --seed {seed} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "rlfree", "train", *command_flags(device), "--seed", str(seed), "--logdir", logdir],
                capture_output=True, text=True,
            )
            wall.append(time.perf_counter() - started)
            found = pattern.search(done.stdout)
            if done.returncode != 0 or not found:
                training.append(math.inf)
                generations.append(-1)
                steps.append(0)
                continue
            generations.append(int(found[1]))
            steps.append(int(found[2].replace(",", "")))
            training.append(float(found[3]))
    return training, wall, generations, steps


def solve_times(seeds: list[int], device: torch.device = CPU, with_gym: bool = True) -> list[list[str]]:
    """The command's rows, then in-process: the twin on ``device`` (the reference), the twin on
    the CPU when ``device`` is another, and gymnasium's backend (numpy envs, on the CPU)."""
    training, wall, generations, steps = command_times(seeds, device)
    on = "" if device.type == "cpu" else f" on {device}"
    twin = solve(seeds, {"env": {"backend": "torch", "device": str(device)}}, f"twin backend{on}")
    reference = statistics.median(twin[0])
    rows = [
        solve_row(f"`rlfree train {' '.join(command_flags(device))}` (twin), training", training, generations, steps, reference),
        solve_row("the same command, whole process (interpreter start, imports, logging)", wall, generations, steps, reference),
        solve_row(f"twin (torch) backend{on}, in-process", *twin, reference),
    ]
    if device.type != "cpu":
        rows.append(solve_row("twin (torch) backend on cpu, in-process", *solve(seeds, {"env": {"backend": "torch"}}, "twin backend on cpu"), reference))
    if with_gym:
        gym_backend = solve(seeds, {"env": {"backend": "gym"}}, "gym backend")
        rows.append(solve_row("gymnasium backend (gym.make copies, sync), in-process", *gym_backend, reference))
    return rows


GYM_VECTORIZATIONS = {
    "gymnasium SyncVectorEnv": ("gymnasium_sync", 0),
    "gymnasium AsyncVectorEnv (a process per copy)": ("gymnasium_async", 0),
    "rlfree sync (running copies only)": ("sync", 0),
    "rlfree async (running copies only, a worker per core)": ("async", 0),
}


def gym_backend_rows(env_id: str, members: int = 64, episodes: int = 2) -> list[list[str]]:
    """One generation late in training on the gym backend: the shipped agent's weights perturbed
    (sigma 0.1) for ``members`` x ``episodes`` copies, timed with each kind of vectorisation.

    Env construction (a process per copy for gymnasium's AsyncVectorEnv) is not timed.
    """
    from rlfree.agent import load_agent

    agent = load_agent(agents_dir() / env_id)
    generator = torch.Generator().manual_seed(0)
    params = agent.params.to(torch.float32) + 0.1 * torch.randn(members, agent.params.shape[1], generator=generator)
    seeds = torch.arange(episodes, dtype=torch.int64)
    rows, reference = [], None
    for label, (vectorization, workers) in GYM_VECTORIZATIONS.items():
        print(f"  {env_id} on the gym backend: {label} ...", file=sys.stderr, flush=True)
        env = GymVectorEnv(env_id, members * episodes, vectorization=vectorization, workers=workers)
        try:
            started = time.perf_counter()
            rollout = evaluate(agent.policy, params, env, seeds)
            seconds = time.perf_counter() - started
        finally:
            env.close()
        reference = reference or seconds
        rows.append([env_id, label, f"{seconds:.2f}", f"{rollout.env_steps:,}", f"{reference / seconds:.2f}x"])
    return rows


def gym_backend_table() -> list[list[str]]:
    rows = gym_backend_rows("Acrobot-v1")
    try:
        check_dependencies("LunarLander-v3")
    except MissingDependencyError as err:
        print(f"  LunarLander-v3 left out: {err}", file=sys.stderr)
    else:
        rows += gym_backend_rows("LunarLander-v3")
    return rows


WALK_OPTIONS = {
    "defaults: mirrored, z-scored returns, SGD": {},
    "centred ranks + Adam (lr 0.05)": {"walk": {"shaping": "centred_ranks", "optimizer": "adam", "lr": 0.05}},
    "no mirrored pairs": {"walk": {"mirrored": False}},
    "seed-faithful (forward difference, plain average)": {"walk": {"variant": "seed", "lr": 0.01}},
}


def walk_options(seeds: list[int], device: torch.device = CPU) -> list[list[str]]:
    rows, reference = [], None
    for label, overrides in WALK_OPTIONS.items():
        overrides = {**overrides, "algo": {"algo": "walk"}, "run": {"generations": 100}, "env": {"device": str(device)}}
        result = solve(seeds, overrides, label)
        reference = reference or statistics.median(result[0])
        rows.append(solve_row(label, *result, reference))
    return rows


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree bench"
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-solve", action="store_true", help="leave out the time-to-solve runs")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 for time-to-solve (default: 5)")
    parser.add_argument("--skip-walk", action="store_true", help="leave out the comparison of the walk's options")
    parser.add_argument("--skip-gym", action="store_true",
                        help="leave out gymnasium's own envs: the SyncVectorEnv and NumPy vector env columns, the gym-backend table "
                             "and the gymnasium backend's time to solve")
    parser.add_argument("--device", default="cpu",
                        help="torch device of the twin, the hand-fused loop, the layout step and the twin's trainings: cpu, cuda, "
                             "cuda:1, ...; not cpu adds the same twin on the CPU beside it (default: cpu)")
    parser.add_argument("--batches", type=parse_batches, default=BATCHES, metavar="B,B,...",
                        help=f"batch sizes of the throughput and layout tables, multiples of {POPULATION} "
                             f"(default: {','.join(map(str, BATCHES))})")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, as the trainer's default (default: 1)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    args = parser.parse_args(argv)
    if args.threads < 1:
        print(f"{prog}: error: --threads {args.threads} is not accepted: use 1 or more", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.seeds < 1:
        print(f"{prog}: error: --seeds {args.seeds} is not accepted: use 1 or more", file=sys.stderr)
        return 2
    try:
        check_device(args.device)
    except ConfigError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    device, with_gym = torch.device(args.device), not args.skip_gym
    on = "" if device.type == "cpu" else f" on {device}"
    out = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, gymnasium {gym.__version__}"
           + ("" if device.type == "cpu" else device_line(device))]

    caption = "Policy + environment steps per second (free network, hidden 16, 2 ticks)"
    if device.type != "cpu":
        caption += f"; the twin and the hand-fused loop on {device}, beside the same twin on the CPU"
        if with_gym:
            caption += "; gymnasium's SyncVectorEnv and NumPy vector env on the CPU (their envs are numpy), the policy with them"
    header = throughput_header(device, with_gym, with_numpy_vector=True)
    out += ["", caption + ":", "", markdown_table(header, throughput_table("CartPole-v1", True, args.batches, device, with_gym))]
    short = throughput_header(device, with_gym, with_numpy_vector=False)
    rows = throughput_table("Acrobot-v1", False, args.batches, device, with_gym) + throughput_table("Pendulum-v1", False, args.batches, device, with_gym)
    out += ["", markdown_table(short, rows)]
    out += ["", f"One network step (2 ticks), microseconds, by memory layout (64 members, hidden 16){on}:", "",
            markdown_table(["batch", "rows (P,B,K)@(P,K,A): rlfree", "columns W@(P,K,B)", "columns / rows"], layout_table(args.batches, device))]
    if with_gym:
        where = "" if device.type == "cpu" else "; gymnasium's envs, so on the CPU"
        out += ["", f"The gym backend: one generation of 64 members x 2 episodes, the shipped agent perturbed (sigma 0.1), seconds ({os.cpu_count()} cores{where}):", "",
                markdown_table(["task", "vectorization", "seconds", "env steps counted", "speed-up over SyncVectorEnv"], gym_backend_table())]
    if not args.skip_solve:
        seeds = list(range(args.seeds))
        out += ["", f"Time to solve CartPole-v1 (preset; seconds from the first generation to the passing check on gymnasium; seeds {seeds[0]}-{seeds[-1]}{'; twin' + on if on else ''}):", "",
                markdown_table(["backend", "seconds per seed", "median s", "generations", "median env steps", "time / twin's"], solve_times(seeds, device, with_gym))]
    if not args.skip_walk:
        seeds = list(range(args.seeds))
        out += ["", f"The walk's options on CartPole-v1 (twin backend{on}, at most 100 generations; seeds {seeds[0]}-{seeds[-1]}):", "",
                markdown_table(["walk", "seconds per seed", "median s", "generations", "median env steps", "time / defaults'"], walk_options(seeds, device))]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    return 0
