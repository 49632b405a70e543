"""One run loop for every algorithm: run folder, run state, checkpoints, observers, Ctrl-C, stop.

An algorithm (the single-agent walk of :mod:`rlfree.trainer`, the cat-versus-mouse
co-evolution of :mod:`rlfree.coevolve`, and later others) supplies only

- ``generation(state) -> Generation``: one generation, its counters added to ``state``;
- ``snapshot() -> {part: AgentState}``: what a checkpoint of it holds now ("" for a single
  agent, "mouse" and "cat" for a duel), and ``restore({part: Checkpoint})`` to continue from one;
- ``texts()`` for TensorBoard to show once (a legend), and ``close()``.

:class:`RunLoop` does the rest, the same way for all of them: it runs generations until the
budget, the target or a stop predicate ends the run (zoo's time limit is one), writes
``checkpoints/latest`` every ``save_freq`` generations and ``checkpoints/best`` when the
algorithm says its evaluated centre is the best so far, hands every record to the observers
(:class:`Observer`: TensorBoard and CSV, the console, trackers), and on Ctrl-C or SIGTERM saves what the
last completed generation left and returns; a :class:`rlfree.errors.NonFiniteRun` (the walk's
numbers went NaN or infinite) saves the same and goes on up, naming the generation kept. A
run's folder is ``{logdir}/{env}__{exp}__{seed}__{time}/`` (config.toml, TensorBoard events,
progress.csv, checkpoints/); :class:`RunState` is the schema of each checkpoint's ``state.json``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from rlfree.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from rlfree.config import Config, to_toml
from rlfree.errors import NonFiniteRun, UserError


class RunFolderError(UserError, OSError):
    """The run folder cannot be made or written."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout, docker stop, a cluster's scheduler) while the loop runs: handled as Ctrl-C."""


@contextmanager
def sigterm_as_interrupt():
    """While inside, SIGTERM raises :class:`Terminated` in the main thread; the previous handler
    is back on the way out. Worker processes forked inside inherit the handler, and in them it
    does nothing: their parent closes them, as after Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return
    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() == owner:
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the run's state: the schema of state.json ---------------------------------------------------
@dataclass
class RunState:
    """Counters of a run and its resolved config; every checkpoint's state.json holds them.

    The optimiser's own numbers (sigma, seed, ...) sit beside these in state.json.
    """

    env_id: str
    config: dict[str, dict[str, Any]]  # Config.to_dict(), resolved
    generation: int = 0  # generations completed
    env_steps: int = 0  # environment steps so far, evaluations included
    episodes: int = 0  # episodes (games) so far, evaluations included
    elapsed: float = 0.0  # seconds of training, over resumes
    best_eval: float | None = None  # the best evaluation of the centre so far
    check_mean: float | None = None  # the last target check on gymnasium's own env
    solved: bool = False
    tie_streak: int = 0  # generations in a row in which every member's return tied (rlfree.ties.TieState.tied)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict, source: str) -> "RunState":
        """Typed: a missing or mistyped field is a CheckpointError naming it, not a traceback."""
        kinds = {"env_id": (str,), "config": (dict,), "generation": (int,), "env_steps": (int,), "episodes": (int,),
                 "elapsed": (int, float), "best_eval": (int, float, type(None)), "check_mean": (int, float, type(None)),
                 "solved": (bool,), "tie_streak": (int,)}
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING:
                    raise CheckpointError(f"{source}: {f.name!r} is missing; it is not an rlfree run state")
                continue
            value = data[f.name]
            if isinstance(value, bool) and bool not in kinds[f.name] or not isinstance(value, kinds[f.name]):
                expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds[f.name])
                raise CheckpointError(f"{source}: {f.name} = {value!r} is not accepted; expected {expected}")
            values[f.name] = value
        return cls(**values)


@dataclass
class AgentState:
    """One agent's part of a checkpoint: the portable agent (W, network.json) and the optimiser."""

    W: np.ndarray  # (A, K): the centre as a matrix
    network: dict  # Policy.to_json()
    arrays: dict[str, np.ndarray]  # walk.npz: the optimiser's tensors (and an algorithm's extras)
    numbers: dict[str, Any]  # beside RunState in state.json: sigma, seed, role, ...
    files: dict[str, bytes] = field(default_factory=dict)  # written beside the agent: wiring.png of a wann agent


Snapshot = dict[str, AgentState]  # part ("" for a single agent, "mouse"/"cat") -> its state


@dataclass
class Generation:
    """What one generation hands the loop: its record, and whether its evaluated centre (the one
    the generation started from) is the best so far."""

    record: Any  # a dataclass: GenerationRecord, DuelRecord, ...
    best: bool = False
    keep_as: str | None = None  # also save the new state as checkpoints/<keep_as> (co-evolution's gen10)


class Algorithm(Protocol):
    env_id: str
    target: float | None  # a score that ends the run (None: run the whole budget)
    on_progress: Callable[[Any], None] | None  # set by a caller (the console) to hear where a long evaluation stands

    def generation(self, state: RunState) -> Generation: ...

    def snapshot(self) -> Snapshot: ...

    def restore(self, parts: dict[str, Checkpoint]) -> None: ...

    def texts(self) -> dict[str, str]: ...  # {tag: Markdown} that TensorBoard shows once (legends)

    def close(self) -> None: ...


class Observer(Protocol):
    """Anything that follows a run: it gets each generation's record and is closed at the end."""

    def on_generation(self, record: Any) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunResult:
    run_dir: Path
    state: RunState
    interrupted: bool  # by Ctrl-C or SIGTERM
    terminated: bool = False  # by SIGTERM

    def raise_if_interrupted(self) -> None:
        """For a caller that runs several runs (a study, a report, the zoo): Ctrl-C or SIGTERM during
        this one ends them all, raised again as the loop caught it (:class:`Terminated` for SIGTERM)."""
        if self.interrupted:
            raise Terminated() if self.terminated else KeyboardInterrupt()


# -- run folders ---------------------------------------------------------------------------------
def run_folder_name(config: Config) -> str:
    env = config.env.env.split(":")[-1].replace("/", "-")
    return f"{env}__{config.run.exp_name}__{config.run.seed}__{int(time.time())}"


def make_run_folder(config: Config) -> Path:
    """Create ``logdir/{env}__{exp}__{seed}__{time}`` (``-1``, ``-2``, ... appended when a run of
    the same second has it) and write config.toml into it."""
    return new_run_folder(Path(config.run.logdir), run_folder_name(config), to_toml(config.to_dict()))


def new_run_folder(base: Path, name: str, config_toml: str) -> Path:
    """Create ``base/name`` (``-1``, ``-2``, ... appended when a run of the same second has it) and
    write ``config_toml`` into its config.toml; RunFolderError when it cannot be written."""
    run_dir = base / name
    if Path(name).name != name or run_dir.resolve().parent != base.resolve():  # one folder, right inside logdir
        raise RunFolderError(f"run folder {name!r} would not lie inside --logdir {str(base)!r}; use a plain --exp-name")
    try:
        base.mkdir(parents=True, exist_ok=True)
        for suffix in itertools.count(1):
            try:
                run_dir.mkdir()  # no exist_ok: of two runs started in the same second, each gets its own
                break
            except FileExistsError:
                run_dir = base / f"{name}-{suffix}"
        (run_dir / "config.toml").write_text(config_toml)
    except OSError as err:
        raise RunFolderError(f"run folder {str(run_dir)!r} cannot be written ({err.strerror or err}); choose another --logdir") from None
    return run_dir


def load_run(path: str | Path) -> tuple[Path, RunState, dict[str, Checkpoint]]:
    """The run folder of ``path`` (a run folder or its ``checkpoints/latest``), its state and the
    latest checkpoint of every part, to resume from."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"run folder {str(path)!r} does not exist; give the folder a run was made in")
    for latest in (path / "checkpoints" / "latest", path):
        if latest.parent.name == "checkpoints" and latest.is_dir():
            break
    else:
        # a checkpoint folder outside RUN/checkpoints/ has no run folder to continue writing in
        raise CheckpointError(f"{str(path)!r} is not an rlfree run folder: expected checkpoints/latest in it")
    run_dir = latest.parent.parent
    duel = [side for side in ("mouse", "cat") if (latest / side / "W.npy").is_file()]
    parts = {side: load_checkpoint(latest / side, which="latest") for side in duel} if duel else {"": load_checkpoint(latest, which="latest")}
    first = next(iter(parts.values()))
    if not first.walk or "generation" not in first.state:
        raise CheckpointError(f"{str(first.path)!r} holds an agent but no optimiser state; it cannot be resumed")
    state = RunState.from_json(first.state, str(first.path / "state.json"))
    for part in parts.values():
        check_optimiser_numbers(part)
    return run_dir, state, parts


def check_optimiser_numbers(checkpoint: Checkpoint) -> None:
    """CheckpointError naming the first of the optimiser's numbers in state.json (sigma, seed, ...:
    every entry beside RunState's, the format and a duel side's role) that is not a number."""
    skip = {f.name for f in dataclasses.fields(RunState)} | {"format", "version", "role"}
    for name, value in checkpoint.state.items():
        if name not in skip and (isinstance(value, bool) or not isinstance(value, (int, float))):
            shown = "null" if value is None else repr(value)
            raise CheckpointError(f"{str(checkpoint.path / 'state.json')}: {name} = {shown} is not accepted; expected a number")


# -- the loop ------------------------------------------------------------------------------------
class RunLoop:
    """Runs ``algorithm`` in ``run_dir`` until its budget, its target or ``stop(state)`` ends it."""

    def __init__(
        self,
        algorithm: Algorithm,
        run_dir: Path,
        observers: list[Observer] | None = None,
        *,
        config: Config,
        state: RunState | None = None,
        stop: Callable[[RunState], bool] | None = None,
    ):
        self.algorithm = algorithm
        self.run_dir = Path(run_dir)
        self.observers = list(observers or [])
        self.config = config
        self.state = state or RunState(env_id=algorithm.env_id, config=config.to_dict())
        self.stop = stop or (lambda state: False)
        self._snapshot = (dataclasses.replace(self.state), algorithm.snapshot())  # the last completed generation

    def done(self) -> bool:
        state = self.state
        return state.solved or state.generation >= self.config.run.generations or self.stop(state)

    def run(self) -> RunResult:
        interrupted = terminated = False
        try:
            with sigterm_as_interrupt():
                while not self.done():
                    self.step()
        except KeyboardInterrupt as err:
            interrupted, terminated = True, isinstance(err, Terminated)
        except NonFiniteRun as err:  # raised before the algorithm moved: the last completed generation is finite
            raise NonFiniteRun(f"{err}; {self.run_dir / 'checkpoints' / 'latest'} keeps generation {self._snapshot[0].generation}") from None
        finally:
            # what was last completed, even when Ctrl-C came in the middle of a generation (or went NaN)
            self.save("latest", *self._snapshot)
            self.algorithm.close()
            for observer in self.observers:
                observer.close()
        return RunResult(self.run_dir, self.state, interrupted, terminated)

    def step(self) -> Any:
        """One generation: the algorithm's, then its checkpoints and its record to the observers."""
        before = self._snapshot
        outcome = self.algorithm.generation(self.state)
        self._snapshot = (dataclasses.replace(self.state), self.algorithm.snapshot())
        if outcome.best:
            # the centre the generation's evaluation measured is the one it started from
            judged = dataclasses.replace(before[0], best_eval=self.state.best_eval, check_mean=self.state.check_mean, solved=self.state.solved)
            self.save("best", judged, before[1])
        if outcome.keep_as:
            self.save(outcome.keep_as, *self._snapshot)
        if self.state.generation % self.config.run.save_freq == 0:
            self.save("latest", *self._snapshot)
        for observer in self.observers:
            observer.on_generation(outcome.record)
        return outcome.record

    def save(self, which: str, state: RunState, parts: Snapshot) -> Path:
        folder = self.run_dir / "checkpoints" / which
        try:
            for part, agent in parts.items():
                save_checkpoint(
                    folder / part if part else folder,
                    W=agent.W,
                    network=agent.network,
                    walk=agent.arrays,
                    state={**agent.numbers, **state.to_json()},
                    extra_files=agent.files,
                )
        except OSError as err:
            raise RunFolderError(f"checkpoint in {str(self.run_dir)!r} cannot be written ({err.strerror or err})") from None
        return folder
