"""Batched tensor twin of gymnasium 1.4's Acrobot-v1 (``gymnasium/envs/classic_control/acrobot.py``).

Same physics as gymnasium's default configuration: the ``"book"`` equations of motion
(``_dsdt``), one classic Runge-Kutta 4 step of ``dt = 0.2`` s per action (``rk4`` over
``[0, dt]``), joint angles wrapped into [-pi, pi], joint velocities bounded to +-4 pi and +-9 pi,
no torque noise, reward -1 per step and 0 on the terminating one, time limit 500 steps. Only the
start-state generator differs: gymnasium draws U(-0.1, 0.1) with numpy's generator (and rounds
it to float32), the twin draws the same distribution with :func:`rlfree.seeding.seeded_uniform`.

State (N, 4): ``[theta1, theta2, dtheta1, dtheta2]`` as gymnasium's ``env.unwrapped.state``.
Observation (N, 6): ``[cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2]``.
Actions: (N,) int64 in {0, 1, 2}, the torques -1, 0, +1 on the second joint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from rlfree.batched import TwinEnv, stack_columns
from rlfree.seeding import seeded_uniform


@dataclass(frozen=True)
class AcrobotParams:
    """Acrobot's constants; each comment names gymnasium's value."""

    dt: float = 0.2  # dt = 0.2 (one RK4 step over [0, dt])
    link_length_1: float = 1.0  # LINK_LENGTH_1 = 1.0
    link_mass_1: float = 1.0  # LINK_MASS_1 = 1.0
    link_mass_2: float = 1.0  # LINK_MASS_2 = 1.0
    link_com_pos_1: float = 0.5  # LINK_COM_POS_1 = 0.5
    link_com_pos_2: float = 0.5  # LINK_COM_POS_2 = 0.5
    link_moi: float = 1.0  # LINK_MOI = 1.0 (both links)
    gravity: float = 9.8  # _dsdt: g = 9.8
    max_vel_1: float = 4 * math.pi  # MAX_VEL_1 = 4 * pi
    max_vel_2: float = 9 * math.pi  # MAX_VEL_2 = 9 * pi
    avail_torque: tuple[float, float, float] = (-1.0, 0.0, 1.0)  # AVAIL_TORQUE = [-1.0, 0.0, +1]
    reset_bound: float = 0.1  # reset(): uniform(low=-0.1, high=0.1, size=(4,))
    # torque_noise_max = 0.0 and book_or_nips = "book" in gymnasium: the twin implements only these


class AcrobotTwin(TwinEnv):
    """``num_envs`` Acrobot-v1 copies as tensor ops; see the module docstring."""

    env_id = "Acrobot-v1"
    max_episode_steps = 500  # gymnasium registration: max_episode_steps=500 (v0 had 200)

    params_type = AcrobotParams
    params: AcrobotParams

    def build(self) -> None:
        p = self.params
        high = np.array([1.0, 1.0, 1.0, 1.0, p.max_vel_1, p.max_vel_2], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.action_space = spaces.Discrete(3)

        # _dsdt's coefficients folded into Python floats (m: mass, l: length, lc: centre of mass)
        m1, m2, l1 = p.link_mass_1, p.link_mass_2, p.link_length_1
        lc1, lc2, i1, i2, g = p.link_com_pos_1, p.link_com_pos_2, p.link_moi, p.link_moi, p.gravity

        self._d1_base = self.constant(m1 * lc1**2 + m2 * (l1**2 + lc2**2) + i1 + i2)  # d1 = base + coef cos(theta2)
        self._d1_coef = m2 * 2 * l1 * lc2
        self._d2_base = self.constant(m2 * lc2**2 + i2)  # d2 = base + coef cos(theta2)
        self._d2_coef = m2 * l1 * lc2
        self._phi2_coef = m2 * lc2 * g  # phi2 = coef cos(theta1 + theta2 - pi/2)
        self._phi1_coef = (m1 * lc1 + m2 * l1) * g  # ... + coef cos(theta1 - pi/2)
        self._m2l1lc2 = m2 * l1 * lc2
        self._ddtheta2_base = self.constant(m2 * lc2**2 + i2)  # denominator: base - d2**2 / d1
        self._torque = self.constant(p.avail_torque)
        self._vel_high = self.constant([[p.max_vel_1], [p.max_vel_2]])
        self._vel_low = -self._vel_high
        self._two_pi = 2 * math.pi  # wrap(x, -pi, pi): diff = M - m
        self._reward_running = self.constant(-1.0)
        self._reward_done = self.constant(0.0)

    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        u = seeded_uniform(seeds, 4, stream=0, dtype=self.dtype)
        b = self.params.reset_bound
        return stack_columns(u.mul_(2 * b).sub_(b).unbind(1))

    def _dsdt(self, theta1, theta2, dtheta1, dtheta2, torque):
        """gymnasium's ``_dsdt`` ("book"): the angular accelerations (ddtheta1, ddtheta2).

        ``cos(a - pi/2)`` is written ``sin(a)``; the two differ by at most one rounding.
        """
        cos2 = torch.cos(theta2)
        sin2 = torch.sin(theta2)
        d1 = torch.add(self._d1_base, cos2, alpha=self._d1_coef)
        d2 = torch.add(self._d2_base, cos2, alpha=self._d2_coef)
        phi2 = torch.sin(theta1 + theta2).mul_(self._phi2_coef)
        # phi1 = -m2 l1 lc2 sin2 (dtheta2**2 + 2 dtheta2 dtheta1) + (m1 lc1 + m2 l1) g sin1 + phi2
        phi1 = torch.add(dtheta2, dtheta1, alpha=2.0).mul_(dtheta2).mul_(sin2)
        phi1 = torch.add(phi2, phi1, alpha=-self._m2l1lc2)
        phi1.add_(torch.sin(theta1), alpha=self._phi1_coef)
        d2_over_d1 = d2 / d1
        # ddtheta2 = (a + d2/d1 phi1 - m2 l1 lc2 dtheta1**2 sin2 - phi2) / (m2 lc2**2 + I2 - d2**2/d1)
        num = torch.addcmul(torque, d2_over_d1, phi1)
        num.addcmul_(dtheta1 * dtheta1, sin2, value=-self._m2l1lc2).sub_(phi2)
        ddtheta2 = num.div_(torch.addcmul(self._ddtheta2_base, d2_over_d1, d2, value=-1.0))
        # ddtheta1 = -(d2 ddtheta2 + phi1) / d1
        ddtheta1 = torch.addcmul(phi1, d2, ddtheta2).div_(d1).neg_()
        return ddtheta1, ddtheta2

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dt = self.params.dt
        half = dt / 2.0
        torque = self._torque.index_select(0, actions)  # AVAIL_TORQUE[a]; [] is several times slower on CPU
        th1, th2, w1, w2 = state.unbind(1)
        # rk4(_dsdt, s, [0, dt]): k = (dtheta1, dtheta2, ddtheta1, ddtheta2) at four points
        a1, a2 = self._dsdt(th1, th2, w1, w2, torque)
        k2w1, k2w2 = torch.add(w1, a1, alpha=half), torch.add(w2, a2, alpha=half)
        b1, b2 = self._dsdt(torch.add(th1, w1, alpha=half), torch.add(th2, w2, alpha=half), k2w1, k2w2, torque)
        k3w1, k3w2 = torch.add(w1, b1, alpha=half), torch.add(w2, b2, alpha=half)
        c1, c2 = self._dsdt(torch.add(th1, k2w1, alpha=half), torch.add(th2, k2w2, alpha=half), k3w1, k3w2, torque)
        k4w1, k4w2 = torch.add(w1, c1, alpha=dt), torch.add(w2, c2, alpha=dt)
        d1, d2 = self._dsdt(torch.add(th1, k3w1, alpha=dt), torch.add(th2, k3w2, alpha=dt), k4w1, k4w2, torque)
        # y0 + dt / 6 (k1 + 2 k2 + 2 k3 + k4), all four components at once
        k1 = torch.stack((w1, w2, a1, a2))
        k2 = torch.stack((k2w1, k2w2, b1, b2))
        k3 = torch.stack((k3w1, k3w2, c1, c2))
        k4 = torch.stack((k4w1, k4w2, d1, d2))
        incr = torch.add(k1, k2, alpha=2.0).add_(k3, alpha=2.0).add_(k4)
        new = torch.add(state.T, incr, alpha=dt / 6.0)  # (4, N), contiguous rows
        angles, velocities = new[:2], new[2:]
        # wrap(x, -pi, pi) shifts x by 2 pi until it lies in [-pi, pi]; round(x / 2pi) counts the
        # shifts. x / fl(2pi) is exactly +-0.5 at x = +-fl(pi), which round-half-even sends to 0,
        # and beyond +-0.5 just past them, so both closed ends match gymnasium's loop.
        angles.add_(torch.div(angles, self._two_pi).round_(), alpha=-self._two_pi)
        # bound(x, -max, max) = min(max(x, -max), max)
        velocities.clamp_(self._vel_low, self._vel_high)
        th1, th2 = angles.unbind(0)
        terminated = (torch.cos(th1).add_(torch.cos(th1 + th2)) < -1.0)  # -cos(t1) - cos(t1 + t2) > 1
        reward = torch.where(terminated, self._reward_done, self._reward_running)
        return new.T, reward, terminated

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        angles = state.T[:2]
        cos, sin = torch.cos(angles), torch.sin(angles)
        _, _, w1, w2 = state.unbind(1)
        return stack_columns((cos[0], sin[0], cos[1], sin[1], w1, w2))
