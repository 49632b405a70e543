"""The cart-pole swing-up of the weight-agnostic networks reference, as a gymnasium env and a twin.

Reference: ``seeds/weight-agnostic-networks.txt`` (Gaier and Ha 2019, "Weight Agnostic Neural
Networks"), whose released code (``prettyNEAT/domain/cartpole_swingup.py``, the "easy mode" the
paper reports) defines the task; the constants, equations, reward and observation here are
that file's:

- the pole hangs down at the start: ``[x, x_dot, theta, theta_dot] ~ N([0, 0, pi, 0], 0.2^2)``
  per component (theta = 0 is upright);
- a ``Box(-1, 1, (1,))`` action, clipped, times ``force_mag = 10`` N, pushes the cart;
- explicit Euler with ``dt = 0.01``: positions move by the old velocities, then the velocities
  by the accelerations of the old state (the reference's ``stateUpdate``);
- reward ``(cos(theta) + 1) / 2 * cos(x / 2.4 * pi / 2)`` after every step, the terminating one
  included: 1 with the pole upright over the track's centre;
- the episode ends (*terminated*) when the cart leaves ``|x| <= 2.4``, and is cut (*truncated*)
  after 1000 steps;
- observation ``[x, x_dot, cos(theta), sin(theta), theta_dot]``.

The reference draws its start with numpy's global generator; :class:`CartPoleSwingUpEnv` draws
it with the env's own ``np_random`` (so ``reset(seed=...)`` repeats it) and the twin with
:func:`rlfree.seeding.seeded_uniform` through Box-Muller, a pure function of each copy's seed.
Both keep the state in float64 numbers, as the reference does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rlfree.batched import TwinEnv, stack_columns
from rlfree.seeding import seeded_uniform

ENV_ID = "rlfree/CartPoleSwingUp-v0"
ENTRY_POINT = "rlfree.envs.cartpole_swingup:CartPoleSwingUpEnv"
TWIN_ENTRY_POINT = "rlfree.envs.cartpole_swingup:CartPoleSwingUpTwin"
MAX_EPISODE_STEPS = 1000  # the reference's t_limit (its "hard mode" had 200 at dt 0.05)


@dataclass(frozen=True)
class SwingUpParams:
    """The swing-up's constants; each comment names the reference's value."""

    gravity: float = 9.82  # self.g = 9.82
    masscart: float = 0.5  # self.m_c = 0.5
    masspole: float = 0.5  # self.m_p = 0.5
    length: float = 0.6  # self.l_base = 0.6 (the whole pole)
    force_mag: float = 10.0  # self.force_mag = 10.0
    dt: float = 0.01  # self.dt = 0.01 ("easy mode"; hard mode 0.05)
    friction: float = 0.1  # self.b = 0.1
    x_threshold: float = 2.4  # self.x_threshold = 2.4
    start_std: float = 0.2  # reset(): normal(loc=[0, 0, pi, 0], scale=[0.2] * 4)

    @property
    def total_mass(self) -> float:
        return self.masscart + self.masspole  # self.total_m

    @property
    def polemass_length(self) -> float:
        return self.masspole * self.length  # self.m_p_l


def _high() -> np.ndarray:
    return np.full(5, np.finfo(np.float32).max, dtype=np.float32)  # the reference's unbounded box


class CartPoleSwingUpEnv(gym.Env):
    """``rlfree/CartPoleSwingUp-v0``; see the module docstring. Render modes: ``rgb_array`` (numpy only)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not accepted: use one of {self.metadata['render_modes']} or None")
        self.params = SwingUpParams()
        self.render_mode = render_mode
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(-_high(), _high(), dtype=np.float32)
        self.state: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        p = self.params
        self.state = self.np_random.normal(loc=[0.0, 0.0, math.pi, 0.0], scale=[p.start_std] * 4)
        return self._observation(), {}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("step() was called before reset()")
        p = self.params
        force = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)[0]) * p.force_mag
        x, x_dot, theta, theta_dot = (float(v) for v in self.state)
        s, c = math.sin(theta), math.cos(theta)
        # the reference's stateUpdate, term for term
        xdot_update = ((-2 * p.polemass_length * theta_dot**2 * s + 3 * p.masspole * p.gravity * s * c + 4 * force - 4 * p.friction * x_dot)
                       / (4 * p.total_mass - 3 * p.masspole * c**2))
        thetadot_update = ((-3 * p.polemass_length * theta_dot**2 * s * c + 6 * p.total_mass * p.gravity * s + 6 * (force - p.friction * x_dot) * c)
                           / (4 * p.length * p.total_mass - 3 * p.polemass_length * c**2))
        x = x + x_dot * p.dt
        theta = theta + theta_dot * p.dt
        x_dot = x_dot + xdot_update * p.dt
        theta_dot = theta_dot + thetadot_update * p.dt
        self.state = np.array([x, x_dot, theta, theta_dot])
        terminated = x < -p.x_threshold or x > p.x_threshold
        reward = (math.cos(theta) + 1.0) / 2.0 * math.cos(x / p.x_threshold * (math.pi / 2.0))
        return self._observation(), reward, terminated, False, {}

    def _observation(self) -> np.ndarray:
        x, x_dot, theta, theta_dot = self.state
        return np.array([x, x_dot, math.cos(theta), math.sin(theta), theta_dot], dtype=np.float32)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn('render() needs a render mode: gym.make("rlfree/CartPoleSwingUp-v0", render_mode="rgb_array")')
            return None
        return swing_up_frame(self.state, self.params)


def swing_up_frame(state: np.ndarray, params: SwingUpParams, width: int = 600, height: int = 400) -> np.ndarray:
    """A (height, width, 3) uint8 picture of the cart, the pole and the track, drawn with numpy."""
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    scale = width / 5.0  # 5 m of track visible, as the reference's viewer
    track_y = height // 2 + 30
    left, right = int(width / 2 - params.x_threshold * scale), int(width / 2 + params.x_threshold * scale)
    frame[track_y : track_y + 2, left:right] = 0
    if state is None:
        return frame
    x, _, theta, _ = state
    cart_x = int(width / 2 + x * scale)
    frame[track_y - 20 : track_y, max(cart_x - 20, 0) : max(min(cart_x + 20, width), 0)] = (200, 40, 40)
    # the pole as dots along its length, theta = 0 pointing up
    along = np.linspace(0.0, params.length * scale, 200)
    px = (cart_x - along * math.sin(theta)).astype(int)
    py = (track_y - 20 - along * math.cos(theta)).astype(int)
    inside = (px >= 1) & (px < width - 1) & (py >= 1) & (py < height - 1)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            frame[py[inside] + dy, px[inside] + dx] = (40, 40, 200)
    return frame


class CartPoleSwingUpTwin(TwinEnv):
    """``num_envs`` swing-up copies as tensor ops. State (N, 4) ``[x, x_dot, theta, theta_dot]``
    as the env's ``state``; actions (N, 1) float; observation (N, 5)."""

    env_id = ENV_ID
    max_episode_steps = MAX_EPISODE_STEPS

    params_type = SwingUpParams
    params: SwingUpParams

    def build(self) -> None:
        self.observation_space = spaces.Box(-_high(), _high(), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._x_threshold = self.constant(self.params.x_threshold)

    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        # Box-Muller: two uniforms per normal; 1 - u keeps the logarithm's argument in (0, 1]
        u = seeded_uniform(seeds, 8, stream=0, dtype=torch.float64)
        radius = torch.sqrt(-2.0 * torch.log1p(-u[:, :4]))
        normal = radius * torch.cos(2.0 * math.pi * u[:, 4:])
        mean = torch.tensor([0.0, 0.0, math.pi, 0.0], dtype=torch.float64, device=seeds.device)
        state = (mean + self.params.start_std * normal).to(self.dtype)
        return stack_columns(state.unbind(1))

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.params
        x, x_dot, theta, theta_dot = state.unbind(1)
        force = actions.reshape(-1).to(state.dtype).clamp(-1.0, 1.0) * p.force_mag
        s, c = torch.sin(theta), torch.cos(theta)
        theta_dot_sq = theta_dot * theta_dot
        friction = p.friction * x_dot
        xdot_update = ((-2 * p.polemass_length) * theta_dot_sq * s + (3 * p.masspole * p.gravity) * s * c + 4 * force - 4 * friction)
        xdot_update = xdot_update / (4 * p.total_mass - (3 * p.masspole) * c * c)
        thetadot_update = ((-3 * p.polemass_length) * theta_dot_sq * s * c + (6 * p.total_mass * p.gravity) * s + 6 * (force - friction) * c)
        thetadot_update = thetadot_update / (4 * p.length * p.total_mass - (3 * p.polemass_length) * c * c)
        x_new = x + x_dot * p.dt
        theta_new = theta + theta_dot * p.dt
        x_dot_new = x_dot + xdot_update * p.dt
        theta_dot_new = theta_dot + thetadot_update * p.dt
        terminated = x_new.abs() > self._x_threshold  # |x| > t is exactly (x < -t or x > t)
        reward = (torch.cos(theta_new) + 1.0) / 2.0 * torch.cos(x_new * (math.pi / 2.0 / p.x_threshold))
        return stack_columns((x_new, x_dot_new, theta_new, theta_dot_new)), reward, terminated

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        x, x_dot, theta, theta_dot = state.unbind(1)
        return stack_columns((x, x_dot, torch.cos(theta), torch.sin(theta), theta_dot))


def register_env() -> None:
    """Register ``rlfree/CartPoleSwingUp-v0`` with gymnasium (its twin is in :data:`rlfree.envs.TWINS`); safe to call again."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=ENTRY_POINT, max_episode_steps=MAX_EPISODE_STEPS)
