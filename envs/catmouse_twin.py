"""Batched tensor twins of the cat-and-mouse grid world (:mod:`rlfree.envs.catmouse`).

One class per gymnasium id, all sharing :class:`CatMouseTwin`'s physics:

========================== ======================= ============================
id                         twin                    actions (int64)
========================== ======================= ============================
``rlfree/CatMouse-v0``      :class:`CatMouseTwin`      ``(N,)`` mouse move 0..3
``rlfree/CatMouseChase-v0`` :class:`CatMouseChaseTwin` ``(N,)`` mouse move 0..3
``rlfree/CatMouseDuel-v0``  :class:`CatMouseDuelTwin`  ``(N, 2)`` [mouse 0..3, cat 0..4]
``rlfree/CatMouseTeacher-v0`` :class:`CatMouseTeacherTwin` ``(N,)`` mouse move 0..3
========================== ======================= ============================

``state`` is ``(N, 4)`` = ``[cat_x, cat_y, mouse_x, mouse_y]`` in whole cells (stored as floats),
the same numbers in the same order as the gymnasium env's ``state``; the observation is
``state / (size - 1)``.

Randomness is counter-based (:func:`rlfree.seeding.seeded_uniform`), so it depends only on the
copy's episode seed: stream 0 places the animals, stream ``1 + t`` is the chasing cat's noise
at step ``t`` (:meth:`CatMouseTwin.cat_noise`). Every member of a population that is given the
same episode seed therefore meets the same start and the same cat dice.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from rlfree.envs.catmouse import CAPTURE_PENALTY, DEFAULT_CAT_RANDOM, GAME_LENGTH, MOVE_DX, MOVE_DY
from rlfree.batched import TwinEnv
from rlfree.seeding import seeded_uniform

_UP, _RIGHT, _DOWN, _LEFT = 0, 1, 2, 3


def teacher_actions(state: torch.Tensor, size: int = 6) -> torch.Tensor:
    """The seed's teacher (:func:`rlfree.envs.catmouse.teacher_move`) for a batch.

    state: (N, 4) whole cells ``[cat_x, cat_y, mouse_x, mouse_y]`` -> (N,) int64 actions 0..3.
    Pass ``observation * (size - 1)`` to grade from observations.
    """
    cells = torch.round(state).to(torch.int64)
    cat_x, cat_y, mouse_x, mouse_y = cells.unbind(-1)
    top = size - 1
    dx = mouse_x - cat_x
    dy = mouse_y - cat_y

    def choose(rules: list[tuple[torch.Tensor, int]], otherwise: int) -> torch.Tensor:
        out = torch.full_like(dx, otherwise)
        for condition, action in reversed(rules):  # the first rule that holds wins
            out = torch.where(condition, torch.full_like(dx, action), out)
        return out

    right_side = choose(
        [
            ((dy > dx) & (mouse_y != top), _UP),
            ((-dy > dx) & (mouse_y != 0), _DOWN),
            ((dy > 0) & (mouse_x == top), _UP),
            ((dy < 0) & (mouse_x == top), _DOWN),
        ],
        _RIGHT,
    )
    left_side = choose(
        [
            ((dy > -dx) & (mouse_y != top), _UP),
            ((-dy > -dx) & (mouse_y != 0), _DOWN),
            ((dy >= 0) & (mouse_x == 0), _UP),
            ((dy < 0) & (mouse_x == 0), _DOWN),
        ],
        _LEFT,
    )
    return torch.where(dx >= 0, right_side, left_side)


class CatMouseTwin(TwinEnv):
    """Twin of ``rlfree/CatMouse-v0``: the cat stays where it is."""

    env_id = "rlfree/CatMouse-v0"
    max_episode_steps = GAME_LENGTH
    cat = "still"

    def __init__(
        self,
        num_envs: int,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        size: int = 6,
        cat_random: float = DEFAULT_CAT_RANDOM,
    ):
        super().__init__(num_envs, device, dtype)
        if int(size) != size or size < 2:
            raise ValueError(f"size={size!r} is not accepted: the room needs a whole number of cells per side, at least 2")
        if not 0.0 <= cat_random <= 1.0:
            raise ValueError(f"cat_random={cat_random!r} is not accepted: a probability in [0, 1]")
        self.size = int(size)
        self.cat_random = float(cat_random)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = spaces.MultiDiscrete([4, 5]) if self.cat == "player" else spaces.Discrete(4)
        # moves 0..4 (up, right, down, left, stay) as (dx, dy) lookup tables
        self._dx = torch.tensor(MOVE_DX, dtype=dtype, device=self.device)
        self._dy = torch.tensor(MOVE_DY, dtype=dtype, device=self.device)
        self._stay = torch.tensor(4, dtype=torch.int64, device=self.device)
        self._penalty = torch.tensor(-CAPTURE_PENALTY, dtype=dtype, device=self.device)
        self._top = float(size - 1)

    # -- randomness -----------------------------------------------------------------------------
    def cat_noise(self, step: int, seeds: torch.Tensor | None = None) -> torch.Tensor:
        """The chasing cat's two uniforms at step ``step`` (0-based): (N, 2) float64.

        A pure function of (episode seed, step): ``seeded_uniform(seeds, 2, stream=1 + step)``.
        The gymnasium env draws the same two numbers from :meth:`CatMouseEnv.cat_noise`.
        """
        if seeds is None:
            seeds = getattr(self, "seeds", None)
            if seeds is None:
                raise RuntimeError(f"{type(self).__name__} has no episode seeds: call reset(seeds) before step() or set_state()")
        return seeded_uniform(seeds, 2, stream=1 + step, dtype=torch.float64)

    # -- TwinEnv hooks ---------------------------------------------------------------------------
    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        """Mouse and cat on two distinct cells, uniformly at random (same formula as the gym env)."""
        u = seeded_uniform(seeds, 2, stream=0, dtype=torch.float64)
        cells = self.size * self.size
        mouse = torch.floor(u[:, 0] * cells).to(torch.int64)
        cat = (mouse + 1 + torch.floor(u[:, 1] * (cells - 1)).to(torch.int64)) % cells
        state = torch.stack([cat % self.size, cat // self.size, mouse % self.size, mouse // self.size], dim=1)
        return state.to(self.dtype)

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        actions = torch.as_tensor(actions, device=self.device).to(torch.int64)
        top = self._top
        cat_x, cat_y, mouse_x, mouse_y = state.unbind(1)
        mouse_move = actions[:, 0] if self.cat == "player" else actions.reshape(-1)

        mouse_x = (mouse_x + self._dx[mouse_move]).clamp(0.0, top)
        mouse_y = (mouse_y + self._dy[mouse_move]).clamp(0.0, top)
        walked_in = (mouse_x == cat_x) & (mouse_y == cat_y)

        if self.cat == "still":
            cat_move = None
        elif self.cat == "player":
            cat_move = actions[:, 1]
        else:
            u = self.cat_noise(self.elapsed_steps)
            gap_x, gap_y = mouse_x - cat_x, mouse_y - cat_y
            far_x, far_y = gap_x.abs(), gap_y.abs()
            along_x = (far_x > far_y) | ((far_x == far_y) & (u[:, 1] < 0.5))
            toward_x = torch.where(gap_x > 0, _RIGHT, _LEFT)
            toward_y = torch.where(gap_y > 0, _UP, _DOWN)
            greedy = torch.where(along_x, toward_x, toward_y)
            random_move = (u[:, 1] * 4.0).to(torch.int64)  # floor: u >= 0
            cat_move = torch.where(u[:, 0] < self.cat_random, random_move, greedy)

        if cat_move is not None:
            cat_move = torch.where(walked_in, self._stay, cat_move)  # the game is over: the cat stays
            cat_x = (cat_x + self._dx[cat_move]).clamp(0.0, top)
            cat_y = (cat_y + self._dy[cat_move]).clamp(0.0, top)
        caught = (mouse_x == cat_x) & (mouse_y == cat_y)

        distance = (mouse_x - cat_x).abs() + (mouse_y - cat_y).abs()
        reward = torch.where(caught, self._penalty, distance / (2.0 * self._top))
        return torch.stack([cat_x, cat_y, mouse_x, mouse_y], dim=1), reward, caught

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        return state / self._top


class CatMouseChaseTwin(CatMouseTwin):
    """Twin of ``rlfree/CatMouseChase-v0``: the cat chases the mouse, with ``cat_random`` noise."""

    env_id = "rlfree/CatMouseChase-v0"
    cat = "chase"


class CatMouseDuelTwin(CatMouseTwin):
    """Twin of ``rlfree/CatMouseDuel-v0``: actions (N, 2) = [mouse move 0..3, cat move 0..4]."""

    env_id = "rlfree/CatMouseDuel-v0"
    cat = "player"


class CatMouseTeacherTwin(CatMouseTwin):
    """Twin of ``rlfree/CatMouseTeacher-v0``: still cat; reward 1 per move equal to the teacher's."""

    env_id = "rlfree/CatMouseTeacher-v0"
    cat = "still"

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        moves = torch.as_tensor(actions, device=self.device).to(torch.int64).reshape(-1)
        agrees = moves == teacher_actions(state, self.size)
        state, _, caught = super().transition(state, moves)
        # the teacher never walks onto the cat, so a capture is always a mistake
        return state, (agrees & ~caught).to(self.dtype), caught
