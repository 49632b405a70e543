"""Batched tensor twin of gymnasium 1.4's CartPole-v1 (``gymnasium/envs/classic_control/cartpole.py``).

Same physics as gymnasium's default configuration: explicit Euler integration, force +-10 N,
termination when ``|x| > 2.4`` or ``|theta| > 12 degrees``, reward 1 on every step including the
terminating one, time limit 500 steps. Only the start-state generator differs: gymnasium draws
U(-0.05, 0.05) with numpy's generator, the twin draws the same distribution with
:func:`rlfree.seeding.seeded_uniform`, a pure function of each copy's seed.

State (N, 4): ``[x, x_dot, theta, theta_dot]`` as gymnasium's ``env.unwrapped.state``; the
observation is the state itself. Actions: (N,) int64 in {0, 1} (0 pushes left, 1 right).
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
class CartPoleParams:
    """CartPole's constants; each comment names gymnasium's value."""

    gravity: float = 9.8  # gymnasium: self.gravity = 9.8
    masscart: float = 1.0  # self.masscart = 1.0
    masspole: float = 0.1  # self.masspole = 0.1
    length: float = 0.5  # self.length = 0.5 (half the pole's length)
    force_mag: float = 10.0  # self.force_mag = 10.0
    tau: float = 0.02  # self.tau = 0.02 (seconds per step)
    theta_threshold_radians: float = 12 * 2 * math.pi / 360  # same expression
    x_threshold: float = 2.4  # self.x_threshold = 2.4
    reset_bound: float = 0.05  # reset(): uniform(low=-0.05, high=0.05, size=(4,))

    @property
    def total_mass(self) -> float:
        return self.masspole + self.masscart  # self.total_mass

    @property
    def polemass_length(self) -> float:
        # the pole's mass times its half-length, as gymnasium; not masspole + length
        return self.masspole * self.length


class CartPoleTwin(TwinEnv):
    """``num_envs`` CartPole-v1 copies as tensor ops; see the module docstring."""

    env_id = "CartPole-v1"
    max_episode_steps = 500  # gymnasium registration: max_episode_steps=500 (v0 had 200)

    params_type = CartPoleParams
    params: CartPoleParams

    def build(self) -> None:
        p = self.params
        high = np.array([p.x_threshold * 2, np.inf, p.theta_threshold_radians * 2, np.inf], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)

        # Folded constants, so that the step is one kernel per line below: Python floats, and
        # 0-d tensors where a Python scalar would be converted to a tensor on every call.
        self._force_per_mass = self.constant([-p.force_mag / p.total_mass, p.force_mag / p.total_mass])  # by action
        self._temp_coef = p.polemass_length / p.total_mass
        self._neg_den_base = self.constant(-p.length * 4.0 / 3.0)
        self._den_coef = p.length * p.masspole / p.total_mass
        self._xacc_coef = -p.polemass_length / p.total_mass
        self._x_threshold = self.constant(p.x_threshold)
        self._theta_threshold = self.constant(p.theta_threshold_radians)
        self._one = self.constant(1.0)

    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        u = seeded_uniform(seeds, 4, stream=0, dtype=self.dtype)
        b = self.params.reset_bound
        return stack_columns(u.mul_(2 * b).sub_(b).unbind(1))

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.params
        x, x_dot, theta, theta_dot = state.unbind(1)
        # gymnasium: force_mag if action == 1 else -force_mag. index_select was the cheapest
        # lookup measured on CPU; torch.where and take cost more, tensor[actions] several times more
        force_per_mass = self._force_per_mass.index_select(0, actions)
        costheta = torch.cos(theta)
        sintheta = torch.sin(theta)
        # temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
        temp = torch.addcmul(force_per_mass, theta_dot * theta_dot, sintheta, value=self._temp_coef)
        # thetaacc = (g sin - cos temp) / (length (4/3 - masspole cos**2 / total_mass)), written
        # with both signs flipped (exact) so that no Python scalar is wrapped per step
        thetaacc = torch.add(costheta * temp, sintheta, alpha=-p.gravity)
        thetaacc.div_(torch.addcmul(self._neg_den_base, costheta, costheta, value=self._den_coef))
        # xacc = temp - polemass_length * thetaacc * cos / total_mass
        xacc = torch.addcmul(temp, thetaacc, costheta, value=self._xacc_coef)
        x = torch.add(x, x_dot, alpha=p.tau)
        x_dot = torch.add(x_dot, xacc, alpha=p.tau)
        theta = torch.add(theta, theta_dot, alpha=p.tau)
        theta_dot = torch.add(theta_dot, thetaacc, alpha=p.tau)
        # |v| > t is exactly (v < -t or v > t): abs is exact
        terminated = (x.abs() > self._x_threshold).logical_or_(theta.abs() > self._theta_threshold)
        reward = self._one.expand(x.shape[0])  # 1 each step, the terminating one included
        return stack_columns((x, x_dot, theta, theta_dot)), reward, terminated

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        return state
