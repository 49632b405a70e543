"""Cat versus mouse: two smart random walks trained against each other (co-evolution).

The issue's third way of learning the cat-and-mouse game (``rlfree/CatMouseDuel-v0``, whose
action is ``[mouse move 0..3, cat move 0..4]`` and whose reward is the mouse's). A mouse
network and a cat network each have their own walk; both read the same observation
``[cat_x, cat_y, mouse_x, mouse_y] / 5`` and act at once. One generation:

1. ask both walks for their populations (P members each);
2. play, in one batched env on the same E episode seeds, every mouse member against the cat
   centre and every cat member against the mouse centre: 2 P matches x E games;
3. tell the mouse walk the mouse's returns and the cat walk **minus** the mouse's returns
   (the cat's reward is the negation of the mouse's);
4. every ``eval_freq`` generations, play the centres against each other on held-out seeds
   (mouse return, capture rate, game length), and each centre against the other side's
   centre of generation :data:`YARDSTICK` (10), beside those two against each other on the
   same games: the yardstick that shows both sides improved, not just moved;
5. log both sides, write ``checkpoints/latest/{mouse,cat}`` and, at the generations in
   :data:`SNAPSHOTS`, ``checkpoints/gen<G>/{mouse,cat}``.

Each side's folder is an ordinary checkpoint (:mod:`rlfree.checkpoint`) whose policy has that
animal's own spaces: observation ``Box(0, 1, (4,))``, action ``Discrete(4)`` (mouse) or
``Discrete(5)`` (cat, 4 = stay). :class:`DuelPolicy` joins the two into one policy of the
duel env, so the ordinary rollout (:func:`rlfree.evaluate.evaluate`) and playback
(:class:`rlfree.agent.Agent`) run a match like any single agent.
"""

from __future__ import annotations

import time
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from gymnasium import spaces

from rlfree.agent import Agent
from rlfree.backend import choose_backend, make_batched_env, resolve_env_id, torch_settings
from rlfree.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from rlfree.config import Config, ConfigError
from rlfree.evaluate import Rollout, StepProgress
from rlfree.evaluator import LocalEvaluator
from rlfree.network import FreeNetwork
from rlfree.optimiser import make_optimiser
from rlfree.policy import Policy
from rlfree.run_loop import AgentState, Generation, RunState, Snapshot
from rlfree.seeding import episode_seeds, weights_generator

DUEL_ENV_ID = "rlfree/CatMouseDuel-v0"
SIDES = ("mouse", "cat")
SNAPSHOTS = (10, 100, 1000)  # generations whose centres are kept, as checkpoints/gen<G>/
YARDSTICK = 10  # the earlier generation the centres are measured against


def _tag(tag: str):
    """A record field logged to TensorBoard under ``tag``."""
    return field(default=None, metadata={"tag": tag})


@dataclass
class DuelRecord:
    """What one generation of co-evolution did; None where a figure was not measured.

    A field's ``tag`` is its TensorBoard tag; the x axis is the generation.
    """

    STEP = "generation"

    generation: int
    env_steps: int
    episodes: int = field(metadata={"tag": "time/episodes"})  # games played so far, evaluations included
    mouse_return: float = field(metadata={"tag": "coevolve/mouse_return"})  # mean over the mouse population (vs the cat centre)
    cat_return: float = field(metadata={"tag": "coevolve/cat_return"})  # mean over the cat population (vs the mouse centre); = - mouse's
    mouse_sigma: float = field(metadata={"tag": "walk/mouse_sigma"})
    cat_sigma: float = field(metadata={"tag": "walk/cat_sigma"})
    mouse_step_norm: float = field(metadata={"tag": "walk/mouse_step_norm"})
    cat_step_norm: float = field(metadata={"tag": "walk/cat_step_norm"})
    steps_per_second: float = field(metadata={"tag": "time/fps"})
    elapsed: float
    centre_mouse_return: float | None = _tag("coevolve/centre_mouse_return")  # centre vs centre, held-out games
    capture_rate: float | None = _tag("coevolve/capture_rate")
    game_length: float | None = _tag("coevolve/game_length")
    mouse_vs_early_cat_return: float | None = _tag(f"coevolve/mouse_vs_cat_gen{YARDSTICK}_return")  # mouse centre vs the cat of generation YARDSTICK
    cat_vs_early_mouse_capture_rate: float | None = _tag(f"coevolve/cat_vs_mouse_gen{YARDSTICK}_capture_rate")  # cat centre vs the mouse of then
    early_mouse_return: float | None = _tag(f"coevolve/gen{YARDSTICK}_vs_gen{YARDSTICK}_return")  # the two of generation YARDSTICK, the same games
    early_capture_rate: float | None = _tag(f"coevolve/gen{YARDSTICK}_vs_gen{YARDSTICK}_capture_rate")

    HEADER = (
        f"{'gen':>6} {'games':>10} {'mouse pop':>9} {'cat pop':>8} {'caught':>7} {'length':>6} "
        f"{f'M vs C{YARDSTICK}':>9} {f'C vs M{YARDSTICK}':>9} {f'{YARDSTICK} vs {YARDSTICK}':>15} {'elapsed':>8}"
    )

    def line(self) -> str:
        """The console line: population returns, capture rate, and the yardstick matches."""
        baseline = f"{_fmt(self.early_mouse_return, 6, '.2f')} {_fmt(self.early_capture_rate, 8, '.1%')}"
        return (
            f"{self.generation:>6} {self.episodes:>10,} {self.mouse_return:>9.2f} {self.cat_return:>8.2f} {_fmt(self.capture_rate, 7, '.1%')} "
            f"{_fmt(self.game_length, 6)} {_fmt(self.mouse_vs_early_cat_return, 9, '.2f')} {_fmt(self.cat_vs_early_mouse_capture_rate, 9, '.1%')} "
            f"{baseline} {self.elapsed:>7.1f}s"
        )


def _fmt(value: float | None, width: int, spec: str = ".1f") -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def side_spaces(side: str) -> tuple[spaces.Box, spaces.Discrete]:
    """(observation space, action space) of one animal of the duel."""
    actions = {"mouse": 4, "cat": 5}[side]
    return spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32), spaces.Discrete(actions)


def captured(rollout: Rollout) -> torch.Tensor:
    """(P, E) bool: games the cat won.

    A capture costs the mouse 10 and a survived move earns it at most 1, so a caught mouse's
    return is at most 9 - 10 < 0 and a surviving mouse's is at least 10 x 0.1 > 0.
    """
    return rollout.returns < 0


# --------------------------------------------------------------------------------------------
# Two policies as one
class DuelNetwork:
    """A mouse population and a cat population of the same size, paired row by row."""

    def __init__(self, mouse: FreeNetwork, cat: FreeNetwork):
        self.mouse, self.cat = mouse, cat

    def initial_activations(self, batch: int) -> torch.Tensor:
        """(P, B, A_mouse + A_cat) zeros: the two recurrent states side by side."""
        return torch.cat([self.mouse.initial_activations(batch), self.cat.initial_activations(batch)], dim=-1)


@dataclass
class DuelPolicy:
    """A mouse policy and a cat policy acting as one policy of ``rlfree/CatMouseDuel-v0``.

    params: (P, D_mouse + D_cat), the mouse's weights first; actions (N, 2) = [mouse, cat].
    """

    mouse: Policy
    cat: Policy

    @property
    def n_params(self) -> int:
        return self.mouse.spec.n_params + self.cat.spec.n_params

    def join(self, mouse_params: torch.Tensor, cat_params: torch.Tensor) -> torch.Tensor:
        """(P, D_mouse), (P, D_cat) -> (P, D_mouse + D_cat): match p is mouse p against cat p."""
        return torch.cat([mouse_params, cat_params], dim=1)

    def network(self, params: torch.Tensor) -> DuelNetwork:
        split = self.mouse.spec.n_params
        return DuelNetwork(self.mouse.network(params[:, :split]), self.cat.network(params[:, split:]))

    def act(self, network: DuelNetwork, obs: torch.Tensor, activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: (P * B, 4); activations: (P, B, A_mouse + A_cat) -> (actions (P * B, 2), activations)."""
        split = self.mouse.spec.n_activations
        mouse_actions, mouse_state = self.mouse.act(network.mouse, obs, activations[..., :split])
        cat_actions, cat_state = self.cat.act(network.cat, obs, activations[..., split:])
        return torch.stack([mouse_actions, cat_actions], dim=-1), torch.cat([mouse_state, cat_state], dim=-1)


# --------------------------------------------------------------------------------------------
# Saved duels
def find_duel(path: str | Path, which: str = "latest") -> Path:
    """The folder holding ``mouse/`` and ``cat/``: ``path`` itself or ``path/checkpoints/<which>``."""
    path = Path(path)
    for folder in (path, path / "checkpoints" / which):
        if all((folder / side / "W.npy").is_file() for side in SIDES):
            return folder
    raise CheckpointError(
        f"{str(path)!r} is not a cat-versus-mouse run or checkpoint: expected mouse/ and cat/ in it or in checkpoints/{which}"
    )


def is_duel(path: str | Path, which: str = "latest") -> bool:
    try:
        find_duel(path, which)
    except CheckpointError:
        return False
    return True


def load_side(path: str | Path, side: str) -> tuple[Policy, torch.Tensor, Checkpoint]:
    """One animal from a checkpoint folder: (policy, params (1, D) float64, checkpoint).

    A single-agent mouse (``rlfree/CatMouseChase-v0``, ...) has the duel mouse's spaces, so it
    may play the mouse too."""
    checkpoint = load_checkpoint(path)
    role = checkpoint.network.get("role")
    if role is not None and role != side:
        raise CheckpointError(f"{str(checkpoint.path)!r} holds the {role}'s network; expected the {side}'s")
    try:
        policy = Policy.from_json(checkpoint.network, *side_spaces(side))
    except ValueError as err:
        raise CheckpointError(f"{str(checkpoint.path)!r}: {err}") from None
    params = torch.from_numpy(checkpoint.W.astype(np.float64).reshape(1, -1))
    return policy, params, checkpoint


def load_duel_agent(mouse: str | Path, cat: str | Path | None = None, which: str = "latest") -> Agent:
    """A match as an :class:`Agent` of the duel env: the mouse of ``mouse`` against the cat of
    ``cat`` (default: the same run or checkpoint). Either may be a run folder, a folder holding
    ``mouse/`` and ``cat/`` (``checkpoints/gen10``, a shipped agent) or that side's own folder."""

    def side_folder(path: str | Path, side: str) -> Path:
        path = Path(path)
        return path if (path / "W.npy").is_file() else find_duel(path, which) / side

    mouse_policy, mouse_params, mouse_ckpt = load_side(side_folder(mouse, "mouse"), "mouse")
    cat_policy, cat_params, _ = load_side(side_folder(cat if cat is not None else mouse, "cat"), "cat")
    policy = DuelPolicy(mouse_policy, cat_policy)
    return Agent(DUEL_ENV_ID, policy, policy.join(mouse_params, cat_params), mouse_ckpt.path.parent)


# --------------------------------------------------------------------------------------------
class CoevolutionTrainer:
    """The algorithm of a cat-versus-mouse run: two walks, one batched duel env.

    Both walks take their settings from ``config.walk`` and both networks from
    ``config.network``. There is no target: the run lasts ``config.run.generations``.
    """

    def __init__(self, config: Config):
        config.validate()
        self.config = config
        self.env_id = resolve_env_id(config.env.env)
        if self.env_id != DUEL_ENV_ID:
            raise ConfigError(f"co-evolution needs env {DUEL_ENV_ID!r} (a cat and a mouse acting at once); got {self.env_id!r}")
        env, net, run = config.env, config.network, config.run
        self.backend = choose_backend(self.env_id, env.backend, env.env_kwargs)
        self.device, self.dtype = torch_settings(env)
        self.target = None
        self.on_progress: Callable[[StepProgress], None] | None = None  # hears where a long evaluation stands (the console)
        sides = {}
        for i, side in enumerate(SIDES):
            policy = Policy.from_config(self.env_id, *side_spaces(side), net)
            centre = policy.initial_params(weights_generator(run.seed * 2 + i), net.init_scale, self.dtype).to(self.device)
            # the cat's perturbations come from another seed, or both sides would share their noise
            sides[side] = (policy, make_optimiser(config.walk, centre, run.seed * 2 + i))
        self.policy = DuelPolicy(sides["mouse"][0], sides["cat"][0])
        self.walks = {side: walk for side, (_, walk) in sides.items()}
        self.evaluator = LocalEvaluator(self.policy, functools.partial(
            make_batched_env, self.env_id, backend=self.backend, device=self.device, dtype=self.dtype,
            vectorization=env.vectorization, workers=env.workers, env_kwargs=env.env_kwargs,
        ))
        self.evaluator.env(2 * self.walks["mouse"].rows * run.episodes)  # made now, so a bad setting fails before the run
        self.early: dict[str, torch.Tensor] = {}  # side -> (1, D) centre of generation YARDSTICK

    def centres(self) -> dict[str, torch.Tensor]:
        return {side: walk.centre[None] for side, walk in self.walks.items()}

    # -- one generation -------------------------------------------------------------------------
    def generation(self, state: RunState) -> Generation:
        """Ask both, play mice vs the cat centre and cats vs the mouse centre, tell both, record."""
        run = self.config.run
        started = time.perf_counter()
        mice, cats = self.walks["mouse"].ask(), self.walks["cat"].ask()
        centres = self.centres()
        mouse_side = self.policy.join(mice, centres["cat"].expand(len(mice), -1))
        cat_side = self.policy.join(centres["mouse"].expand(len(cats), -1), cats)
        seeds = episode_seeds(run.seed, state.generation, run.episodes)
        rollout = self.evaluator.evaluate(torch.cat([mouse_side, cat_side]), seeds, max_steps=run.horizon or None, on_progress=self.on_progress)
        mouse_returns, cat_returns = rollout.returns[: len(mice)], -rollout.returns[len(mice) :]
        mouse_stats = self.walks["mouse"].tell(mouse_returns)
        cat_stats = self.walks["cat"].tell(cat_returns)
        generation = self.walks["mouse"].generation
        steps = rollout.env_steps
        state.episodes += rollout.lengths.numel()
        figures = {}
        if generation % run.eval_freq == 0:
            figures, eval_steps, eval_games = self.evaluate_centres(state.generation)
            steps += eval_steps
            state.episodes += eval_games
        seconds = time.perf_counter() - started
        state.generation, state.env_steps, state.elapsed = generation, state.env_steps + steps, state.elapsed + seconds
        if generation == YARDSTICK:
            self.early = {side: centre.clone() for side, centre in self.centres().items()}
        record = DuelRecord(
            generation=generation, env_steps=state.env_steps, episodes=state.episodes,
            mouse_return=float(mouse_returns.to(torch.float64).mean()), cat_return=float(cat_returns.to(torch.float64).mean()),
            mouse_sigma=self.walks["mouse"].sigma, cat_sigma=self.walks["cat"].sigma,
            mouse_step_norm=mouse_stats["step_norm"], cat_step_norm=cat_stats["step_norm"],
            steps_per_second=steps / max(seconds, 1e-9), elapsed=state.elapsed, **figures,
        )
        return Generation(record, keep_as=f"gen{generation}" if generation in SNAPSHOTS else None)

    def evaluate_centres(self, generation: int) -> tuple[dict[str, float], int, int]:
        """Centre vs centre on ``eval_episodes`` held-out seeds and, once generation YARDSTICK
        is kept, each centre against the other side's centre of then, and the two of then
        against each other (the baseline). Returns (DuelRecord fields, env steps, games)."""
        episodes = self.config.run.eval_episodes
        centres = self.centres()
        matches = [(centres["mouse"], centres["cat"])]
        if self.early:
            matches += [(centres["mouse"], self.early["cat"]), (self.early["mouse"], centres["cat"]), (self.early["mouse"], self.early["cat"])]
        params = torch.cat([self.policy.join(mouse, cat) for mouse, cat in matches])
        seeds = episode_seeds(self.config.run.seed, generation, episodes, "eval")
        rollout = self.evaluator.evaluate(params, seeds, max_steps=self.config.run.horizon or None, on_progress=self.on_progress)
        returns, caught = rollout.returns.to(torch.float64), captured(rollout).to(torch.float64)
        figures = {
            "centre_mouse_return": float(returns[0].mean()),
            "capture_rate": float(caught[0].mean()),
            "game_length": float(rollout.lengths[0].to(torch.float64).mean()),
        }
        if self.early:
            figures["mouse_vs_early_cat_return"] = float(returns[1].mean())
            figures["cat_vs_early_mouse_capture_rate"] = float(caught[2].mean())
            figures["early_mouse_return"] = float(returns[3].mean())
            figures["early_capture_rate"] = float(caught[3].mean())
        return figures, rollout.env_steps, rollout.lengths.numel()

    def texts(self) -> dict[str, str]:
        """Nothing beyond the config for TensorBoard to show once."""
        return {}

    # -- checkpoints ----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """``mouse`` and ``cat``, each an ordinary agent checkpoint with its role."""
        policies = {"mouse": self.policy.mouse, "cat": self.policy.cat}
        parts = {}
        for side, walk in self.walks.items():
            state, spec = walk.state_dict(), policies[side].spec
            arrays = {name: value.detach().cpu().numpy() for name, value in state.items() if torch.is_tensor(value)}
            if side in self.early:
                arrays["early"] = self.early[side][0].detach().cpu().numpy()
            numbers = {name: value for name, value in state.items() if not torch.is_tensor(value)}  # generation, sigma, seed, ...
            W = state["centre"].detach().cpu().numpy().reshape(spec.n_activations, spec.n_columns)
            parts[side] = AgentState(W, {**policies[side].to_json(), "role": side}, arrays, {**numbers, "role": side})
        return parts

    def restore(self, parts: dict[str, Checkpoint]) -> None:
        """Continue from the mouse's and the cat's latest checkpoints."""
        for side in SIDES:
            ckpt = parts.get(side)
            if ckpt is None or ckpt.network.get("role") != side or not ckpt.walk:
                raise CheckpointError(f"{str(ckpt.path) if ckpt else side!r} is not the {side} of a resumable cat-versus-mouse run")
            arrays = {k: torch.from_numpy(v) for k, v in ckpt.walk.items() if k != "early"}
            try:
                self.walks[side].load_state_dict({**arrays, **ckpt.state})
            except ValueError as err:  # a walk state of another network's shape
                raise CheckpointError(f"{str(ckpt.path)!r} cannot be resumed with this config: {err}") from None
            if "early" in ckpt.walk:
                self.early[side] = torch.from_numpy(ckpt.walk["early"]).to(self.device, self.dtype)[None]

    def close(self) -> None:
        self.evaluator.close()
