"""The zoo: retrain every preset in agents/ for several seeds and tabulate how fast each is solved.

    rlfree zoo                                   # every preset, 3 seeds
    rlfree zoo --tasks CartPole-v1 Acrobot-v1 --seeds 3 --compare --markdown zoo.md
    rlfree zoo --reevaluate --no-train           # score the shipped agents only

For each task: solved seeds, the final agent's mean ± std over 100 episodes of gymnasium's own
environment (all seeds' episodes pooled), and the wall time and environment steps to the
target (median, with the range over seeds). The target is the env's ``reward_threshold`` (the
preset's ``[run] target`` for an env that has none).

rlfree runs as ``rlfree train --env ID --seed S`` does, except that it stops at that target
where a preset stops later to ship an agent with a margin (Acrobot-v1, LunarLander-v3, the
chasing cat-and-mouse task): every algorithm is timed to the same threshold. Its clock is the trainer's
``elapsed`` (every generation, its held-out evaluations of the centre and its 100-episode target
checks on gymnasium included; not the start-up), its steps are every step it took (training,
evaluation and check episodes). Runs go to a temporary folder.

``--compare`` (``pip install rlfree[compare]``) adds Stable-Baselines3 PPO and sb3-contrib ARS
(``--compare PPO``: one of them) with the tuned hyper-parameters of rl-baselines3-zoo
(hyperparams/ppo.yml and hyperparams/ars.yml, copied into PPO_ZOO and ARS_ZOO below: n_envs,
normalisation, budget and all), the same targets and the same evaluation:

- After each policy update, once at least ``--eval-every`` training steps have passed since the
  last one, the deterministic policy plays ``--cheap-episodes`` held-out episodes of gymnasium's
  env (the stand-in for rlfree's evaluation of its centre on 100 held-out episodes, which plays
  in the population's batch): its observations normalised by the training run's VecNormalize
  statistics of that moment, frozen, as rl-zoo evaluates (frozen_policy), and its returns the
  env's own rewards (ARS's alive_bonus_offset shifts training only). Their time is counted, as
  rlfree's evaluations are; with ``--free-evals`` it is not (the baselines are then timed as if
  evaluating were free).
- When the cheap mean reaches the target, the policy plays 100 fresh held-out episodes of
  gymnasium's env, built exactly as rlfree's target check builds them (gymnasium's own vector
  implementation where it ships one, else ``gym.make`` copies in this process; seeds from the
  same held-out range).
  The run is solved when that mean reaches the target; this check is counted, as rlfree's is.
- Steps to target are the training steps (``num_timesteps``), evaluation episodes not counted.
- rlfree's presets for tasks with a MuJoCo or Box2D env (``pip install rlfree[mujoco]`` or
  ``rlfree[box2d]``) run like any other; without the package the task is refused in one line
  before anything trains. ``RLFREE_AGENTS=DIR`` takes the presets from DIR instead of agents/.
- Every algorithm gets the same torch thread count (``--threads``, rlfree's default 1) and the
  same ``--time-limit`` of counted seconds per run; a run that hits it or ends its budget
  (rlfree: the preset's generations; the baselines: the zoo's n_timesteps) is "not solved".
- The final score of every algorithm uses the same 100 seeds (those of rlfree watch).

``--markdown`` is rewritten after every run (marked unfinished until the command ends), so a
long comparison that is stopped keeps the runs it finished. Ctrl-C or SIGTERM stops the whole
comparison (exit status 130), in whichever algorithm's run it comes.

``--json FILE`` keeps every finished run (its time, steps and 100 final returns) and resumes from
it: a run the file already holds is not run again, so a stopped comparison goes on where it
stopped, and a long one can be split into one command per algorithm with the same file::

    rlfree zoo --tasks HalfCheetah-v5 --seeds 2 --json cheetah.json                  # rlfree
    rlfree zoo --tasks HalfCheetah-v5 --seeds 2 --compare ARS --json cheetah.json    # ARS; rlfree's from the file

A saved run is reused only under the same settings for its algorithm (``--time-limit`` and
``--threads``; a baseline's ``--eval-every``, ``--cheap-episodes`` and ``--free-evals`` too);
otherwise the command stops in one line before anything trains.

Ratios are the baseline's median time over rlfree's (">" when the baseline missed the target on
more than half of the seeds, so that its median is only a lower bound).
"""

from __future__ import annotations

import argparse
import copy
import math
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlfree import shipped
from rlfree.agent import load_agent
from rlfree.atomic_text import write_text_atomically
from rlfree.backend import resolve_env_id
from rlfree.cli import ArgumentParser
from rlfree.coevolve import DUEL_ENV_ID
from rlfree.config import Config, load_toml
from rlfree.evaluate import episode_limit
from rlfree.markdown_table import markdown_table
from rlfree.run_loop import RunLoop, sigterm_as_interrupt
from rlfree.seeding import episode_seeds
from rlfree.shipped import preset_path
from rlfree.trainer import TARGET_CHECK_EPISODES, Trainer
from rlfree.vector import GymVectorEnv, MissingDependencyError, check_dependencies, has_vector_entry_point
from rlfree.zoo_runs import RunOutcome, ZooRuns, run_settings

FINAL_SEEDS = [1_500_000_000 + i for i in range(100)]  # rlfree watch's default seeds: held out

# rl-baselines3-zoo's hyperparams/ppo.yml and ars.yml, as they stand at its commit 22e3ff2 (2026-04-23;
# "Tuned" where the files say so). "lin_X" is X decayed linearly to 0. The files name MuJoCo's v4 envs
# (v3 before 2024); we run gymnasium's v5: the same bodies, observations and rewards, except that Hopper-v5
# gives its healthy reward only while healthy (v4 gave it on every step, a bug gymnasium fixed).
# normalize=True is VecNormalize on observations and rewards (gamma = the entry's gamma, as rl-zoo
# passes it); a dict gives VecNormalize's own arguments.
_PPO_MUJOCO_POLICY = dict(log_std_init=-2, ortho_init=False, activation_fn=torch.nn.ReLU,
                          net_arch=dict(pi=[256, 256], vf=[256, 256]))
_PPO_LUNAR = dict(n_envs=16, n_timesteps=1e6, policy="MlpPolicy", n_steps=1024, batch_size=64, gae_lambda=0.98,
                  gamma=0.999, n_epochs=4, ent_coef=0.01)
PPO_ZOO: dict[str, dict] = {
    "CartPole-v1": dict(n_envs=8, n_timesteps=1e5, policy="MlpPolicy", n_steps=32, batch_size=256, gae_lambda=0.8,
                        gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2"),
    "Acrobot-v1": dict(normalize=True, n_envs=16, n_timesteps=1e6, policy="MlpPolicy", n_steps=256, gae_lambda=0.94,
                       gamma=0.99, n_epochs=4, ent_coef=0.0),
    "MountainCar-v0": dict(normalize=True, n_envs=16, n_timesteps=1e6, policy="MlpPolicy", n_steps=16, gae_lambda=0.98,
                           gamma=0.99, n_epochs=4, ent_coef=0.0),
    "MountainCarContinuous-v0": dict(normalize=True, n_envs=1, n_timesteps=20000, policy="MlpPolicy", batch_size=256,
                                     n_steps=8, gamma=0.9999, learning_rate=7.77e-05, ent_coef=0.00429, clip_range=0.1,
                                     n_epochs=10, gae_lambda=0.9, max_grad_norm=5, vf_coef=0.19, use_sde=True,
                                     policy_kwargs=dict(log_std_init=-3.29, ortho_init=False)),
    "Pendulum-v1": dict(n_envs=4, n_timesteps=1e5, policy="MlpPolicy", n_steps=1024, gae_lambda=0.95, gamma=0.9,
                        n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4),
    "LunarLander-v3": _PPO_LUNAR,
    "LunarLanderContinuous-v3": _PPO_LUNAR,  # the file repeats LunarLander-v3's entry
    "BipedalWalker-v3": dict(normalize=True, n_envs=32, n_timesteps=5e6, policy="MlpPolicy", n_steps=2048, batch_size=64,
                             gae_lambda=0.95, gamma=0.999, n_epochs=10, ent_coef=0.0, learning_rate=3e-4, clip_range=0.18),
    # "tuned": the file's mujoco-defaults (normalize, 1e6 steps, MlpPolicy, one env) and its own settings
    "Swimmer-v5": dict(normalize=True, n_envs=4, n_timesteps=1e6, policy="MlpPolicy", gamma=0.9999, n_steps=1024,
                       batch_size=256, learning_rate=6e-4, gae_lambda=0.98),
    "HalfCheetah-v5": dict(normalize=True, n_envs=1, n_timesteps=1e6, policy="MlpPolicy", batch_size=64, n_steps=512,
                           gamma=0.98, learning_rate=2.0633e-05, ent_coef=0.000401762, clip_range=0.1, n_epochs=20,
                           gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096, policy_kwargs=_PPO_MUJOCO_POLICY),
    "Hopper-v5": dict(normalize=True, n_envs=1, n_timesteps=1e6, policy="MlpPolicy", batch_size=32, n_steps=512,
                      gamma=0.999, learning_rate=9.80828e-05, ent_coef=0.00229519, clip_range=0.2, n_epochs=5,
                      gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671, policy_kwargs=_PPO_MUJOCO_POLICY),
}

# ars.yml: the classic-control entries inherit Pendulum-v1's ("&pendulum-params"). alive_bonus_offset is
# added to every training step's reward (sb3-contrib ARS: return + offset * episode length, in
# evaluate_candidates only): the held-out evaluations, the check and the final score use the env's own
# reward, as rlfree's --reward-shift does. The file heads its MuJoCo entries "Params closest to original paper".
_ARS_PENDULUM = dict(n_envs=1, n_timesteps=2e6, policy="MlpPolicy", normalize=dict(norm_obs=True, norm_reward=False),
                     learning_rate=0.018, n_delta=4, n_top=1, delta_std=0.1, policy_kwargs=dict(net_arch=[16]),
                     zero_policy=False)
_ARS_OBS_ONLY = dict(norm_obs=True, norm_reward=False)
ARS_ZOO: dict[str, dict] = {
    "CartPole-v1": dict(n_envs=1, n_timesteps=5e4, policy="LinearPolicy", n_delta=2),
    "Pendulum-v1": _ARS_PENDULUM,
    "Acrobot-v1": {**_ARS_PENDULUM, "n_timesteps": 5e5},
    "MountainCar-v0": {**_ARS_PENDULUM, "n_delta": 8, "n_timesteps": 5e5},
    "MountainCarContinuous-v0": {**_ARS_PENDULUM, "n_timesteps": 5e5, "delta_std": 0.2},
    "LunarLander-v3": {**_ARS_PENDULUM, "n_delta": 6, "n_timesteps": 2e6},  # "TO BE Tuned"
    "LunarLanderContinuous-v3": {**_ARS_PENDULUM, "n_timesteps": 2e6},
    # "Almost tuned"; zero_policy left at ARS's default (True), as the file leaves it
    "BipedalWalker-v3": dict(n_envs=1, n_timesteps=1e8, policy="MlpPolicy", learning_rate=0.02, delta_std=0.0075,
                             n_delta=64, n_top=32, alive_bonus_offset=-0.1, normalize=_ARS_OBS_ONLY,
                             policy_kwargs=dict(net_arch=[16])),
    # the file's normalize line is commented out: Swimmer learns on raw observations
    "Swimmer-v5": dict(n_envs=1, n_timesteps=2e6, policy="LinearPolicy", learning_rate=0.02, delta_std=0.01, n_delta=1,
                       n_top=1, alive_bonus_offset=0),
    "Hopper-v5": dict(n_envs=1, n_timesteps=7e6, policy="LinearPolicy", learning_rate=0.01, delta_std=0.025, n_delta=8,
                      n_top=4, alive_bonus_offset=-1, normalize=_ARS_OBS_ONLY),
    "HalfCheetah-v5": dict(n_envs=1, n_timesteps=1.25e7, policy="LinearPolicy", learning_rate=0.02, delta_std=0.03,
                           n_delta=32, n_top=4, alive_bonus_offset=0, normalize=_ARS_OBS_ONLY),
}


@dataclass
class TaskResult:
    env_id: str
    target: float
    runs: dict[str, list[RunOutcome]] = field(default_factory=dict)  # algorithm -> one per seed
    note: str = ""


# -- evaluation shared by the baselines ---------------------------------------------------------
_ENVS: dict[tuple, GymVectorEnv] = {}


def play(env_id: str, act, seeds: list[int], vectorization: str = "sync") -> np.ndarray:
    """Returns (len(seeds),) of ``act(obs (N, *obs_shape)) -> actions (N, ...)`` on gymnasium's env.

    The loop is rlfree.evaluate's: one episode per copy, copies that are done are masked, and
    it ends when all are done.
    """
    key = (env_id, len(seeds), vectorization)
    if key not in _ENVS:
        _ENVS[key] = GymVectorEnv(env_id, len(seeds), vectorization=vectorization, dtype=torch.float64)
    env = _ENVS[key]
    obs = env.reset(torch.tensor(seeds, dtype=torch.int64)).numpy()
    returns = np.zeros(len(seeds))
    running = np.ones(len(seeds), dtype=bool)
    for _ in range(episode_limit(env.max_episode_steps)):
        obs, reward, terminated, truncated = env.step(torch.as_tensor(np.asarray(act(obs))))
        obs = obs.numpy()
        returns += np.where(running, reward.numpy(), 0.0)
        running &= ~(terminated | truncated).numpy()
        if not running.any():
            break
    return returns


def close_envs() -> None:
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


# -- rlfree -------------------------------------------------------------------------------------
def preset_config(env_id: str, agents_dir: Path) -> Config:
    config = Config()
    config.update(load_toml(preset_path(env_id, agents_dir)), str(preset_path(env_id, agents_dir)))
    return config


# Tasks that rlfree counts as solved at another score than gymnasium's reward_threshold. Hopper-v5: 3000, the target its
# preset and shipped agent were made for (gymnasium's is 3800), so that the zoo times and judges it as the README does.
THRESHOLDS = {"Hopper-v5": 3000.0}


def task_threshold(config: Config) -> float | None:
    """The score that counts as solving the task: THRESHOLDS, else the env's ``reward_threshold``, else the preset's target.

    A preset may stop later than that (``[run] target``) to ship an agent with a margin; the
    zoo times every algorithm to the same threshold.
    """
    env_id = resolve_env_id(config.env.env)
    if env_id in THRESHOLDS:
        return THRESHOLDS[env_id]
    threshold = gym.spec(env_id).reward_threshold
    return threshold if threshold is not None else config.run.target


def run_rlfree(env_id: str, agents_dir: Path, seed: int, args, logdir: Path) -> RunOutcome:
    """``rlfree train --env ID --seed S`` with no console or TensorBoard, stopped at the task's
    threshold (not a preset's later target) or at ``--time-limit``."""
    config = preset_config(env_id, agents_dir)
    config.run.seed = seed
    config.run.target = task_threshold(config)
    config.env.threads = args.threads
    run_dir = logdir / f"{config.env.env.replace('/', '-')}__zoo__{seed}"
    loop = RunLoop(Trainer(config), run_dir, config=config, stop=lambda state: state.elapsed >= args.time_limit)
    result = loop.run()
    result.raise_if_interrupted()  # Ctrl-C or SIGTERM ends the comparison, not only this run
    state = result.state
    final = load_agent(run_dir).score(FINAL_SEEDS)
    return RunOutcome(state.solved, state.elapsed, 0.0, state.env_steps, final)


# -- Stable-Baselines3 PPO and sb3-contrib ARS --------------------------------------------------
class _Solved(Exception):
    pass


class _OutOfTime(Exception):
    pass


def _schedule(value):
    """rl-zoo's "lin_X": X at the start, decayed linearly to 0 over the budget."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


def baseline_model(algo: str, env_id: str, seed: int):
    """(model, n_timesteps): PPO or ARS with the zoo's hyper-parameters on its training env, built as
    rl-zoo's train.py builds them (make_vec_env, then VecNormalize where the entry asks); None when
    the zoo has no entry for this task."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize
    from sb3_contrib import ARS

    table = PPO_ZOO if algo == "PPO" else ARS_ZOO
    if env_id not in table:
        return None
    hyper = copy.deepcopy(table[env_id])  # the entries share their policy_kwargs dicts
    n_envs, budget, policy = hyper.pop("n_envs"), int(hyper.pop("n_timesteps")), hyper.pop("policy")
    normalize = hyper.pop("normalize", False)
    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    if normalize:
        kwargs = normalize if isinstance(normalize, dict) else {}
        if "gamma" in hyper:
            kwargs = {**kwargs, "gamma": hyper["gamma"]}  # as rl-zoo does
        venv = VecNormalize(venv, **kwargs)
    hyper = {k: _schedule(v) for k, v in hyper.items()}
    model = (PPO if algo == "PPO" else ARS)(policy, venv, seed=seed, device="cpu", verbose=0, **hyper)
    return model, budget


def frozen_policy(model):
    """``act(obs (N, *obs_shape) float) -> actions (N, *action_shape)``: the deterministic policy as
    rl-zoo evaluates it.

    A model trained behind VecNormalize saw normalised observations, so raw ones are normalised
    here by a copy of its statistics taken now, VecNormalize's own formula: rl-zoo's evaluation
    env copies the training statistics before each evaluation (sync_envs_normalization) and never
    updates them (training=False). Playing gymnasium's env therefore neither moves the training
    statistics nor sees any gathered after this call.
    """
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is None or not vec_normalize.norm_obs:
        return lambda obs: model.predict(obs, deterministic=True)[0]
    mean, var = vec_normalize.obs_rms.mean.copy(), vec_normalize.obs_rms.var.copy()
    scale, clip = np.sqrt(var + vec_normalize.epsilon), vec_normalize.clip_obs

    def act(obs):
        normalised = np.clip((obs - mean) / scale, -clip, clip).astype(np.float32)
        return model.predict(normalised, deterministic=True)[0]

    return act


def run_baseline(algo: str, env_id: str, target: float, seed: int, args) -> RunOutcome | None:
    """PPO or ARS with the zoo's hyper-parameters; None when the zoo has none for this task."""
    from stable_baselines3.common.callbacks import BaseCallback

    built = baseline_model(algo, env_id, seed)
    if built is None:
        return None
    model, budget = built
    check_kind = "vector_entry_point" if has_vector_entry_point(env_id) else "sync"

    class ThresholdCallback(BaseCallback):
        """After each update: a cheap evaluation (timed unless --free-evals), and the 100-episode check (timed)."""

        def _on_training_start(self) -> None:
            self.started, self.eval_seconds, self.last_eval, self.evals = time.perf_counter(), 0.0, 0, 0
            self.solved_at: tuple[float, int] | None = None

        def counted(self) -> float:
            return time.perf_counter() - self.started - (self.eval_seconds if args.free_evals else 0.0)

        def _on_rollout_start(self) -> None:
            if self.num_timesteps - self.last_eval >= args.eval_every:
                self.last_eval = self.num_timesteps
                self.evals += 1
                begun = time.perf_counter()
                act = frozen_policy(model)  # the cheap evaluation and the check see the same statistics
                cheap_seeds = episode_seeds(seed, self.evals, args.cheap_episodes, "eval").tolist()
                cheap = play(env_id, act, cheap_seeds).mean()
                self.eval_seconds += time.perf_counter() - begun
                if cheap >= target:
                    check_seeds = episode_seeds(seed, self.evals, TARGET_CHECK_EPISODES, "check").tolist()
                    if play(env_id, act, check_seeds, check_kind).mean() >= target:
                        self.solved_at = (self.counted(), self.num_timesteps)
                        raise _Solved
            if self.counted() > args.time_limit:
                raise _OutOfTime

        def _on_step(self) -> bool:
            # also between updates: one of ARS's BipedalWalker-v3 updates plays 128 episodes
            if self.counted() > args.time_limit:
                raise _OutOfTime
            return True

    callback = ThresholdCallback()
    try:
        model.learn(budget, callback=callback)
    except (_Solved, _OutOfTime):
        pass
    stopped = callback.counted()  # before the final score, which no algorithm's clock counts
    final = play(env_id, frozen_policy(model), FINAL_SEEDS)
    model.get_env().close()
    if callback.solved_at is not None:
        return RunOutcome(True, callback.solved_at[0], callback.eval_seconds, callback.solved_at[1], final)
    return RunOutcome(False, stopped, callback.eval_seconds, model.num_timesteps, final)


# -- tables -------------------------------------------------------------------------------------
def _median_range(values: list[float], solved: list[bool], fmt) -> str:
    if not any(solved):
        return "—"
    data = [v if ok else math.inf for v, ok in zip(values, solved)]
    median = statistics.median(data)
    low, high = min(data), max(data)
    text = "—" if math.isinf(median) else fmt(median)
    return f"{text} [{fmt(low)}–{'∞' if math.isinf(high) else fmt(high)}]"


def _seconds(x: float) -> str:
    return f"{x:.2f}" if x < 1 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _steps(x: float) -> str:
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def median_time(runs: list[RunOutcome]) -> tuple[float, bool]:
    """(median seconds with unsolved runs as infinity, whether it is exact)."""
    data = [r.seconds if r.solved else math.inf for r in runs]
    median = statistics.median(data)
    if math.isinf(median):
        # a lower bound: the counted time at which the unsolved ones stopped
        return statistics.median([r.seconds for r in runs]), False
    return median, True


def results_table(results: list[TaskResult], algorithms: list[str]) -> str:
    header = ["task", "target"]
    for algo in algorithms:
        header += [f"{algo} solved", f"{algo} final 100-ep mean ± std", f"{algo} time to target, s", f"{algo} env steps to target"]
    header += [f"{algo} / rlfree time" for algo in algorithms[1:]]
    rows = []
    for task in results:
        row = [task.env_id + (f" ({task.note})" if task.note else ""), f"{task.target:g}"]
        for algo in algorithms:
            runs = task.runs.get(algo)
            if not runs:
                row += ["—"] * 4
                continue
            finals = np.concatenate([r.final for r in runs])
            solved = [r.solved for r in runs]
            row += [
                f"{sum(solved)}/{len(runs)}",
                f"{finals.mean():.1f} ± {finals.std():.1f}",
                _median_range([r.seconds for r in runs], solved, _seconds),
                _median_range([float(r.steps) for r in runs], solved, _steps),
            ]
        base = task.runs.get("rlfree")
        for algo in algorithms[1:]:
            runs = task.runs.get(algo)
            if not runs or not base:
                row.append("—")
                continue
            ours, ours_exact = median_time(base)
            theirs, theirs_exact = median_time(runs)
            if not ours_exact:
                row.append("—")
            else:
                row.append(f"{'' if theirs_exact else '>'}{theirs / ours:.1f}x")
        rows.append(row)
    return markdown_table(header, rows)


def shipped_table(env_ids: list[str], agents_dir: Path) -> str:
    rows = []
    for env_id in env_ids:
        shipped = preset_path(env_id, agents_dir).with_suffix("")
        target = task_threshold(preset_config(env_id, agents_dir))
        if not (shipped / "W.npy").is_file():
            rows.append([env_id, f"{target:g}", "no agent shipped", "—"])
            continue
        returns = load_agent(shipped).score(FINAL_SEEDS)
        mean = float(returns.mean())
        rows.append([env_id, f"{target:g}", f"{mean:.2f} ± {returns.std():.2f}", "yes" if mean >= target else "**no**"])
    return markdown_table(["task", "target", "shipped agent, 100 episodes of gymnasium's env", "target met"], rows)


# -- main ---------------------------------------------------------------------------------------
def preset_tasks(agents_dir: Path) -> list[str]:
    """The env ids of agents/*.toml; the cat-versus-mouse duel (train.py --coevolve) is not one task."""
    ids = []
    for path in sorted(agents_dir.glob("*.toml")):
        env_id = load_toml(path).get("env", {}).get("env", path.stem)
        if env_id != DUEL_ENV_ID:
            ids.append(env_id)
    return ids


BASELINES = ("PPO", "ARS")


def _baseline_name(text: str) -> str:
    """``--compare ppo`` names PPO: the baselines' names, any case."""
    for name in BASELINES:
        if text.lower() == name.lower():
            return name
    raise argparse.ArgumentTypeError(f"{text!r} is not a baseline; accepted: {', '.join(BASELINES)}")


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", metavar="ID", help="env ids with a preset in agents/ (default: every preset)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 per task and algorithm (default: 3)")
    parser.add_argument("--compare", nargs="*", metavar="ALGO", type=_baseline_name,
                        help="also Stable-Baselines3 PPO and sb3-contrib ARS (pip install rlfree[compare]); "
                             f"name some to run only those ({', '.join(BASELINES)})")
    parser.add_argument("--reevaluate", action="store_true", help="also score the shipped agents in agents/ over 100 episodes")
    parser.add_argument("--no-train", action="store_true", help="do not retrain (with --reevaluate: only score the shipped agents)")
    parser.add_argument("--markdown", metavar="FILE", help="write the tables, with this command, to FILE")
    parser.add_argument("--json", metavar="FILE",
                        help="keep every finished run in FILE; the runs it already holds (same settings) are not run again")
    parser.add_argument("--time-limit", type=float, default=900.0, help="counted seconds per run before it is called unsolved (default: 900)")
    parser.add_argument("--eval-every", type=int, default=2048, help="baselines: training steps between cheap evaluations (default: 2048)")
    parser.add_argument("--cheap-episodes", type=int, default=20, help="baselines: episodes of a cheap evaluation (default: 20)")
    parser.add_argument("--free-evals", action="store_true", help="baselines: do not count the time of their cheap evaluations")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for every algorithm (default: 1, rlfree's default)")
    return parser.parse_args(argv)


def usage_error(args: argparse.Namespace, tasks: list[str], agents_dir: Path) -> str | None:
    """What is wrong with the command line, in one line; None when nothing is."""
    for name, value in [("--seeds", args.seeds), ("--eval-every", args.eval_every), ("--cheap-episodes", args.cheap_episodes), ("--threads", args.threads)]:
        if value < 1:
            return f"{name} {value} is not accepted: use 1 or more"
    if not args.time_limit > 0:
        return f"--time-limit {args.time_limit} is not accepted: use a number of seconds > 0"
    for env_id in tasks:
        if not preset_path(env_id, agents_dir).is_file():
            return f"no preset for {env_id!r} in {agents_dir}; accepted: {', '.join(preset_tasks(agents_dir))}"
        try:
            check_dependencies(resolve_env_id(env_id))
        except MissingDependencyError as err:
            return f"{err} (or leave the task out with --tasks)"
    if args.compare is not None:
        try:
            import sb3_contrib  # noqa: F401
            import stable_baselines3  # noqa: F401
        except ImportError:
            return "--compare needs stable-baselines3 and sb3-contrib: pip install 'rlfree[compare]'"
    return None


def saved_runs_error(args: argparse.Namespace, tasks: list[str], algorithms: list[str],
                     agents_dir: Path) -> tuple[ZooRuns | None, str | None]:
    """(the runs of --json, what is wrong with them in one line): a file that is not the zoo's, or a run
    this command would reuse that was made under other settings."""
    if not args.json:
        return None, None
    try:
        saved = ZooRuns(args.json)
    except ValueError as err:
        return None, str(err)
    for env_id in tasks:
        for algo in algorithms:
            settings = settings_of(algo, env_id, agents_dir, args)  # reads the preset: once per task and algorithm
            for seed in range(args.seeds):
                conflict = saved.conflict(env_id, algo, seed, settings)
                if conflict:
                    return None, conflict
    return saved, None


def settings_of(algo: str, env_id: str, agents_dir: Path, args: argparse.Namespace) -> dict:
    """What a saved run of ``algo`` on ``env_id`` must have been made with to stand in this command's table."""
    return run_settings(algo, args.time_limit, args.threads, args.eval_every, args.cheap_episodes, args.free_evals,
                        task_threshold(preset_config(env_id, agents_dir)), preset_path(env_id, agents_dir))


def main(argv=None, prog: str | None = None) -> int:
    prog = prog or "rlfree zoo"
    args = parse_args(argv, prog)
    agents_dir = shipped.agents_dir()
    tasks = args.tasks or preset_tasks(agents_dir)
    error = usage_error(args, tasks, agents_dir)
    if error is not None:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    # --compare alone: both baselines; --compare PPO: that one (each once, in BASELINES' order)
    baselines = [] if args.compare is None else [b for b in BASELINES if b in args.compare or not args.compare]
    algorithms = ["rlfree"] + baselines
    saved, error = saved_runs_error(args, tasks, algorithms, agents_dir) if not args.no_train else (None, None)
    if error is not None:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    sections = []
    if not args.no_train:
        results = []
        # SIGTERM anywhere (a baseline's run too) stops the comparison as Ctrl-C does: the finished runs stay in --markdown
        with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="rlfree-zoo-") as tmp:
            for env_id in tasks:
                target = task_threshold(preset_config(env_id, agents_dir))
                task = TaskResult(env_id, target)
                for algo in algorithms:
                    # the preset as read before its runs, for --json's file (it reads and hashes the preset)
                    settings = settings_of(algo, env_id, agents_dir, args) if saved is not None else None
                    for seed in range(args.seeds):
                        torch.set_num_threads(args.threads)  # the trainer sets its own; the same for all
                        outcome = saved.get(env_id, algo, seed) if saved is not None else None
                        if outcome is not None:
                            print(f"{env_id}: {algo}, seed {seed}: from {args.json}", file=sys.stderr, flush=True)
                        else:
                            print(f"{env_id}: {algo}, seed {seed} ...", file=sys.stderr, flush=True)
                            if algo == "rlfree":
                                outcome = run_rlfree(env_id, agents_dir, seed, args, Path(tmp))
                            else:
                                outcome = run_baseline(algo, env_id, target, seed, args)
                            if outcome is None:
                                break
                            if saved is not None:
                                saved.add(env_id, algo, seed, settings, outcome)
                        task.runs.setdefault(algo, []).append(outcome)
                        status = "solved" if outcome.solved else "not solved"
                        evals = f" (cheap evaluations: {outcome.eval_seconds:.1f} s)" if algo != "rlfree" else ""
                        print(f"  {status} in {outcome.seconds:.1f} s{evals}, {outcome.steps:,} steps; final {outcome.final.mean():.1f}", file=sys.stderr, flush=True)
                        if args.markdown:  # after every run: a long comparison that is stopped keeps the runs it finished
                            write_markdown(args.markdown, argv, "(unfinished: the runs done so far)\n\n"
                                           + results_table(results + [task], algorithms))
                close_envs()
                results.append(task)
        sections.append(results_table(results, algorithms))
    if args.reevaluate:
        sections.append(shipped_table(tasks, agents_dir))
    text = "\n\n".join(sections)
    print(text)
    if args.markdown:
        write_markdown(args.markdown, argv, text)
    return 0


def write_markdown(path: str, argv: list[str] | None, text: str) -> None:
    """The tables under the command that made them, replacing the file whole (never half-written)."""
    command = "rlfree zoo " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    write_text_atomically(path, f"`{command.strip()}`\n\n{text}\n")

