"""A single agent trained by the walk: one generation is ask -> evaluate -> tell -> record.

:class:`Trainer` is the algorithm :class:`rlfree.run_loop.RunLoop` runs for every task but the
cat-versus-mouse duel. Every ``eval_freq`` generations the centre also plays ``eval_episodes``
held-out episodes, in the same batch as the population (one pass of the step loop, not two).
When that evaluation reaches the target, a check of ``TARGET_CHECK_EPISODES`` episodes of
gymnasium's own environment, on fresh held-out seeds, decides whether the run is solved (only
a finite score solves); the check plays whole episodes, up to the env's time limit, or, for an
env registered without one, up to the walk's horizon (:func:`rlfree.evaluate.episode_limit`).
With ``--reward-shift S`` the walk learns from its members' returns less S per step (ARS's
removal of a survival bonus); the centre's evaluations, the target check and every figure
recorded keep the env's own reward, as the saved agent knows nothing of the shift. With
``--normalize-obs`` the members' observations of a generation are merged into the running
statistics after it (:mod:`rlfree.obs_norm`), which a checkpoint holds exactly. When the
members' returns tie, the tie adaptation (:mod:`rlfree.ties`) may widen sigma, move the centre
to a member that broke the tie, or raise the episodes per member. With ``executor = "ray"``
(--ray) the episodes run on Ray actors (:mod:`rlfree.ray_evaluator`), which get the walk's rows
as seeds (:mod:`rlfree.seeded_rows`) and give the local results bitwise. Every figure is a
function of (config, seed), so a resumed run continues exactly as if never
stopped. A generation that would not fit in memory (:mod:`rlfree.memory`) is refused
before anything large is allocated.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from rlfree.backend import choose_backend, make_batched_env, resolve_env_id, torch_settings
from rlfree.checkpoint import Checkpoint, CheckpointError
from rlfree.config import Config, ConfigError
from rlfree.evaluate import Rollout, StepProgress, episode_limit
from rlfree.evaluator import LocalEvaluator
from rlfree.memory import GYM_COPY_BYTES, check_memory
from rlfree.obs_norm import Normalizer, RunningStats
from rlfree.optimiser import build_optimiser, generation_size
from rlfree.policy import Policy
from rlfree.run_loop import AgentState, Generation, RunState, Snapshot
from rlfree.seeded_rows import SeededRows, SeedsItsRows
from rlfree.seeding import episode_seeds, weights_generator
from rlfree.ties import TieAdaptation, TieState, from_numbers, to_numbers
from rlfree.vector import GymVectorEnv, has_vector_entry_point
from rlfree.warm_start import warm_start
from rlfree.weight_image import WeightLayout, colour_scale, weight_image
from rlfree.wiring_image import for_tensorboard, png_bytes, wiring_picture

TARGET_CHECK_EPISODES = 100


def _tag(tag: str, **metadata):
    """A record field logged to TensorBoard under ``tag``."""
    return field(default=None, metadata={"tag": tag, **metadata})


@dataclass
class GenerationRecord:
    """What one generation did; None where a figure was not measured this generation.

    A field's ``tag`` is its TensorBoard tag (Stable-Baselines3's name where one exists);
    ``weights`` is an image, not a CSV column.
    """

    STEP = "env_steps"  # TensorBoard's x axis

    generation: int  # generations done, counting this one
    env_steps: int = field(metadata={"tag": "time/total_timesteps"})  # environment steps so far, evaluations included
    episodes: int = field(metadata={"tag": "time/episodes"})  # episodes so far, evaluations included
    population_mean: float = field(metadata={"tag": "rollout/ep_rew_mean"})
    population_max: float = field(metadata={"tag": "walk/population_max"})
    population_min: float = field(metadata={"tag": "walk/population_min"})
    episode_length_mean: float = field(metadata={"tag": "rollout/ep_len_mean"})
    sigma: float = field(metadata={"tag": "walk/sigma"})
    step_norm: float = field(metadata={"tag": "walk/step_norm"})
    weight_norm: float = field(metadata={"tag": "walk/weight_norm"})
    nonfinite_returns: int = field(metadata={"tag": "walk/nonfinite_returns"})  # members ranked last for a NaN or infinite return
    nonfinite_actions: int = field(metadata={"tag": "rollout/nonfinite_actions"})  # episodes ended by a network gone NaN or infinite
    tied_share: float = field(metadata={"tag": "walk/tied_share"})  # of the step's comparisons, those that tie (and add nothing)
    steps_per_second: float = field(metadata={"tag": "time/fps"})
    elapsed: float  # seconds of training so far (over resumes)
    eval_mean: float | None = _tag("eval/mean_reward")
    eval_std: float | None = _tag("eval/std_reward")
    check_mean: float | None = _tag("eval/target_check")  # the target check on gymnasium's own env, when it ran
    elite_fitness: float | None = _tag("walk/elite_fitness")  # ga: the kept elite's fresh score; cmaes: the mean of the mu rows selected
    axis_ratio: float | None = _tag("walk/axis_ratio")  # cmaes: sqrt(largest / smallest eigenvalue of C)
    connections: int | None = _tag("walk/connections")  # wann: the centre's connections (weights that exist)
    shared_weight: float | None = _tag("walk/shared_weight")  # wann, while searching: the shared weight the centre did best at
    weights: np.ndarray | None = field(default=None, repr=False, metadata={"image": "walk/W", "csv": False})  # the evaluated centre's picture
    wiring: np.ndarray | None = field(default=None, repr=False, metadata={"image": "walk/wiring", "csv": False})  # wann: the centre's wiring (rlfree.wiring_image)
    episodes_per_member: int | None = _tag("walk/episodes_per_member")  # --episodes, which the tie adaptation may raise
    tie_changes: int | None = _tag("walk/tie_changes")  # settings or centre the tie adaptation changed after this generation (0: none)
    adapted: str | None = None  # what the tie adaptation changed after this generation, and why ("sigma 0.2 -> 0.4 (...)")
    bytes_sent: int | None = _tag("ray/bytes_sent")  # executor ray: what the driver sent its actors this generation
    bytes_received: int | None = _tag("ray/bytes_received")  # and what came back

    HEADER = f"{'gen':>6} {'env steps':>11} {'pop mean':>9} {'pop max':>9} {'centre':>9} {'sigma':>7} {'ties':>5} {'steps/s':>10} {'elapsed':>8}"

    def line(self) -> str:
        """The console line; 'centre' is the centre's evaluation when it ran."""
        line = (
            f"{self.generation:>6} {self.env_steps:>11,} {_fmt(self.population_mean, 9)} "
            f"{_fmt(self.population_max, 9)} {_fmt(self.eval_mean, 9)} {self.sigma:>7.4f} {self.tied_share:>5.0%} "
            f"{self.steps_per_second:>10,.0f} {self.elapsed:>7.1f}s"
        )
        if self.check_mean is not None:
            line += f"  target check on gymnasium: {self.check_mean:.1f}"
        if self.bytes_sent is not None:
            line += f"  ray: sent {self.bytes_sent:,} B, received {self.bytes_received:,} B"
        if self.adapted is not None:
            line += f"\n       ties: {self.adapted} (--no-adapt-ties keeps the settings)"
        return line


def record_type(algo: str) -> type:
    """The record of ``algo``'s generations: :class:`GenerationRecord` with its ``walk/`` tags (sigma,
    step norm, population max and min, ties, the W picture, ...) under the algo's own name, ``ga/``
    or ``cmaes/``, so that runs of different optimisers do not share curves that mean different things."""
    if algo == "walk":
        return GenerationRecord
    renamed = []
    for f in dataclasses.fields(GenerationRecord):
        metadata = {key: f"{algo}/{value[len('walk/'):]}" if key in ("tag", "image") and value.startswith("walk/") else value
                    for key, value in f.metadata.items()}
        if metadata != dict(f.metadata):
            default = {} if f.default is dataclasses.MISSING else {"default": f.default}
            renamed.append((f.name, f.type, field(repr=f.repr, metadata=metadata, **default)))
    return dataclasses.make_dataclass(f"{algo.capitalize()}GenerationRecord", renamed, bases=(GenerationRecord,))


def _fmt(value: float | None, width: int, spec: str = ".1f") -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def reaches(score: float, target: float | None) -> bool:
    """Whether ``score`` meets ``target``: only a finite score does (a +inf evaluation solves nothing)."""
    return target is not None and math.isfinite(score) and score >= target


class Trainer:
    """The walk on one env: its policy, optimiser, evaluator and target check."""

    def __init__(self, config: Config):
        config.validate()
        self.config = config
        env, run, net = config.env, config.run, config.network
        self.env_id = resolve_env_id(env.env)
        self.backend = choose_backend(self.env_id, env.backend, env.env_kwargs)
        self.device, self.dtype = torch_settings(env)
        make_env = functools.partial(
            make_batched_env, self.env_id, backend=self.backend, device=self.device, dtype=self.dtype,
            vectorization=env.vectorization, workers=env.workers, env_kwargs=env.env_kwargs,
        )
        probe = make_env(1, vectorization="sync")  # one copy, for the spaces: the memory is checked before the population's
        try:
            # the id as given ('my_pkg:MyEnv-v0' included), so that loading the agent imports its package
            self.policy = Policy.from_config(env.env, probe.observation_space, probe.action_space, net, env.env_kwargs)
            if config.walk.action_cost and not isinstance(probe.action_space, gym.spaces.Box):
                raise ConfigError(f"action_cost={config.walk.action_cost} is not accepted for {self.env_id}: its actions "
                                  f"({probe.action_space}) are not a Box; leave --action-cost out")
        finally:
            probe.close()
        check_memory(config, self.policy.spec, self.device, self.dtype, GYM_COPY_BYTES if self.backend == "gym" else 0)
        start = warm_start(run.init_from, self.policy) if run.init_from else None  # before any worker process starts
        rows = generation_size(config, self.policy.spec.n_params)[0]
        sums_actions = config.walk.action_cost > 0  # only a control cost needs each episode's sum |action|
        if env.executor == "ray":
            from rlfree.ray_evaluator import RayEvaluator  # imports Ray, an optional extra

            self.evaluator = RayEvaluator(self.policy, make_env, env, action_l1=sums_actions)
        else:
            self.evaluator = LocalEvaluator(self.policy, make_env, [make_env(rows * run.episodes)], action_l1=sums_actions)
        if start is not None:
            centre = start.centre.to(self.dtype).to(self.device)
        else:
            centre = self.policy.initial_params(weights_generator(run.seed), net.init_scale, self.dtype).to(self.device)
            if not torch.isfinite(centre).all():
                self.evaluator.close()
                raise ConfigError(f"init_scale={net.init_scale:g} gives initial weights beyond the range of {env.dtype}: use a smaller init_scale")
        # None: the centre is a trained network, not one draw of init_scale's distribution (the GA's first generation)
        initial_std = None if start is not None else self.policy.initial_std(net.init_scale)
        self.optimiser = build_optimiser(config, centre, run.seed, initial_std, self.policy.spec)
        self.record_type = record_type(config.algo.algo)  # its TensorBoard tags under the algo's name
        # --normalize-obs: every observation the members were fed so far (rlfree.obs_norm)
        self.obs_stats = RunningStats.empty(self.policy.spec.n_inputs) if net.normalize_obs else None
        if start is not None and start.obs_stats is not None:
            self.obs_stats = start.obs_stats
            self.policy.normalizer = Normalizer.from_stats(self.obs_stats)
        self.tie_adaptation = TieAdaptation() if run.adapt_ties and config.algo.algo == "walk" else None  # it adapts the walk's sigma
        self.ties = TieState()  # its memory but for the tied streak, which RunState.tie_streak holds
        spec = self.policy.spec
        self.weight_layout = WeightLayout(spec.n_outputs, spec.n_hidden, spec.n_inputs)
        self.weight_scale = colour_scale(self.matrix(centre))  # from the initial weights: the same after a resume
        self.target = run.target if run.target is not None else gym.spec(self.env_id).reward_threshold
        time_limit = gym.spec(self.env_id).max_episode_steps
        self.horizon = episode_limit(time_limit, run.horizon)  # the walk's and the centre's evaluations
        self.check_horizon = time_limit or self.horizon  # whole episodes, or the walk's cut where they never end
        self.on_progress: Callable[[StepProgress], None] | None = None  # hears where a long evaluation stands (the console)
        # gymnasium's own vectorised implementation where it ships one (CartPole-v1), else gym.make copies;
        # on the CPU whatever the device: its envs are numpy, and one row's network is no work for a GPU,
        # which would only add a copy each way per step
        check_kind = "vector_entry_point" if has_vector_entry_point(self.env_id) and not env.env_kwargs else "sync"
        self.checker = LocalEvaluator(self.policy, functools.partial(
            GymVectorEnv, self.env_id, vectorization=check_kind, dtype=self.dtype, env_kwargs=env.env_kwargs
        ))

    # -- one generation -------------------------------------------------------------------------
    def generation(self, state: RunState) -> Generation:
        """Ask, evaluate (with the centre's evaluation rows when one is due), tell, record."""
        started = time.perf_counter()
        self._optimiser_episodes(state)
        centre = self.optimiser.centre.clone()  # the centre this generation's evaluation measures
        members = self.optimiser.ask()
        params, seeds = self._with_evaluation_rows(members, centre, state.generation)
        rows = self._seeded_rows(len(params) - len(members))
        rollout = self.evaluator.evaluate(params, seeds, max_steps=self.horizon, on_progress=self.on_progress, rows=rows)
        stats = self.optimiser.tell(*self._training_returns(rollout, len(members)))
        tie_changes, tie_reason, tie_steps = self._adapt_to_ties(stats, rollout, members, state)

        steps, eval_mean, eval_std, check_mean = rollout.env_steps + tie_steps, None, None, None
        if len(params) > len(members):
            returns = rollout.returns[len(members) :].reshape(-1).to(torch.float64)
            eval_mean, eval_std = float(returns.mean()), float(returns.std(unbiased=False))
            if reaches(eval_mean, self.target):
                check_mean, check_steps = self.target_check(state.generation, centre)
                steps += check_steps
                state.episodes += TARGET_CHECK_EPISODES
                state.check_mean, state.solved = check_mean, reaches(check_mean, self.target)
        best = eval_mean is not None and math.isfinite(eval_mean) and (state.best_eval is None or eval_mean > state.best_eval or state.solved)
        if best:
            state.best_eval = eval_mean
        self._merge_observations(rollout, len(members))
        seconds = time.perf_counter() - started
        state.generation, state.env_steps = self.optimiser.generation, state.env_steps + steps
        state.episodes += rollout.lengths.numel()
        state.elapsed += seconds
        record = self.record_type(
            generation=state.generation, env_steps=state.env_steps, episodes=state.episodes,
            population_mean=stats["population_mean"], population_max=stats["population_max"], population_min=stats["population_min"],
            episode_length_mean=float(rollout.lengths[: len(members)].to(torch.float64).mean()),
            sigma=self.optimiser.sigma, step_norm=stats["step_norm"], weight_norm=stats["weight_norm"],
            nonfinite_returns=stats["nonfinite_returns"], nonfinite_actions=rollout.nonfinite_actions, tied_share=stats["tied_share"],
            steps_per_second=steps / max(seconds, 1e-9), elapsed=state.elapsed,
            eval_mean=eval_mean, eval_std=eval_std, check_mean=check_mean,
            weights=weight_image(self.matrix(centre), self.weight_layout, self.weight_scale) if eval_mean is not None else None,
            wiring=for_tensorboard(self.wiring(centre)) if eval_mean is not None and self.policy.spec.per_neuron else None,
            episodes_per_member=self.config.run.episodes,
            tie_changes=None if self.tie_adaptation is None else len(tie_changes),
            adapted=f"{'; '.join(tie_changes)} ({tie_reason})" if tie_changes else None,
            bytes_sent=rollout.bytes_sent, bytes_received=rollout.bytes_received,
            elite_fitness=stats.get("elite_fitness"), axis_ratio=stats.get("axis_ratio"),
            connections=stats.get("connections"), shared_weight=stats.get("shared_weight"),
        )
        return Generation(record, best=best)

    def _seeded_rows(self, evaluation_rows: int) -> SeededRows | None:
        """This generation's params as integers (the walk's rows, then the centre's evaluation
        rows), for an evaluator that sends them elsewhere; None for an optimiser that cannot."""
        if not isinstance(self.optimiser, SeedsItsRows):
            return None
        return self.optimiser.seeded_rows().with_centre_rows(evaluation_rows)

    def _merge_observations(self, rollout: Rollout, members: int) -> None:
        """With --normalize-obs: add the members' observations of this generation to the running
        statistics, and freeze them for the next (the centre's evaluation rows are not members)."""
        if self.obs_stats is None:
            return
        self.obs_stats = self.obs_stats.merge(rollout.obs_stats.rows(slice(0, members)).total())
        self.policy.normalizer = Normalizer.from_stats(self.obs_stats)  # the evaluators share this policy

    def _training_returns(self, rollout: Rollout, members: int) -> tuple[torch.Tensor, ...]:
        """The walk's arguments: (returns (members, E)) or, with --reward-shift S or --action-cost C,
        (the training returns, the env's own returns for the figures). R - S * length - C * L1 is
        the training return of an episode whose actions' absolute values add up to L1, as every
        step's reward minus S minus C * sum |action| adds up to it."""
        returns = rollout.returns[:members]
        shift, cost = self.config.walk.reward_shift, self.config.walk.action_cost
        if not shift and not cost:
            return (returns,)
        training = returns - shift * rollout.lengths[:members].to(returns.dtype)
        if cost:
            training = training - cost * rollout.action_l1[:members].to(returns.dtype)
        return training, returns

    def _adapt_to_ties(self, stats: dict, rollout: Rollout, members: torch.Tensor, state: RunState) -> tuple[list[str], str, int]:
        """When the members' returns tie (:mod:`rlfree.ties`): widen sigma, move the centre to a
        member that broke a tie and holds up on held-out episodes, or play more episodes.
        -> (what changed, why, env steps of the held-out episodes played), printed and logged.
        The new episodes go into the run's config and the adaptation's memory into every
        checkpoint, so a resumed run goes on as this one would have."""
        if self.tie_adaptation is None:
            return [], "", 0
        run, walk = self.config.run, self.optimiser
        returns = rollout.returns.to(torch.float64)
        own = returns[: len(members)]  # (members, E)
        centre = returns[len(members) :].flatten()  # this generation's evaluation of the centre, if any
        centre = centre[torch.isfinite(centre)]
        # one policy scored differently on different episodes: the centre, above the floor now and then
        # (at most as often as the rest of its episodes let comparisons tie), or a member over its own episodes
        above = float((centre > stats["population_min"]).to(torch.float64).mean()) if centre.numel() else 0.0
        finite = own[torch.isfinite(own).all(dim=1)]  # (members with finite returns, E)
        member_varied = finite.numel() > 0 and bool((finite.amax(dim=1) > finite.amin(dim=1)).any())
        varied = 0.0 < above <= 1.0 - self.tie_adaptation.threshold or member_varied
        self.ties, decision = self.tie_adaptation.observe(
            replace(self.ties, tied=state.tie_streak), all_tied=stats["population_max"] == stats["population_min"],
            floor_tied_share=stats["floor_tied_share"], varied=varied, sigma=walk.sigma, episodes=run.episodes)
        state.tie_streak = self.ties.tied
        if decision is None:
            return [], "", 0
        changes, reason, steps = [], decision.reason, 0
        if decision.take_best:
            moved, outcome, steps = self._take_best_member(own, members, state)
            changes += [outcome] if moved else []
            reason += "" if moved else f"; {outcome}"
        if decision.sigma is not None:
            walk.sigma = decision.sigma.after  # saved with the optimiser's state
            changes.append(str(decision.sigma))
        if decision.episodes is not None and self._more_episodes(decision.episodes.after, state):
            changes.append(str(decision.episodes))
        return changes, reason, steps

    def _take_best_member(self, returns: torch.Tensor, members: torch.Tensor, state: RunState) -> tuple[bool, str, int]:
        """returns: (members, E) of this generation. The best member plays the run's
        eval_episodes held-out episodes; if it scores above the generation's median return on
        every one, the centre moves to it. -> (whether it moved, what happened, the env steps played)."""
        run = self.config.run
        fitness = returns.mean(dim=1)
        fitness = torch.where(torch.isfinite(fitness), fitness, -math.inf)
        best, median = int(fitness.argmax()), float(fitness.median())
        seeds = episode_seeds(run.seed, state.generation, run.eval_episodes, "eval")  # this generation's held-out episodes
        played = self.evaluator.evaluate(members[best][None], seeds[None], max_steps=self.horizon)
        state.episodes += run.eval_episodes
        above = int((played.returns[0].to(torch.float64) > median).sum())
        if above < run.eval_episodes:
            return False, f"the best member scored above the median on {above} of {run.eval_episodes} held-out episodes: the centre stays", played.env_steps
        self.optimiser.centre.copy_(members[best])
        return True, (f"centre -> member {best} (return {float(fitness[best]):g} against a median of {median:g}, "
                      f"and above it on all {run.eval_episodes} held-out episodes)"), played.env_steps

    def _optimiser_episodes(self, state: RunState) -> None:
        """The episodes per member an optimiser asks for (the weight-agnostic search's tuning: checked to
        fit at the start); written into the run's config, as the tie adaptation's episodes are, and
        set again when a run resumes."""
        wanted = getattr(self.optimiser, "episodes", None)
        if wanted and self.config.run.episodes != wanted:
            self.config.run.episodes = state.config["run"]["episodes"] = int(wanted)

    def _more_episodes(self, episodes: float, state: RunState) -> bool:
        """Raise --episodes to ``episodes`` unless a generation would then not fit in memory."""
        trial = copy.deepcopy(self.config)
        trial.run.episodes = int(episodes)
        try:
            check_memory(trial, self.policy.spec, self.device, self.dtype, GYM_COPY_BYTES if self.backend == "gym" else 0)
        except ConfigError:
            return False  # the walk goes on with the episodes it has
        self.config.run.episodes = state.config["run"]["episodes"] = int(episodes)
        return True

    def _with_evaluation_rows(self, members: torch.Tensor, centre: torch.Tensor, generation: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(params, seeds): the members on this generation's training seeds and, when an
        evaluation is due, rows of the centre on held-out seeds after them. seeds: (rows, E)."""
        run = self.config.run
        seeds = episode_seeds(run.seed, generation, run.episodes).expand(len(members), run.episodes)
        if (generation + 1) % run.eval_freq:
            return members, seeds
        eval_rows = math.ceil(run.eval_episodes / run.episodes)
        eval_seeds = episode_seeds(run.seed, generation, eval_rows * run.episodes, "eval").reshape(eval_rows, run.episodes)
        return torch.cat([members, centre.expand(eval_rows, -1)]), torch.cat([seeds, eval_seeds])

    def target_check(self, generation: int, centre: torch.Tensor) -> tuple[float, int]:
        """The centre's mean over TARGET_CHECK_EPISODES episodes of gymnasium's own env, fresh held-out seeds.

        Gymnasium's own vectorised implementation is used where it ships one (CartPole-v1),
        else ``gym.make(id)`` copies in this process (rlfree.gym_copies.EpisodeVectorEnv).
        """
        seeds = episode_seeds(self.config.run.seed, generation, TARGET_CHECK_EPISODES, "check")
        rollout = self.checker.evaluate(centre[None].cpu(), seeds, max_steps=self.check_horizon, on_progress=self.on_progress)
        return float(rollout.returns.to(torch.float64).mean()), rollout.env_steps

    def texts(self) -> dict[str, str]:
        """What TensorBoard shows once, beside the config: the legend of the W picture."""
        return {f"{self.config.algo.algo}/W_legend": self.weight_layout.legend(self.weight_scale)}

    # -- checkpoints ----------------------------------------------------------------------------
    def matrix(self, centre: torch.Tensor) -> np.ndarray:
        """centre (D,) as the numpy matrix W (A, K) (a feed-forward network's recurrent block zero)."""
        return self.policy.spec.matrix(centre.detach().cpu().numpy())

    def wiring(self, centre: torch.Tensor) -> np.ndarray:
        """A per-neuron centre (D,)'s wiring as a picture (H, W, 3) uint8 (rlfree.wiring_image)."""
        flat = centre.detach().cpu().to(torch.float64).numpy()
        return wiring_picture(self.policy.spec, self.policy.spec.matrix(flat), self.policy.spec.neurons(flat))

    def snapshot(self) -> Snapshot:
        walk = self.optimiser.state_dict()
        arrays = {name: value.detach().cpu().numpy() for name, value in walk.items() if torch.is_tensor(value)}
        if self.obs_stats is not None:  # the running statistics, exactly; network.json holds the frozen mean and std
            arrays.update(self.obs_stats.to_arrays())
        numbers = {name: value for name, value in walk.items() if not torch.is_tensor(value)}  # generation, sigma, seed, ...
        numbers.update(to_numbers(self.ties))
        files = {"wiring.png": png_bytes(self.wiring(walk["centre"]))} if self.policy.spec.per_neuron else {}
        return {"": AgentState(self.matrix(walk["centre"]), self.policy.to_json(walk["centre"].detach().cpu().numpy()), arrays, numbers, files)}

    def restore(self, parts: dict[str, Checkpoint]) -> None:
        checkpoint = parts[""]
        try:
            self.optimiser.load_state_dict({**{k: torch.from_numpy(v) for k, v in checkpoint.walk.items()}, **checkpoint.state})
        except ValueError as err:  # a walk state of another network's shape
            raise CheckpointError(f"{str(checkpoint.path)!r} cannot be resumed with this config: {err}") from None
        self.ties = from_numbers(checkpoint.state)
        saved = RunningStats.NAMES[0] in checkpoint.walk
        if saved != (self.obs_stats is not None):
            raise CheckpointError(f"{str(checkpoint.path)!r} cannot be resumed with normalize_obs = {str(not saved).lower()}: "
                                  f"the run was made with normalize_obs = {str(saved).lower()}")
        if saved:
            try:
                self.obs_stats = RunningStats.from_arrays(checkpoint.walk, self.policy.spec.n_inputs)
            except ValueError as err:
                raise CheckpointError(f"{str(checkpoint.path / 'walk.npz')!r} has damaged observation statistics: {err}") from None
            self.policy.normalizer = Normalizer.from_stats(self.obs_stats)

    def close(self) -> None:
        self.evaluator.close()
        self.checker.close()
