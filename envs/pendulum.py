"""Batched tensor twin of gymnasium 1.4's Pendulum-v1 (``gymnasium/envs/classic_control/pendulum.py``).

Same dynamics as gymnasium with its default ``g = 10.0``: the torque is the action clipped to
[-2, 2]; ``thdot += (3 g / (2 l) sin(th) + 3 / (m l**2) u) dt``, clipped to +-8; ``th += thdot dt``
with the new ``thdot``; reward ``-(angle_normalize(th)**2 + 0.1 thdot**2 + 0.001 u**2)`` on the
state before the step; never terminates; time limit 200 steps. Only the start-state generator
differs: gymnasium draws ``th ~ U(-pi, pi)``, ``thdot ~ U(-1, 1)`` with numpy's generator, the
twin draws the same distribution with :func:`rlfree.seeding.seeded_uniform`.

Gymnasium multiplies the float32 torque by Python floats in float32 (NumPy 2's promotion rules),
so with an arbitrary float32 action a float64 twin agrees with it to about 1e-8; with actions
whose products are exact in float32 (the tests use multiples of 1/256) it agrees to rounding.

State (N, 2): ``[theta, thetadot]`` as gymnasium's ``env.unwrapped.state`` (theta is not wrapped).
Observation (N, 3): ``[cos theta, sin theta, thetadot]``. Actions: (N, 1) float, the torque.
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
class PendulumParams:
    """Pendulum's constants; each comment names gymnasium's value."""

    max_speed: float = 8.0  # self.max_speed = 8
    max_torque: float = 2.0  # self.max_torque = 2.0
    dt: float = 0.05  # self.dt = 0.05
    g: float = 10.0  # g=10.0 (constructor argument)
    m: float = 1.0  # self.m = 1.0
    l: float = 1.0  # self.l = 1.0  # noqa: E741  gymnasium's name
    reset_theta: float = math.pi  # reset(): DEFAULT_X = np.pi, theta ~ U(-pi, pi)
    reset_thetadot: float = 1.0  # reset(): DEFAULT_Y = 1.0, thetadot ~ U(-1, 1)


class PendulumTwin(TwinEnv):
    """``num_envs`` Pendulum-v1 copies as tensor ops; see the module docstring."""

    env_id = "Pendulum-v1"
    max_episode_steps = 200  # gymnasium registration: max_episode_steps=200

    params_type = PendulumParams
    params: PendulumParams

    def build(self) -> None:
        p = self.params
        high = np.array([1.0, 1.0, p.max_speed], dtype=np.float32)
        self.action_space = spaces.Box(low=-p.max_torque, high=p.max_torque, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self._gravity_coef = 3 * p.g / (2 * p.l)  # 3 g / (2 l)
        self._torque_coef = 3.0 / (p.m * p.l**2)  # 3 / (m l**2)
        self._never = torch.zeros((), dtype=torch.bool, device=self.device)

    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        p = self.params
        u = seeded_uniform(seeds, 2, stream=0, dtype=self.dtype)
        theta, thetadot = u.mul_(2.0).sub_(1.0).unbind(1)
        return stack_columns((theta * p.reset_theta, thetadot * p.reset_thetadot))

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.params
        th, thdot = state.unbind(1)
        u = actions[:, 0].to(self.dtype).clamp(-p.max_torque, p.max_torque)
        # costs = angle_normalize(th)**2 + 0.1 thdot**2 + 0.001 u**2, angle_normalize(x) = ((x + pi) % 2pi) - pi
        normalized = torch.remainder(th + math.pi, 2 * math.pi).sub_(math.pi)
        costs = torch.mul(normalized, normalized).addcmul_(thdot, thdot, value=0.1).addcmul_(u, u, value=0.001)
        # newthdot = clip(thdot + (3 g / (2 l) sin(th) + 3 / (m l**2) u) dt, -max_speed, max_speed)
        accel = torch.add(torch.sin(th).mul_(self._gravity_coef), u, alpha=self._torque_coef)
        newthdot = torch.add(thdot, accel, alpha=p.dt).clamp_(-p.max_speed, p.max_speed)
        newth = torch.add(th, newthdot, alpha=p.dt)
        terminated = self._never.expand(th.shape[0])
        return stack_columns((newth, newthdot)), costs.neg_(), terminated

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        th, thdot = state.unbind(1)
        return stack_columns((torch.cos(th), torch.sin(th), thdot))
