"""A hyper-parameter search of rlfree's settings with Optuna: the objective, its pruning, the re-check.

Reference: Optuna (Akiba et al. 2019, "Optuna: a next-generation hyperparameter optimization
framework"): define-by-run trials, TPE sampling, median pruning on intermediate values, studies
kept in a SQL database that several processes share; used the same way by rl-baselines3-zoo's
``--optimize``.

Every trial is ``rlfree train`` on one task with the settings a trial samples from the
:class:`rlfree.search_space.SearchSpace`, set over the task's preset (:class:`Task.base`), run by
the same :class:`rlfree.run_loop.RunLoop`, for at most a budget of training seconds (the
trainer's ``elapsed``, as ``rlfree zoo`` times runs) or of env steps. Its value, lower better:

- solved: the seconds (or env steps) it took to reach the target, the check on gymnasium included;
- not solved within the budget: the budget plus how far its best centre evaluation stayed below
  the target, so that every unsolved trial ranks below every solved one, and the unsolved ones
  by how close they came.

Pruning listens to the centre's evaluations as the run loop hands them to its observers
(:class:`Pruning`): at each tenth of the budget the trial reports the best evaluation so far, and
the median pruner stops a trial that is behind the median of the finished ones at that point.

A trial's seed is the study's; a fast trial may be a lucky seed, so :func:`recheck` runs the best
few trials again on held-out seeds and the preset written is the one fastest on average there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import statistics
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import optuna

from rlfree.backend import resolve_env_id
from rlfree.config import Config, ConfigError, to_toml
from rlfree.errors import NonFiniteRun
from rlfree.optimiser import WALK_ONLY
from rlfree.run_loop import RunLoop, RunState, Terminated, make_run_folder
from rlfree.search_space import SearchSpace, apply
from rlfree.trainer import Trainer

MEASURES: dict[str, Callable[[RunState], float]] = {
    "seconds": lambda state: state.elapsed,  # of training, the target checks included (the trainer's clock)
    "steps": lambda state: float(state.env_steps),  # every env step, evaluations and checks included
}
UNITS = {"seconds": "s", "steps": "steps"}
MARKS = 10  # the points of the budget at which a trial reports its best evaluation to the pruner
RECHECK_SEED = 1_000_000  # the re-check's seeds start here, away from any study's own --seed


@dataclass
class Task:
    """What every trial is measured against."""

    base: Config  # the preset (or --config) that every trial starts from
    target: float  # the centre's evaluation (then the 100-episode check) that solves the task
    budget: float  # the most seconds or env steps (``measure``) a trial may spend
    measure: str = "seconds"
    seed: int = 0  # every trial's seed

    @property
    def env_id(self) -> str:
        return self.base.env.env

    def used(self, state: RunState) -> float:
        return MEASURES[self.measure](state)

    def shown(self, value: float) -> str:
        """'0.42 s' or '31,200 steps'."""
        return f"{value:.2f} s" if self.measure == "seconds" else f"{value:,.0f} steps"


def task_target(config: Config, target: float | None) -> float:
    """``target``, else the preset's ``[run] target``, else the env's reward_threshold; ConfigError when none is known."""
    if target is not None:
        return target
    if config.run.target is not None:
        return config.run.target
    threshold = gym.spec(resolve_env_id(config.env.env)).reward_threshold
    if threshold is None:
        raise ConfigError(f"env {config.env.env!r} has no reward_threshold and the preset no [run] target: give --target, "
                          "the score a trial must reach")
    return float(threshold)


@dataclass
class Outcome:
    """One training run of a trial or a re-check."""

    solved: bool
    used: float  # seconds or env steps until solved, or until stopped
    best_eval: float | None  # the best evaluation of the centre (None: none ran)
    generations: int
    env_steps: int
    seconds: float
    pruned: bool = False

    def value(self, task: Task) -> float:
        """The objective, lower better (the module docstring); NaN when no evaluation ran.

        A run stops at the first generation past the budget, so a solved one may have run a little
        over it: it counts as the budget, and every unsolved run as the budget or more."""
        if self.solved:
            return min(self.used, task.budget)
        if self.best_eval is None:
            return math.nan
        return task.budget + max(task.target - self.best_eval, 0.0)

    def shown(self, task: Task) -> str:
        best = "-" if self.best_eval is None else f"{self.best_eval:.1f}"
        if self.solved:
            return f"solved in {task.shown(self.used)}"
        verb = "pruned" if self.pruned else "not solved"
        return f"{verb} at {task.shown(self.used)} (best centre {best}, target {task.target:g})"


def trial_config(task: Task, values: dict[str, Any], seed: int) -> Config:
    """The task's preset with a trial's values, its seed, its target, and no generation limit but the budget."""
    config = apply(task.base, values, "the search space")
    config.run.seed = seed
    config.run.target = task.target
    config.run.generations = 10**9  # the budget ends a run
    config.run.save_freq = 10**9  # a trial's checkpoints are thrown away: only checkpoints/best is written
    config.run.progress = False
    config.run.exp_name = "tune"
    return config


class Pruning:
    """An observer of a trial's run: at each evaluation of the centre, the best so far goes to the
    trial for every tenth of the budget passed since the last report (negated: Optuna minimises),
    and ``stop`` turns true when the pruner says the trial is behind."""

    def __init__(self, trial: optuna.Trial, task: Task):
        self.trial, self.task = trial, task
        self.best: float | None = None
        self.reported = 0  # marks reported so far
        self.stop = False

    def on_generation(self, record) -> None:
        if record.eval_mean is None or not math.isfinite(record.eval_mean):
            return
        self.best = record.eval_mean if self.best is None else max(self.best, record.eval_mean)
        used = record.elapsed if self.task.measure == "seconds" else float(record.env_steps)
        passed = min(MARKS, int(used / self.task.budget * MARKS))
        if passed > self.reported:
            self.report_until(passed)
            self.stop = self.trial.should_prune()

    def report_until(self, marks: int) -> None:
        for step in range(self.reported, marks):
            self.trial.report(-self.best, step)
        self.reported = max(self.reported, marks)

    def close(self) -> None:
        pass


def run_trial(task: Task, config: Config, observers: list | None = None, stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Train ``config`` until solved, out of budget, or ``stop()``; KeyboardInterrupt on Ctrl-C,
    Terminated (a KeyboardInterrupt) on SIGTERM, so that ``rlfree tune`` exits 130 or 143 as the signal says.

    The run folder is temporary: a trial is measured, not kept (the preset written at the end is).
    """
    with tempfile.TemporaryDirectory(prefix="rlfree-tune-") as logdir:
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, logdir=logdir))
        trainer = Trainer(config)
        loop = RunLoop(trainer, make_run_folder(config), observers, config=config,
                       stop=lambda state: task.used(state) >= task.budget or stop())
        result = loop.run()
    result.raise_if_interrupted()
    state = result.state
    return Outcome(state.solved, task.used(state), state.best_eval, state.generation, state.env_steps, state.elapsed,
                   pruned=not state.solved and task.used(state) < task.budget)


class Interrupts:
    """Ctrl-C and SIGTERM, held back while Optuna writes the study.

    Inside a run (:meth:`running`) they raise at once, and the run loop stops its run as always;
    between runs, where Optuna records a trial in the database, a KeyboardInterrupt could leave it
    half-written, so there they wait until the next run starts or the search ends (:meth:`check`).
    """

    def __init__(self):
        self.pending: type[KeyboardInterrupt] | None = None
        self.inside = False

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handler(self, signum, frame):
        error = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.inside:
            raise error()
        self.pending = error

    def check(self) -> None:
        if self.pending is not None:
            raise self.pending()

    @contextlib.contextmanager
    def running(self):
        self.check()
        self.inside = True
        try:
            yield
        finally:
            self.inside = False


def objective(task: Task, space: SearchSpace, worker: int = 0, interrupts: Interrupts | None = None) -> Callable[[optuna.Trial], float]:
    """The study's objective: one trial's run, its figures kept as the trial's user attributes.

    A sampled combination that ``rlfree train`` refuses (an odd population with mirrored pairs, too
    large for memory), or whose weights go NaN (relu activations overflowing), fails the trial with
    the message as its ``error``, and the study goes on.
    """

    def run(trial: optuna.Trial) -> float:
        values = space.sample(trial, task.base.algo.algo)
        trial.set_user_attr("worker", worker)
        try:
            config = trial_config(task, values, task.seed)
            pruning = Pruning(trial, task)
            with interrupts.running() if interrupts else contextlib.nullcontext():
                outcome = run_trial(task, config, [pruning], stop=lambda: pruning.stop)
        except (ConfigError, NonFiniteRun) as err:  # refused, or its weights went NaN: the search goes on
            trial.set_user_attr("error", str(err))
            return math.nan  # Optuna records the trial as failed
        for name, value in dataclasses.asdict(outcome).items():
            trial.set_user_attr(name, value)
        if outcome.pruned:
            raise optuna.TrialPruned(outcome.shown(task))
        if outcome.solved and outcome.best_eval is not None:  # later trials are compared with it at every mark
            pruning.best = outcome.best_eval
            pruning.report_until(MARKS)
        return outcome.value(task)

    return run


def counted(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` counts toward --trials: finished, pruned, or refused by the config (not one
    that Ctrl-C or a killed worker left failed or running, which a resumed study plays again)."""
    State = optuna.trial.TrialState
    return trial.state in (State.COMPLETE, State.PRUNED) or (trial.state == State.FAIL and "error" in trial.user_attrs)


def trials_done(study: optuna.Study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


@dataclass
class Recheck:
    """A finalist trial run again on held-out seeds."""

    trial: int
    values: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)

    def score(self, task: Task) -> float:
        """The mean objective over the seeds (NaN counts as never solved: the budget and the whole target)."""
        values = [o.value(task) for o in self.outcomes]
        return statistics.fmean(v if math.isfinite(v) else task.budget + abs(task.target) + 1.0 for v in values)


def finalists(study: optuna.Study, count: int) -> list[optuna.trial.FrozenTrial]:
    """The ``count`` best completed trials, distinct settings only."""
    done = sorted((t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                   if t.value is not None and math.isfinite(t.value)), key=lambda t: (t.value, t.number))
    chosen, seen = [], set()
    for trial in done:
        key = tuple(sorted(trial.params.items()))
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
    return chosen[:count]


def recheck(task: Task, space: SearchSpace, trials: list[optuna.trial.FrozenTrial], seeds: list[int],
            on_outcome: Callable[[int, int, Outcome], None] | None = None, interrupts: Interrupts | None = None) -> list[Recheck]:
    """Each trial's settings trained again on each of ``seeds``, the same budget, no pruning."""
    rechecks = []
    for trial in trials:
        values = full_values(space, trial.params, task.base.algo.algo)
        check = Recheck(trial.number, values)
        for seed in seeds:
            with interrupts.running() if interrupts else contextlib.nullcontext():
                outcome = run_trial(task, trial_config(task, values, seed))
            check.outcomes.append(outcome)
            if on_outcome:
                on_outcome(trial.number, seed, outcome)
        rechecks.append(check)
    return rechecks


def full_values(space: SearchSpace, params: dict[str, Any], base_algo: str) -> dict[str, Any]:
    """A trial's settings: its sampled params and the space's fixed values that belong to its optimiser."""

    class Replay:  # answers the space's questions with the trial's own answers
        def suggest_categorical(self, name, choices):
            return params[name]

        def suggest_int(self, name, low, high, log=False, step=1):
            return params[name]

        def suggest_float(self, name, low, high, log=False, step=None):
            return params[name]

    return space.sample(Replay(), base_algo)


def best_preset(task: Task, values: dict[str, Any], generations: int) -> dict[str, dict[str, Any]]:
    """The preset of ``values`` over the task's base: what differs from the defaults, every searched
    value, the env, its target and ``generations``; the walk's settings left out for another optimiser."""
    config = apply(task.base, values, "the best trial")
    config.run.target, config.run.generations = task.target, generations
    defaults = Config().to_dict()
    always = set(values) | {"env.env", "run.target", "run.generations"}
    preset: dict[str, dict[str, Any]] = {}
    for section, fields in config.to_dict().items():
        for name, value in fields.items():
            if section == "walk" and name in WALK_ONLY and config.algo.algo != "walk":
                continue
            if f"{section}.{name}" in always or value != defaults[section][name]:
                preset.setdefault(section, {})[name] = value
    return preset


def preset_toml(preset: dict[str, dict[str, Any]], comment: list[str]) -> str:
    return "".join(f"# {line}\n" for line in comment) + to_toml(preset)


def preset_generations(task: Task, rechecks: list[Recheck]) -> int:
    """The preset's generation limit: its base's, or twice the most a solved re-check needed when that is more."""
    needed = [o.generations for check in rechecks for o in check.outcomes if o.solved]
    return max(task.base.run.generations, 2 * max(needed, default=0))


def path_of(storage: str) -> Path | None:
    """The file of a sqlite:/// URL (None for another database)."""
    prefix = "sqlite:///"
    return Path(storage[len(prefix):]) if storage.startswith(prefix) else None


# -- the study ----------------------------------------------------------------------------------
def study_attrs(task: Task, space: SearchSpace) -> dict[str, Any]:
    """What a study's trials were measured against: a resumed study must be measured the same way."""
    return {"env": task.env_id, "target": task.target, "budget": task.budget, "measure": task.measure, "seed": task.seed,
            "space": space.to_json(), "base": task.base.to_dict()}


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's database storage at ``url`` (sqlite:///FILE, postgresql://..., mysql://...); ConfigError when it cannot be opened.

    A heartbeat marks a trial whose process was killed as failed, so a resumed study plays it again.
    """
    import sqlalchemy.exc  # Optuna's own dependency

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {}  # workers wait on each other's writes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=10, grace_period=30)
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(f"--storage {url!r} is not a database URL; use sqlite:///PATH (one machine) or "
                          "postgresql://USER:PASSWORD@HOST/DB, mysql://... (several)") from None
    except ImportError as err:  # Optuna's, raised from the driver's ModuleNotFoundError
        missing = getattr(err.__cause__, "name", None) or getattr(err, "name", None) or "its driver"
        raise ConfigError(f"--storage {url!r} needs the database driver {missing!r}, which is not installed: pip install {missing}") from None
    except sqlalchemy.exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).splitlines()[0]
        raise ConfigError(f"--storage {url!r} cannot be opened ({reason})") from None


def open_study(url: str, name: str, task: Task, space: SearchSpace, *, sampler_seed: int | None, startup_trials: int) -> optuna.Study:
    """The study ``name`` in the storage at ``url``, made when new; ConfigError when it exists but was
    measured another way (another env, target, budget, space or preset)."""
    storage = open_storage(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate, group, constant_liar
        # group: the optimiser's own settings are sampled together (the space is conditional on it);
        # constant_liar: workers running at once do not all sample the same point
        sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=startup_trials, multivariate=True, group=True,
                                             constant_liar=True)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize", sampler=sampler, pruner=pruner,
                                    load_if_exists=True)
    if study.get_trials(deepcopy=False):  # resumed: a seeded sampler would start its random trials over
        study.sampler.reseed_rng()
    attrs = study_attrs(task, space)
    if not study.user_attrs:
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    else:
        for key, value in attrs.items():
            was = study.user_attrs.get(key)
            if was != value:
                what = f"another {key}" if isinstance(value, dict) else f"{key} {was!r}"
                raise ConfigError(f"study {name!r} in {url} was made with {what}, not this one: resume it with the same --env, --target, "
                                  "--budget, --measure, --seed, --config and --space, or give a new --study name")
    return study
