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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

from rlfree.agent import Agent
from rlfree.backend import choose_backend, make_batched_env, resolve_env_id, torch_settings
from rlfree.board import YARDSTICK, DuelRecord
from rlfree.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from rlfree.config import Config, ConfigError
from rlfree.evaluate import Rollout, evaluate
from rlfree.network import FreeNetwork
from rlfree.optimiser import make_optimiser
from rlfree.policy import Policy
from rlfree.seeding import episode_seeds, weights_generator
from rlfree.trainer import RunFolderError, RunResult

DUEL_ENV_ID = "rlfree/CatMouseDuel-v0"
SIDES = ("mouse", "cat")
SNAPSHOTS = (10, 100, 1000)  # generations whose centres are kept, as checkpoints/gen<G>/


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
    """Owns a cat-versus-mouse run: two walks, one batched duel env, counters, observers.

    The same interface as :class:`rlfree.trainer.Trainer` (``run() -> RunResult``); both
    walks take their settings from ``config.walk`` and both networks from ``config.network``.
    There is no target: the run lasts ``config.run.generations``.
    """

    def __init__(self, config: Config, run_dir: Path, observers: list | None = None, checkpoint: Checkpoint | None = None):
        config.validate()
        self.config = config
        self.run_dir = run_dir
        self.observers = list(observers or [])
        self.env_id = resolve_env_id(config.env.env)
        if self.env_id != DUEL_ENV_ID:
            raise ConfigError(f"co-evolution needs env {DUEL_ENV_ID!r} (a cat and a mouse acting at once); got {self.env_id!r}")
        self.backend = choose_backend(self.env_id, config.env.backend)
        self.device, self.dtype = torch_settings(config.env)
        self.target = None
        net, run = config.network, config.run
        sides = {}
        for i, side in enumerate(SIDES):
            policy = Policy.from_config(self.env_id, *side_spaces(side), net)
            generator = weights_generator(run.seed * 2 + i)
            centre = policy.initial_params(generator, net.init_scale, self.dtype).to(self.device)
            # the cat's perturbations come from another seed, or both sides would share their noise
            sides[side] = (policy, make_optimiser(config.walk, centre, run.seed * 2 + i))
        self.policy = DuelPolicy(sides["mouse"][0], sides["cat"][0])
        self.walks = {side: walk for side, (_, walk) in sides.items()}
        self.train_env = self._make_env(2 * self.walks["mouse"].rows * run.episodes)
        self.eval_env = None
        self.env_steps = 0
        self.episodes = 0
        self.elapsed = 0.0
        self.early: dict[str, torch.Tensor] = {}  # side -> (1, D) centre of generation YARDSTICK
        if checkpoint is not None:
            self._restore(checkpoint)
        self._snapshot = self._walk_states()

    def _make_env(self, num_envs: int):
        env = self.config.env
        return make_batched_env(
            self.env_id, num_envs, self.backend, device=self.device, dtype=self.dtype, vectorization=env.vectorization, workers=env.workers
        )

    @property
    def generation(self) -> int:
        return self.walks["mouse"].generation

    def centres(self) -> dict[str, torch.Tensor]:
        return {side: walk.centre[None] for side, walk in self.walks.items()}

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> RunResult:
        interrupted = False
        try:
            while self.generation < self.config.run.generations:
                self.train_generation()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.save("latest", self._snapshot)
            for env in (self.train_env, self.eval_env):
                if env is not None:
                    env.close()
            for observer in self.observers:
                observer.close()
        return RunResult(self.run_dir, self.generation, self.env_steps, self.episodes, self.elapsed, False, interrupted, None, None)

    def train_generation(self) -> DuelRecord:
        """One generation: ask both, play mice vs the cat centre and cats vs the mouse centre, tell both."""
        run = self.config.run
        started = time.perf_counter()
        generation = self.generation
        mice, cats = self.walks["mouse"].ask(), self.walks["cat"].ask()
        centres = self.centres()
        mouse_side = self.policy.join(mice, centres["cat"].expand(mice.shape[0], -1))
        cat_side = self.policy.join(centres["mouse"].expand(cats.shape[0], -1), cats)
        rollout = evaluate(
            self.policy, torch.cat([mouse_side, cat_side]), self.train_env, episode_seeds(run.seed, generation, run.episodes), max_steps=run.horizon or None
        )
        mouse_returns, cat_returns = rollout.returns[: mice.shape[0]], -rollout.returns[mice.shape[0] :]
        mouse_stats = self.walks["mouse"].tell(mouse_returns)
        cat_stats = self.walks["cat"].tell(cat_returns)
        steps, self.episodes = rollout.env_steps, self.episodes + rollout.lengths.numel()
        figures = {}
        if self.generation % run.eval_freq == 0:
            figures, eval_steps = self.evaluate_centres(generation)
            steps += eval_steps
        self.env_steps += steps
        seconds = time.perf_counter() - started
        self.elapsed += seconds
        if self.generation == YARDSTICK:
            self.early = {side: centre.clone() for side, centre in self.centres().items()}
        self._snapshot = self._walk_states()
        record = DuelRecord(
            generation=self.generation,
            env_steps=self.env_steps,
            episodes=self.episodes,
            mouse_return=float(mouse_returns.to(torch.float64).mean()),
            cat_return=float(cat_returns.to(torch.float64).mean()),
            mouse_sigma=self.walks["mouse"].sigma,
            cat_sigma=self.walks["cat"].sigma,
            mouse_step_norm=mouse_stats["step_norm"],
            cat_step_norm=cat_stats["step_norm"],
            steps_per_second=steps / max(seconds, 1e-9),
            elapsed=self.elapsed,
            **figures,
        )
        if self.generation in SNAPSHOTS:
            self.save(f"gen{self.generation}", self._snapshot)
        if self.generation % run.save_freq == 0:
            self.save("latest", self._snapshot)
        for observer in self.observers:
            observer.on_generation(record)
        return record

    def evaluate_centres(self, generation: int) -> tuple[dict[str, float], int]:
        """Centre vs centre on ``eval_episodes`` held-out seeds and, once generation YARDSTICK
        is kept, each centre against the other side's centre of then, and the two of then
        against each other (the baseline). Returns (DuelRecord fields, env steps)."""
        episodes = self.config.run.eval_episodes
        centres = self.centres()
        matches = [(centres["mouse"], centres["cat"])]
        if self.early:
            matches += [(centres["mouse"], self.early["cat"]), (self.early["mouse"], centres["cat"]), (self.early["mouse"], self.early["cat"])]
        params = torch.cat([self.policy.join(mouse, cat) for mouse, cat in matches])
        if self.eval_env is None or self.eval_env.num_envs != len(matches) * episodes:
            self.eval_env = self._make_env(len(matches) * episodes)
        seeds = episode_seeds(self.config.run.seed, generation, episodes, "eval")
        rollout = evaluate(self.policy, params, self.eval_env, seeds, max_steps=self.config.run.horizon or None)
        self.episodes += rollout.lengths.numel()
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
        return figures, rollout.env_steps

    # -- checkpoints ----------------------------------------------------------------------------
    def _walk_states(self) -> dict[str, dict]:
        return {side: walk.state_dict() for side, walk in self.walks.items()}

    def save(self, which: str, walk_states: dict[str, dict]) -> Path:
        """``checkpoints/<which>/mouse`` and ``.../cat``, each an ordinary checkpoint folder."""
        folder = self.run_dir / "checkpoints" / which
        policies = {"mouse": self.policy.mouse, "cat": self.policy.cat}
        try:
            for side, state in walk_states.items():
                spec = policies[side].spec
                early = self.early.get(side)
                save_checkpoint(
                    folder / side,
                    W=state["centre"].detach().cpu().numpy().reshape(spec.n_activations, spec.n_columns),
                    network={**policies[side].to_json(), "role": side},
                    walk={
                        **{name: value.detach().cpu().numpy() for name, value in state.items() if torch.is_tensor(value)},
                        **({"early": early[0].detach().cpu().numpy()} if early is not None else {}),
                    },
                    state={
                        "env_id": self.env_id,
                        "role": side,
                        **{name: value for name, value in state.items() if not torch.is_tensor(value)},  # generation, sigma, seed, ...
                        "env_steps": self.env_steps,
                        "episodes": self.episodes,
                        "elapsed": self.elapsed,
                        "config": self.config.to_dict(),
                    },
                )
        except OSError as err:
            raise RunFolderError(f"checkpoint in {str(self.run_dir)!r} cannot be written ({err.strerror or err})") from None
        return folder

    def _restore(self, checkpoint: Checkpoint) -> None:
        """Continue from the mouse's checkpoint folder and the cat's beside it."""
        loaded = {"mouse": checkpoint, "cat": load_checkpoint(checkpoint.path.parent / "cat")}
        for side, ckpt in loaded.items():
            if ckpt.network.get("role") != side or not ckpt.walk:
                raise ConfigError(f"{str(ckpt.path)!r} is not the {side} of a resumable cat-versus-mouse run")
            arrays = {k: torch.from_numpy(v) for k, v in ckpt.walk.items() if k != "early"}
            self.walks[side].load_state_dict({**arrays, **ckpt.state})
            if "early" in ckpt.walk:
                self.early[side] = torch.from_numpy(ckpt.walk["early"]).to(self.device, self.dtype)[None]
        state = checkpoint.state
        self.env_steps, self.episodes, self.elapsed = int(state["env_steps"]), int(state["episodes"]), float(state["elapsed"])
