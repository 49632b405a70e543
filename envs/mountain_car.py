"""Batched tensor twin of gymnasium 1.4's MountainCar-v0 (``gymnasium/envs/classic_control/mountain_car.py``).

Same dynamics as gymnasium: ``velocity += (action - 1) * force - gravity * cos(3 position)``,
clipped to +-0.07; ``position += velocity``, clipped to [-1.2, 0.6]; the velocity is zeroed when
the car sits on the left wall moving left; the episode terminates once ``position >= 0.5`` and
``velocity >= 0``; reward -1 per step; time limit 200 steps. Only the start-state generator
differs: gymnasium draws position ~ U(-0.6, -0.4) with numpy's generator, the twin draws the same
distribution with :func:`rlfree.seeding.seeded_uniform`; the velocity starts at 0 in both.

State (N, 2): ``[position, velocity]`` as gymnasium's ``env.unwrapped.state``; the observation is
the state itself. Actions: (N,) int64 in {0, 1, 2}: accelerate left, don't, accelerate right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from rlfree.batched import TwinEnv, stack_columns
from rlfree.seeding import seeded_uniform


@dataclass(frozen=True)
class MountainCarParams:
    """MountainCar's constants; each comment names gymnasium's value."""

    min_position: float = -1.2  # self.min_position = -1.2
    max_position: float = 0.6  # self.max_position = 0.6
    max_speed: float = 0.07  # self.max_speed = 0.07
    goal_position: float = 0.5  # self.goal_position = 0.5
    goal_velocity: float = 0.0  # goal_velocity=0 (constructor argument)
    force: float = 0.001  # self.force = 0.001
    gravity: float = 0.0025  # self.gravity = 0.0025
    reset_low: float = -0.6  # reset(): uniform(low=-0.6, high=-0.4)
    reset_high: float = -0.4


class CarOnHillTwin(TwinEnv):
    """What MountainCar-v0 and MountainCarContinuous-v0 share: the observation, the start, and
    the step after the push (speed limit, move, left wall, goal). Subclasses give the push,
    the reward and the action space. ``params`` is either task's params: both have these fields."""

    def build(self) -> None:
        p = self.params
        low = np.array([p.min_position, -p.max_speed], dtype=np.float32)
        high = np.array([p.max_position, p.max_speed], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._min_position = self.constant(p.min_position)
        self._goal_position = self.constant(p.goal_position)
        self._goal_velocity = self.constant(p.goal_velocity)

    def initial_state(self, seeds: torch.Tensor) -> torch.Tensor:
        p = self.params
        u = seeded_uniform(seeds, 1, stream=0, dtype=self.dtype)[:, 0]
        position = u.mul_(p.reset_high - p.reset_low).add_(p.reset_low)
        return stack_columns((position, torch.zeros_like(position)))

    def roll(self, position: torch.Tensor, velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """position (N,), velocity (N,) with this step's push added (clipped here, in place)
        -> (next state (N, 2), terminated (N,) bool)."""
        p = self.params
        velocity.clamp_(-p.max_speed, p.max_speed)
        position = torch.add(position, velocity).clamp_(p.min_position, p.max_position)
        # if position == min_position and velocity < 0: velocity = 0
        velocity = torch.where(position == self._min_position, velocity.clamp(min=0.0), velocity)
        terminated = (position >= self._goal_position).logical_and_(velocity >= self._goal_velocity)
        return stack_columns((position, velocity)), terminated

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        return state


class MountainCarTwin(CarOnHillTwin):
    """``num_envs`` MountainCar-v0 copies as tensor ops; see the module docstring."""

    env_id = "MountainCar-v0"
    max_episode_steps = 200  # gymnasium registration: max_episode_steps=200

    params_type = MountainCarParams
    params: MountainCarParams

    def build(self) -> None:
        super().build()
        p = self.params
        self.action_space = spaces.Discrete(3)
        self._push = self.constant([-p.force, 0.0, p.force])  # (action - 1) * force, by action
        self._reward = self.constant(-1.0)

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        position, velocity = state.unbind(1)
        # velocity += (action - 1) * force + cos(3 * position) * (-gravity)
        push = self._push.index_select(0, actions)
        velocity = torch.add(velocity, push.add_(torch.cos(position * 3.0), alpha=-self.params.gravity))
        state, terminated = self.roll(position, velocity)
        return state, self._reward.expand(position.shape[0]), terminated
