"""The cat-and-mouse grid world of the seed's "Long Short Term Memory" section, as gymnasium envs.

A cat and a mouse live in a ``size`` x ``size`` room (default 6 x 6, as in the seed). A game is
10 mouse moves (gymnasium's ``TimeLimit``: ``max_episode_steps=10``, reported as *truncated*).

Coordinates (the seed's ``World``): cells are ``(x, y)`` with ``0 <= x, y < size``; ``(0, 0)``
is the bottom-left cell, ``x`` grows to the right and ``y`` grows **upwards**.

Actions of an animal, in the seed's clockwise compass order::

    0 = up (y + 1)    1 = right (x + 1)    2 = down (y - 1)    3 = left (x - 1)    [4 = stay, cat only]

Moving into a wall leaves the animal where it is (the seed clips the position to the room).

Observation, ``Box(0, 1, (4,), float32)``, in the order the seed feeds its LSTM::

    [cat_x, cat_y, mouse_x, mouse_y] / (size - 1)

(the seed's input list starts with ``cat_x / (map_width - 1)`` and its progress printer reads
the mouse back from entries 2 and 3). The env's ``state`` holds the same four numbers as whole
cells (int64), in the same order; the batched twin's state is that, as floats.

One step: the **mouse moves first**; if it lands on the cat it is caught (walking into the cat;
this also makes every "swap" of cells a capture). Otherwise the **cat moves**; if it lands on
the mouse the mouse is caught. A capture ends the game (*terminated*); the cat does not move
on a step in which the mouse walked into it.

Reward (the mouse's): after a step without capture, the Manhattan distance between the two
animals divided by its maximum ``2 * (size - 1)``, so in ``(0, 1]``; a capture gives
``-CAPTURE_PENALTY`` (= -10) and ends the game. Ten steps give at most 10, so being caught is
always worse than any game survived, and among survived games, further from the cat is better.

Four ids (registered by :func:`register_envs`), one class :class:`CatMouseEnv` with a ``cat``
parameter (and a ``reward`` parameter for the imitation game):

``rlfree/CatMouse-v0`` (``cat="still"``)
    The seed's game: the cat never moves. ``Discrete(4)`` mouse actions. The seed's "stupid
    teacher" (:func:`teacher_action`) grades the mouse; :func:`mistakes_per_game` is the seed's
    "mistakes per game". (The seed let its mouse walk onto the still cat unpunished; here that
    is a capture, and the teacher never does it.)

``rlfree/CatMouseChase-v0`` (``cat="chase"``)
    The cat hunts: each step, after the mouse moved, with probability ``cat_random`` (default
    0.25) it makes a uniformly random one of its 4 moves (bumping a wall means staying);
    otherwise it steps one cell toward the mouse along the axis where they are further apart (a
    tie between the axes is broken at random, 50/50). The step's noise is two uniforms from
    :meth:`CatMouseEnv.cat_noise` (``u[0] < cat_random`` picks a random move, then
    ``floor(4 u[1])`` is its direction; else ``u[1] < 0.5`` breaks a tie toward moving in x).
    Measured over 1000 games each (``python -m rlfree.envs.catmouse`` reruns it): fraction of games
    survived (10 moves), and the mean return::

        cat_random    random mouse        teacher             evader (evader_action)
        0.00           1.8% (-9.00)       26.2% (-5.47)      100.0% (+2.27)
        0.25 default  12.2% (-7.45)       53.2% (-1.86)      100.0% (+3.21)
        0.50          28.1% (-5.33)       76.1% (+1.47)      100.0% (+4.21)
        0.75          55.1% (-1.71)       90.5% (+4.08)      100.0% (+5.28)

    A careless mouse is caught in almost 9 games of 10; the seed's teacher, which walks into
    walls in corners and on the far wall, in about half; a mouse that simply steps to the
    neighbouring cell furthest from the cat is never caught. (On ``rlfree/CatMouse-v0`` the
    mean returns are: random mouse +2.48, teacher +6.47, evader +6.73.)

``rlfree/CatMouseDuel-v0`` (``cat="player"``)
    Cat-versus-mouse co-evolution: the action is for both animals,
    ``MultiDiscrete([4, 5])`` = ``[mouse move, cat move]``, the cat's moves being the four
    above plus 4 = stay. Both are chosen from the same observation; they are resolved mouse
    first, as above. The reward is the mouse's; **the cat's reward is its negation**.

``rlfree/CatMouseTeacher-v0`` (``cat="still"``, ``reward="teacher"``)
    The seed's own setting, imitation, as a reward: the still-cat game where each move earns
    1 if it equals :func:`teacher_action` on that move's observation and 0 otherwise. Walking
    onto the cat (never the teacher's move) ends the game, so the moves not made earn
    nothing: the return is ``10 - mistakes``, the count of :func:`game_mistakes`.

Render modes: ``"ansi"`` (a text board, top row = highest y), ``"rgb_array"`` (HxWx3 uint8 drawn
with numpy only, 64 px cells, so it works headless) and ``"human"`` (a pygame window, imported
lazily, as gymnasium's classic-control envs do).
"""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

UP, RIGHT, DOWN, LEFT, STAY = 0, 1, 2, 3, 4
ACTION_NAMES = ("up", "right", "down", "left", "stay")
MOVE_DX = (0, 1, 0, -1, 0)
MOVE_DY = (1, 0, -1, 0, 0)

GAME_LENGTH = 10
CAPTURE_PENALTY = 10.0
DEFAULT_CAT_RANDOM = 0.25
CAT_MODES = ("still", "chase", "player")
REWARDS = ("distance", "teacher")

ENV_IDS = {
    "rlfree/CatMouse-v0": "still",
    "rlfree/CatMouseChase-v0": "chase",
    "rlfree/CatMouseDuel-v0": "player",
    "rlfree/CatMouseTeacher-v0": "still",
}
ENV_REWARDS = {"rlfree/CatMouseTeacher-v0": "teacher"}  # the others: "distance"
# gymnasium's reward_threshold, the score at which a task counts as solved (scripts/zoo.py)
ENV_THRESHOLDS = {
    "rlfree/CatMouseChase-v0": 2.0,  # the seed's teacher averages -1.9 here, a hand-written evader +3.2
    "rlfree/CatMouseTeacher-v0": 9.2,  # 0.8 mistakes per game; the seed's LSTM made 1.0
}
TWIN_ENTRY_POINTS = {
    "rlfree/CatMouse-v0": "rlfree.envs.catmouse_twin:CatMouseTwin",
    "rlfree/CatMouseChase-v0": "rlfree.envs.catmouse_twin:CatMouseChaseTwin",
    "rlfree/CatMouseDuel-v0": "rlfree.envs.catmouse_twin:CatMouseDuelTwin",
    "rlfree/CatMouseTeacher-v0": "rlfree.envs.catmouse_twin:CatMouseTeacherTwin",
}

# colours of the rgb_array frame
_FLOOR = (236, 236, 236)
_GRID = (170, 170, 170)
_WALL = (110, 110, 110)
_MOUSE = (40, 160, 60)
_MOUSE_TRAIL = (170, 215, 175)
_CAT = (210, 50, 40)
_CAUGHT = (120, 40, 160)


# --------------------------------------------------------------------------------------------
# The seed's "stupid teacher"
def teacher_move(cat_x: int, cat_y: int, mouse_x: int, mouse_y: int, size: int = 6) -> int:
    """The seed's ``stupidTeacherForMouseGetIdealDirection``, on whole cells: returns 0..3.

    With ``dx = mouse_x - cat_x`` and ``dy = mouse_y - cat_y`` (the mouse's offset from the
    cat) and ``top = size - 1``, rule by rule, first match wins:

    If ``dx >= 0`` (cat to the left or in the same column; "we could move right"):

    1. ``dy > dx`` and the mouse is not on the top row -> **up**;
    2. ``-dy > dx`` and the mouse is not on the bottom row -> **down**;
    3. ``dy > 0`` and the mouse is on the right wall -> **up**;
    4. ``dy < 0`` and the mouse is on the right wall -> **down**;
    5. otherwise -> **right**.

    If ``dx < 0`` (cat to the right):

    1. ``dy > -dx`` and the mouse is not on the top row -> **up**;
    2. ``-dy > -dx`` and the mouse is not on the bottom row -> **down**;
    3. ``dy >= 0`` and the mouse is on the left wall -> **up**;
    4. ``dy < 0`` and the mouse is on the left wall -> **down**;
    5. otherwise -> **left**.

    In words (the seed's summary): run away along the axis in which you are already furthest
    from the cat; at a wall, run along the wall away from the cat. Ties of ``|dx| == |dy|``
    go horizontally; ``dx == 0`` counts as "cat on the left" (run right). The quirks are kept
    exactly: rules 3-4 fire even when the mouse is also on the top/bottom row, so in a corner
    the teacher may say to walk into the wall (stay put), e.g. mouse in the top-right corner
    with the cat below-left and further away vertically -> up; in the ``dx >= 0`` branch a
    mouse on the right wall level with the cat (``dy == 0``) is told **right** (into the
    wall), while in the ``dx < 0`` branch a mouse on the left wall level with the cat is told
    **up** (the ``>=``). The teacher never steps onto the cat.
    """
    top = size - 1
    dx = mouse_x - cat_x
    dy = mouse_y - cat_y
    if dx >= 0:
        if dy > dx and mouse_y != top:
            return UP
        if -dy > dx and mouse_y != 0:
            return DOWN
        if dy > 0 and mouse_x == top:
            return UP
        if dy < 0 and mouse_x == top:
            return DOWN
        return RIGHT
    if dy > -dx and mouse_y != top:
        return UP
    if -dy > -dx and mouse_y != 0:
        return DOWN
    if dy >= 0 and mouse_x == 0:
        return UP
    if dy < 0 and mouse_x == 0:
        return DOWN
    return LEFT


def observation_cells(observation: Any, size: int = 6) -> tuple[int, int, int, int]:
    """A scaled observation ``[cat_x, cat_y, mouse_x, mouse_y] / (size-1)`` -> whole cells."""
    obs = np.asarray(observation, dtype=np.float64).reshape(-1)
    if obs.shape != (4,):
        raise ValueError(f"observation of shape {obs.shape} is not accepted: expected 4 numbers [cat_x, cat_y, mouse_x, mouse_y] / (size-1)")
    cells = np.rint(obs * (size - 1)).astype(np.int64)
    return int(cells[0]), int(cells[1]), int(cells[2]), int(cells[3])


def teacher_action(observation: Any, size: int = 6) -> int:
    """The seed's teacher as a policy: scaled observation (as the envs return it) -> action 0..3.

    See :func:`teacher_move` for the rules. A batched torch version is
    :func:`rlfree.envs.catmouse_twin.teacher_actions`.
    """
    return teacher_move(*observation_cells(observation, size), size=size)


# --------------------------------------------------------------------------------------------
# Moves, and the chasing cat's greedy rule
def _toward(cat_x: int, cat_y: int, mouse_x: int, mouse_y: int, tie_x: bool) -> int:
    """The cat's greedy move: one cell toward the mouse along the axis with the larger gap."""
    dx = mouse_x - cat_x
    dy = mouse_y - cat_y
    if abs(dx) > abs(dy) or (abs(dx) == abs(dy) and tie_x):
        return RIGHT if dx > 0 else LEFT
    return UP if dy > 0 else DOWN


def _moved(x: int, y: int, move: int, size: int) -> tuple[int, int]:
    top = size - 1
    return min(max(x + MOVE_DX[move], 0), top), min(max(y + MOVE_DY[move], 0), top)


class CatMouseEnv(gym.Env):
    """Cat and mouse in a ``size`` x ``size`` room; see the module docstring for the rules.

    Parameters: ``size`` (cells per side, >= 2), ``cat`` (``"still"``, ``"chase"`` or
    ``"player"``), ``cat_random`` (probability that a chasing cat moves at random instead of
    toward the mouse), ``reward`` (``"distance"``, or ``"teacher"``: 1 per move equal to
    :func:`teacher_action`, else 0), ``render_mode``.

    ``state`` is ``np.array([cat_x, cat_y, mouse_x, mouse_y])`` (int64 cells); ``elapsed_steps``
    counts the moves of this game. The chasing cat draws its per-step noise from
    :meth:`cat_noise` (two uniforms from ``self.np_random``), so a test can replace that method
    to feed the exact numbers the batched twin used.
    """

    metadata = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 4}
    cell_px = 64
    wall_px = 8

    def __init__(
        self,
        size: int = 6,
        cat: str = "still",
        cat_random: float = DEFAULT_CAT_RANDOM,
        render_mode: str | None = None,
        reward: str = "distance",
    ):
        if int(size) != size or size < 2:
            raise ValueError(f"size={size!r} is not accepted: the room needs a whole number of cells per side, at least 2")
        if cat not in CAT_MODES:
            raise ValueError(f"cat={cat!r} is not accepted: use one of {', '.join(map(repr, CAT_MODES))}")
        if not 0.0 <= cat_random <= 1.0:
            raise ValueError(f"cat_random={cat_random!r} is not accepted: a probability in [0, 1]")
        if reward not in REWARDS:
            raise ValueError(f"reward={reward!r} is not accepted: use one of {', '.join(map(repr, REWARDS))}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not accepted: use one of {self.metadata['render_modes']} or None")
        self.size = int(size)
        self.cat = cat
        self.cat_random = float(cat_random)
        self.reward = reward
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        if cat == "player":
            self.action_space = spaces.MultiDiscrete([4, 5])
        else:
            self.action_space = spaces.Discrete(4)
        self.state: np.ndarray | None = None
        self.caught = False
        self.elapsed_steps = 0
        self.trail: list[tuple[int, int]] = []
        self.screen = None
        self.clock = None

    # -- randomness -----------------------------------------------------------------------------
    def cat_noise(self, step: int) -> np.ndarray:
        """The chasing cat's noise at step ``step`` (0-based) of the game: two uniforms in [0, 1).

        Drawn from ``self.np_random`` (``step`` is unused here). The batched twin's
        :meth:`~rlfree.envs.catmouse_twin.CatMouseTwin.cat_noise` has the same signature, so a test can
        make this env meet exactly the twin's dice: ``env.cat_noise = lambda step: u[step]``.
        """
        return self.np_random.random(2)

    # -- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Cat and mouse on two distinct cells, uniformly at random.

        ``options={"state": [cat_x, cat_y, mouse_x, mouse_y]}`` starts from given cells instead.
        """
        super().reset(seed=seed)
        if options is not None and "state" in options:
            state = np.asarray(options["state"], dtype=np.int64).reshape(-1)
            if state.shape != (4,) or state.min() < 0 or state.max() >= self.size or (state[0] == state[2] and state[1] == state[3]):
                raise ValueError(f"options['state']={options['state']!r} is not accepted: 4 cells [cat_x, cat_y, mouse_x, mouse_y] in [0, {self.size - 1}], cat and mouse apart")
            self.state = state
        else:
            cells = self.size * self.size
            u = self.np_random.random(2)
            mouse = int(np.floor(u[0] * cells))
            cat = (mouse + 1 + int(np.floor(u[1] * (cells - 1)))) % cells
            self.state = np.array([cat % self.size, cat // self.size, mouse % self.size, mouse // self.size], dtype=np.int64)
        self.caught = False
        self.elapsed_steps = 0
        self.trail = [(int(self.state[2]), int(self.state[3]))]
        if self.render_mode == "human":
            self.render()
        return self._observation(), {"distance": self._distance()}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("CatMouseEnv.step() was called before reset()")
        if not self.action_space.contains(np.asarray(action) if self.cat == "player" else action):
            raise ValueError(f"action={action!r} is not accepted: expected an element of {self.action_space}")
        if self.cat == "player":
            mouse_move, cat_move = int(action[0]), int(action[1])
        else:
            mouse_move, cat_move = int(action), STAY
        cat_x, cat_y, mouse_x, mouse_y = (int(v) for v in self.state)
        agrees = mouse_move == teacher_move(cat_x, cat_y, mouse_x, mouse_y, self.size)
        mouse_x, mouse_y = _moved(mouse_x, mouse_y, mouse_move, self.size)
        caught = mouse_x == cat_x and mouse_y == cat_y
        if not caught:
            if self.cat == "chase":
                u = self.cat_noise(self.elapsed_steps)
                if u[0] < self.cat_random:
                    cat_move = int(np.floor(u[1] * 4.0))
                else:
                    cat_move = _toward(cat_x, cat_y, mouse_x, mouse_y, tie_x=bool(u[1] < 0.5))
            cat_x, cat_y = _moved(cat_x, cat_y, cat_move, self.size)
            caught = mouse_x == cat_x and mouse_y == cat_y
        self.state = np.array([cat_x, cat_y, mouse_x, mouse_y], dtype=np.int64)
        self.caught = caught
        self.elapsed_steps += 1
        self.trail.append((mouse_x, mouse_y))
        distance = self._distance()
        if self.reward == "teacher":
            reward = 1.0 if agrees and not caught else 0.0
        else:
            reward = -CAPTURE_PENALTY if caught else distance / (2.0 * (self.size - 1))
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(reward), bool(caught), False, {"distance": distance}

    def _observation(self) -> np.ndarray:
        return (self.state / (self.size - 1)).astype(np.float32)

    def _distance(self) -> int:
        s = self.state
        return int(abs(s[2] - s[0]) + abs(s[3] - s[1]))

    # -- rendering -------------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render method without specifying any render mode. "
                'You can specify the render_mode at initialization, e.g. gym.make("rlfree/CatMouse-v0", render_mode="rgb_array")'
            )
            return None
        if self.state is None:
            return None
        if self.render_mode == "ansi":
            return self._render_text()
        frame = self._render_frame()
        if self.render_mode == "rgb_array":
            return frame
        self._show(frame)
        return None

    def _render_text(self) -> str:
        cat_x, cat_y, mouse_x, mouse_y = (int(v) for v in self.state)
        border = "+" + "-" * (2 * self.size + 1) + "+"
        rows = [border]
        for y in range(self.size - 1, -1, -1):
            cells = []
            for x in range(self.size):
                if (x, y) == (cat_x, cat_y) and (x, y) == (mouse_x, mouse_y):
                    cells.append("X")
                elif (x, y) == (cat_x, cat_y):
                    cells.append("C")
                elif (x, y) == (mouse_x, mouse_y):
                    cells.append("M")
                else:
                    cells.append(".")
            rows.append("| " + " ".join(cells) + " |")
        rows.append(border)
        return "\n".join(rows) + "\n"

    def _render_frame(self) -> np.ndarray:
        c, w, n = self.cell_px, self.wall_px, self.size
        side = n * c + 2 * w
        frame = np.empty((side, side, 3), dtype=np.uint8)
        frame[:] = _WALL
        frame[w : side - w, w : side - w] = _FLOOR
        for k in range(1, n):  # grid lines
            frame[w + k * c - 1 : w + k * c + 1, w : side - w] = _GRID
            frame[w : side - w, w + k * c - 1 : w + k * c + 1] = _GRID

        def cell_box(x: int, y: int) -> tuple[int, int]:  # top-left pixel (row, col); y grows up
            return w + (n - 1 - y) * c, w + x * c

        yy, xx = np.mgrid[0:c, 0:c]
        centre = (c - 1) / 2.0
        for x, y in self.trail[:-1]:  # where the mouse has been this game
            r0, c0 = cell_box(x, y)
            pad = c // 3
            frame[r0 + pad : r0 + c - pad, c0 + pad : c0 + c - pad] = _MOUSE_TRAIL
        cat_x, cat_y, mouse_x, mouse_y = (int(v) for v in self.state)
        # cat: a filled triangle pointing up
        r0, c0 = cell_box(cat_x, cat_y)
        m = c // 8
        tri = (yy >= m) & (yy <= c - 1 - m) & (np.abs(xx - centre) <= (yy - m) * 0.5 + 1)
        patch = frame[r0 : r0 + c, c0 : c0 + c]
        patch[tri] = _CAUGHT if self.caught else _CAT
        # mouse: a disc (drawn over the cat when caught)
        r0, c0 = cell_box(mouse_x, mouse_y)
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= (c * 0.3) ** 2
        patch = frame[r0 : r0 + c, c0 : c0 + c]
        patch[disc] = _CAUGHT if self.caught else _MOUSE
        return frame

    def _show(self, frame: np.ndarray) -> None:
        try:
            import pygame
        except ImportError as e:  # pragma: no cover - pygame ships with gymnasium[classic-control]
            raise gym.error.DependencyNotInstalled('pygame is not installed, run `pip install "gymnasium[classic-control]"`') from e
        if self.screen is None:
            pygame.display.init()
            pygame.display.set_caption("rlfree cat and mouse")
            self.screen = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
        if self.clock is None:
            self.clock = pygame.time.Clock()
        surface = pygame.surfarray.make_surface(np.transpose(frame, (1, 0, 2)))
        self.screen.blit(surface, (0, 0))
        pygame.event.pump()
        pygame.display.flip()
        self.clock.tick(self.metadata["render_fps"])

    def close(self):
        if self.screen is not None:
            import pygame

            pygame.display.quit()
            pygame.quit()
            self.screen = None
            self.clock = None


# --------------------------------------------------------------------------------------------
# Grading and measuring policies
Policy = Callable[[np.ndarray], Any]


def game_mistakes(policy: Policy, env: CatMouseEnv, seed: int | None = None) -> int:
    """Play one game of the stationary-cat env with ``policy``; count the moves unlike the teacher.

    At each of the mouse's moves the policy's action and :func:`teacher_action` are computed
    from the same observation; the mouse then moves as the *policy* says (as in the seed, where
    the teacher only grades). If the policy walks the mouse into the cat, the game ends there
    and the moves it did not get to make count as mistakes too, so every game grades exactly
    ``GAME_LENGTH`` (10) moves and the count is in 0..10. If ``policy`` has a ``reset()`` method
    (a recurrent policy), it is called before the game.
    """
    if env.cat != "still":
        raise ValueError(f"game_mistakes needs the stationary-cat env (cat='still'), got cat={env.cat!r}")
    if hasattr(policy, "reset"):
        policy.reset()
    observation, _ = env.reset(seed=seed)
    mistakes = 0
    for move in range(GAME_LENGTH):
        action = int(policy(observation))
        mistakes += action != teacher_action(observation, env.size)
        observation, _, terminated, _, _ = env.step(action)
        if terminated:
            return mistakes + GAME_LENGTH - 1 - move
    return mistakes


def mistakes_per_game(policy: Policy, n_games: int = 1000, seed: int = 0, size: int = 6) -> float:
    """The seed's figure: mean number of moves (of 10 per game) where ``policy`` differs from the
    teacher, over ``n_games`` games of the stationary-cat env (``rlfree/CatMouse-v0`` rules).

    ``policy(observation) -> action`` takes the env's scaled observation. The env is reset with
    ``seed`` for the first game and continues its random stream after that, so the same
    ``(n_games, seed)`` always plays the same start positions. See :func:`game_mistakes`.
    """
    if n_games < 1:
        raise ValueError(f"n_games={n_games} is not accepted: at least 1 game")
    env = CatMouseEnv(size=size, cat="still")
    total = 0
    for game in range(n_games):
        total += game_mistakes(policy, env, seed=seed if game == 0 else None)
    return total / n_games


def random_mouse(rng: np.random.Generator) -> Policy:
    """A careless mouse: uniformly random moves from ``rng``."""
    return lambda observation: int(rng.integers(4))


def evader_action(observation: Any, size: int = 6) -> int:
    """A decent hand-written mouse: step to the neighbouring cell furthest from the cat.

    Of the four moves it takes the one whose cell has the largest Manhattan distance to the cat
    (never the cat's cell); among equals it prefers a move that does not bump into a wall, then
    the lower action number. It ignores the cat's dice and looks one move ahead only, yet it
    survives every game against the chasing cat (see the module docstring).
    """
    cat_x, cat_y, mouse_x, mouse_y = observation_cells(observation, size)

    def score(move: int) -> tuple[int, bool]:
        x, y = _moved(mouse_x, mouse_y, move, size)
        return abs(x - cat_x) + abs(y - cat_y), (x, y) != (mouse_x, mouse_y)

    return max(range(4), key=score)


def play_games(policy: Policy, n_games: int = 1000, seed: int = 0, **env_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Play ``n_games`` 10-move games of ``CatMouseEnv(**env_kwargs)`` with ``policy``.

    Returns (returns (n_games,) float64, survived (n_games,) bool). The env is reset with
    ``seed`` for the first game and continues its random stream after that. ``policy.reset()``
    is called before each game when it exists.
    """
    env = CatMouseEnv(**env_kwargs)
    returns = np.zeros(n_games)
    survived = np.ones(n_games, dtype=bool)
    for game in range(n_games):
        if hasattr(policy, "reset"):
            policy.reset()
        observation, _ = env.reset(seed=seed if game == 0 else None)
        for _ in range(GAME_LENGTH):
            observation, reward, terminated, _, _ = env.step(policy(observation))
            returns[game] += reward
            if terminated:
                survived[game] = False
                break
    return returns, survived


def survival_rate(policy: Policy, n_games: int = 1000, seed: int = 0, **env_kwargs) -> float:
    """Fraction of ``n_games`` games of the chasing-cat env that ``policy`` survives (10 moves)."""
    return float(play_games(policy, n_games, seed, **{"cat": "chase", **env_kwargs})[1].mean())


# --------------------------------------------------------------------------------------------
def register_envs() -> None:
    """Register the four ids with gymnasium (their twins are listed in :data:`TWIN_ENTRY_POINTS`,
    which :mod:`rlfree.registry` reads); safe to call again."""
    for env_id, cat in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="rlfree.envs.catmouse:CatMouseEnv",
                max_episode_steps=GAME_LENGTH,
                kwargs={"cat": cat, "reward": ENV_REWARDS.get(env_id, "distance")},
                reward_threshold=ENV_THRESHOLDS.get(env_id),
            )


def _report(n_games: int = 1000, seed: int = 0) -> str:
    """The figures quoted in the module docstring (``python -m rlfree.envs.catmouse``)."""
    policies = {
        "random mouse": lambda: random_mouse(np.random.default_rng(seed)),
        "teacher": lambda: teacher_action,
        "evader": lambda: evader_action,
    }
    lines = [f"rlfree/CatMouseChase-v0, {n_games} games each: survived (mean return)", "cat_random   " + "".join(f"{name:>20}" for name in policies)]
    for p in (0.0, 0.25, 0.5, 0.75):
        cells = []
        for make in policies.values():
            returns, survived = play_games(make(), n_games, seed, cat="chase", cat_random=p)
            cells.append(f"{survived.mean():>11.1%} ({returns.mean():+5.2f})")
        lines.append(f"{p:10.2f}   " + "".join(f"{c:>20}" for c in cells))
    cells = []
    for make in policies.values():
        returns, _ = play_games(make(), n_games, seed, cat="still")
        cells.append(f"{returns.mean():+.2f}")
    lines.append("rlfree/CatMouse-v0 mean return: " + ", ".join(f"{name} {c}" for name, c in zip(policies, cells)))
    return "\n".join(lines)


if __name__ == "__main__":
    print(_report())
