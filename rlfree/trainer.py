"""The training loop: ask -> evaluate -> tell -> log -> checkpoint -> stop.

A run lives in ``runs/{env}__{exp}__{seed}__{time}/`` (config.toml, TensorBoard events,
progress.csv, checkpoints/latest and checkpoints/best). It stops by itself when the centre
reaches the target: a regular evaluation of the centre on held-out seeds reaches it, and then
a check of ``TARGET_CHECK_EPISODES`` episodes of gymnasium's own environment, on fresh held-out
seeds, confirms it. Every figure is a function of (config, seed), so a resumed run continues
exactly as if it had never stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import torch

from rlfree.backend import choose_backend, make_batched_env, resolve_env_id, torch_settings
from rlfree.board import GenerationRecord
from rlfree.checkpoint import Checkpoint, save_checkpoint
from rlfree.config import Config, ConfigError, to_toml
from rlfree.errors import UserError
from rlfree.evaluate import evaluate
from rlfree.optimiser import make_optimiser
from rlfree.policy import Policy
from rlfree.seeding import episode_seeds, weights_generator
from rlfree.vector import GymVectorEnv, has_vector_entry_point

TARGET_CHECK_EPISODES = 100


class RunFolderError(UserError, OSError):
    """The run folder cannot be made or written."""


def run_folder_name(config: Config) -> str:
    env = config.env.env.split(":")[-1].replace("/", "-")
    return f"{env}__{config.run.exp_name}__{config.run.seed}__{int(time.time())}"


def make_run_folder(config: Config) -> Path:
    """Create ``logdir/{env}__{exp}__{seed}__{time}`` and write config.toml into it."""
    base = Path(config.run.logdir)
    run_dir = base / run_folder_name(config)
    suffix = 1
    try:
        while run_dir.exists():
            run_dir = base / f"{run_folder_name(config)}-{suffix}"
            suffix += 1
        run_dir.mkdir(parents=True)
        (run_dir / "config.toml").write_text(to_toml(config.to_dict()))
    except OSError as err:
        raise RunFolderError(f"run folder {str(run_dir)!r} cannot be written ({err.strerror or err}); choose another --logdir") from None
    return run_dir


@dataclass
class RunResult:
    run_dir: Path
    generations: int
    env_steps: int
    episodes: int
    elapsed: float  # seconds of training, first generation to the last (target check included)
    solved: bool
    interrupted: bool
    best_eval: float | None
    check_mean: float | None  # the passing (or last) target check on gymnasium's own env


class Trainer:
    """Owns a run: the walk, the environments, the counters and the observers."""

    def __init__(self, config: Config, run_dir: Path, observers: list | None = None, checkpoint: Checkpoint | None = None):
        config.validate()
        self.config = config
        self.run_dir = run_dir
        self.observers = list(observers or [])
        self.env_id = resolve_env_id(config.env.env)
        self.backend = choose_backend(self.env_id, config.env.backend)
        self.device, self.dtype = torch_settings(config.env)
        run, net = config.run, config.network
        self.check_env = None
        rows = config.walk.population + (1 if config.walk.variant == "seed" else 0)
        first_env = self._make_env(rows * run.episodes)
        self._envs = {rows * run.episodes: first_env}
        try:
            # the id as given ('my_pkg:MyEnv-v0' included), so that loading the agent imports its package
            self.policy = Policy.from_config(config.env.env, first_env.observation_space, first_env.action_space, net)
        except ValueError:
            first_env.close()  # an async vector env would otherwise keep its worker processes
            raise
        generator = weights_generator(run.seed)
        centre = self.policy.initial_params(generator, net.init_scale, self.dtype).to(self.device)
        self.walk = make_optimiser(config.walk, centre, run.seed)
        self.target = run.target if run.target is not None else gym.spec(self.env_id).reward_threshold
        self.env_steps = 0
        self.episodes = 0
        self.elapsed = 0.0
        self.best_eval: float | None = None
        self.check_mean: float | None = None
        self.solved = False
        if checkpoint is not None:
            self._restore(checkpoint)
        self._snapshot = self.walk.state_dict()

    # -- environments ---------------------------------------------------------------------------
    def _make_env(self, num_envs: int, backend: str | None = None):
        return make_batched_env(
            self.env_id,
            num_envs,
            backend or self.backend,
            device=self.device,
            dtype=self.dtype,
            vectorization=self.config.env.vectorization,
            workers=self.config.env.workers,
        )

    def close(self) -> None:
        for env in [*self._envs.values(), self.check_env]:
            if env is not None:
                env.close()

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> RunResult:
        interrupted = False
        try:
            while self.walk.generation < self.config.run.generations and not self.solved:
                self.train_generation()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            # what was last completed, even when Ctrl-C came in the middle of a generation
            self.save("latest", self._snapshot)
            self.close()
            for observer in self.observers:
                observer.close()
        return RunResult(
            self.run_dir, self.walk.generation, self.env_steps, self.episodes, self.elapsed, self.solved, interrupted, self.best_eval, self.check_mean
        )

    def train_generation(self) -> GenerationRecord:
        """One generation: ask, evaluate, tell, log, checkpoint.

        When an evaluation is due, the centre (as it was when the generation began) plays
        ``eval_episodes`` held-out episodes in the same batch as the population: one pass of
        the step loop instead of two. If it reaches the target, the target check on
        gymnasium's own environment decides whether the run is solved.
        """
        run = self.config.run
        started = time.perf_counter()
        generation = self.walk.generation
        before = self._snapshot  # the centre the evaluation below measures
        members = self.walk.ask()
        seeds = episode_seeds(run.seed, generation, run.episodes).expand(members.shape[0], run.episodes)
        evaluating = (generation + 1) % run.eval_freq == 0
        if evaluating:
            eval_rows = math.ceil(run.eval_episodes / run.episodes)
            eval_seeds = episode_seeds(run.seed, generation, eval_rows * run.episodes, "eval").reshape(eval_rows, run.episodes)
            params = torch.cat([members, self.walk.centre.expand(eval_rows, -1)])
            seeds = torch.cat([seeds, eval_seeds])
        else:
            params = members
        rollout = evaluate(self.policy, params, self._env(params.shape[0] * run.episodes), seeds, max_steps=run.horizon or None)
        stats = self.walk.tell(rollout.returns[: members.shape[0]])
        steps, self.episodes = rollout.env_steps, self.episodes + rollout.lengths.numel()
        eval_mean = eval_std = check_mean = None
        if evaluating:
            returns = rollout.returns[members.shape[0] :].reshape(-1).to(torch.float64)
            eval_mean, eval_std = float(returns.mean()), float(returns.std(unbiased=False))
            if self.target is not None and eval_mean >= self.target:
                check_mean, check_steps = self.target_check(generation, before["centre"])
                steps, self.episodes = steps + check_steps, self.episodes + TARGET_CHECK_EPISODES
                self.check_mean = check_mean
                self.solved = check_mean >= self.target
        self.env_steps += steps
        seconds = time.perf_counter() - started
        self.elapsed += seconds
        self._snapshot = self.walk.state_dict()
        record = GenerationRecord(
            generation=self.walk.generation,
            env_steps=self.env_steps,
            episodes=self.episodes,
            population_mean=stats["population_mean"],
            population_max=stats["population_max"],
            population_min=stats["population_min"],
            episode_length_mean=float(rollout.lengths[: members.shape[0]].to(torch.float64).mean()),
            sigma=self.walk.sigma,
            step_norm=stats["step_norm"],
            weight_norm=stats["weight_norm"],
            nan_returns=stats["nan_returns"],
            steps_per_second=steps / max(seconds, 1e-9),
            elapsed=self.elapsed,
            eval_mean=eval_mean,
            eval_std=eval_std,
            check_mean=check_mean,
        )
        if eval_mean is not None and (self.best_eval is None or eval_mean > self.best_eval or self.solved):
            self.best_eval = eval_mean
            self.save("best", before)
        if self.walk.generation % run.save_freq == 0:
            self.save("latest", self._snapshot)
        W = self.centre_matrix(before["centre"]) if eval_mean is not None else None
        for observer in self.observers:
            observer.on_generation(record, W)
        return record

    def _env(self, num_envs: int):
        """The batched env with ``num_envs`` copies (with and without evaluation rows)."""
        if num_envs not in self._envs:
            self._envs[num_envs] = self._make_env(num_envs)
        return self._envs[num_envs]

    def target_check(self, generation: int, centre: torch.Tensor) -> tuple[float, int]:
        """The centre's mean over TARGET_CHECK_EPISODES episodes of gymnasium's own env, fresh held-out seeds.

        Gymnasium's own vectorised implementation is used where it ships one (CartPole-v1),
        else ``gym.make(id)`` copies in this process (rlfree.gym_copies.EpisodeVectorEnv).
        """
        if self.check_env is None:
            kind = "vector_entry_point" if has_vector_entry_point(self.env_id) else "sync"
            self.check_env = GymVectorEnv(self.env_id, TARGET_CHECK_EPISODES, vectorization=kind, device=self.device, dtype=self.dtype)
        seeds = episode_seeds(self.config.run.seed, generation, TARGET_CHECK_EPISODES, "check")
        rollout = evaluate(self.policy, centre[None], self.check_env, seeds)
        return float(rollout.returns.to(torch.float64).mean()), rollout.env_steps

    # -- checkpoints ----------------------------------------------------------------------------
    def centre_matrix(self, centre: torch.Tensor | None = None):
        """The centre as the numpy matrix W (A, K)."""
        centre = self.walk.centre if centre is None else centre
        return centre.detach().cpu().numpy().reshape(self.policy.spec.n_activations, self.policy.spec.n_columns)

    def save(self, which: str, walk_state: dict) -> Path:
        state = {
            "env_id": self.env_id,
            **{name: value for name, value in walk_state.items() if not torch.is_tensor(value)},  # generation, sigma, seed, ...
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "elapsed": self.elapsed,
            "best_eval": self.best_eval,
            "check_mean": self.check_mean,
            "solved": self.solved,
            "config": self.config.to_dict(),
        }
        walk_arrays = {name: value.detach().cpu().numpy() for name, value in walk_state.items() if torch.is_tensor(value)}
        try:
            return save_checkpoint(
                self.run_dir / "checkpoints" / which,
                W=self.centre_matrix(walk_state["centre"]),
                network=self.policy.to_json(),
                walk=walk_arrays,
                state=state,
            )
        except OSError as err:
            raise RunFolderError(f"checkpoint in {str(self.run_dir)!r} cannot be written ({err.strerror or err})") from None

    def _restore(self, checkpoint: Checkpoint) -> None:
        state = checkpoint.state
        if not checkpoint.walk or "generation" not in state:
            raise ConfigError(f"{str(checkpoint.path)!r} holds an agent but no walk state; it cannot be resumed")
        self.walk.load_state_dict({**{k: torch.from_numpy(v) for k, v in checkpoint.walk.items()}, **state})
        self.env_steps = int(state["env_steps"])
        self.episodes = int(state.get("episodes", 0))
        self.elapsed = float(state["elapsed"])
        self.best_eval = state.get("best_eval")
        self.check_mean = state.get("check_mean")
        self.solved = bool(state.get("solved", False))

