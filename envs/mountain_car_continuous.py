"""Batched tensor twin of gymnasium 1.4's MountainCarContinuous-v0 (``gymnasium/envs/classic_control/continuous_mountain_car.py``).

Same dynamics as gymnasium: the action is clipped to [-1, 1] as the force;
``velocity += force * power - 0.0025 * cos(3 position)``, clipped to +-0.07;
``position += velocity``, clipped to [-1.2, 0.6]; the velocity is zeroed when the car sits on the
left wall moving left; the episode terminates once ``position >= 0.45`` and ``velocity >= 0``;
reward ``100 * terminated - 0.1 * action**2`` with the action *before* clipping, as gymnasium;
time limit 999 steps. Only the start-state generator differs: gymnasium draws position
~ U(-0.6, -0.4) with numpy's generator, the twin draws the same distribution with
:func:`rlfree.seeding.seeded_uniform`; the velocity starts at 0 in both.

Gymnasium keeps this task's state in float32 (and, under NumPy 2's promotion rules, does part of
its arithmetic in float32); a float64 twin computes everything in float64, so it agrees with
gymnasium to float32 precision, not beyond.

State (N, 2): ``[position, velocity]`` as gymnasium's ``env.unwrapped.state``; the observation is
the state itself. Actions: (N, 1) float, the force. Everything but the push and the reward is
MountainCar-v0's, shared through :class:`rlfree.envs.mountain_car.CarOnHillTwin`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from rlfree.envs.mountain_car import CarOnHillTwin


@dataclass(frozen=True)
class MountainCarContinuousParams:
    """MountainCarContinuous's constants; each comment names gymnasium's value."""

    min_action: float = -1.0  # self.min_action = -1.0
    max_action: float = 1.0  # self.max_action = 1.0
    min_position: float = -1.2  # self.min_position = -1.2
    max_position: float = 0.6  # self.max_position = 0.6
    max_speed: float = 0.07  # self.max_speed = 0.07
    goal_position: float = 0.45  # self.goal_position = 0.45 (0.5 in MountainCar-v0)
    goal_velocity: float = 0.0  # goal_velocity=0 (constructor argument)
    power: float = 0.0015  # self.power = 0.0015
    gravity: float = 0.0025  # step(): ... - 0.0025 * math.cos(3 * position)
    goal_reward: float = 100.0  # step(): reward = 100.0 when terminated
    action_cost: float = 0.1  # step(): reward -= math.pow(action[0], 2) * 0.1
    reset_low: float = -0.6  # reset(): uniform(low=-0.6, high=-0.4)
    reset_high: float = -0.4


class MountainCarContinuousTwin(CarOnHillTwin):
    """``num_envs`` MountainCarContinuous-v0 copies as tensor ops; see the module docstring."""

    env_id = "MountainCarContinuous-v0"
    max_episode_steps = 999  # gymnasium registration: max_episode_steps=999

    params_type = MountainCarContinuousParams
    params: MountainCarContinuousParams

    def build(self) -> None:
        super().build()
        p = self.params
        self.action_space = spaces.Box(low=p.min_action, high=p.max_action, shape=(1,), dtype=np.float32)

    def transition(self, state: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.params
        position, velocity = state.unbind(1)
        action = actions[:, 0].to(self.dtype)
        # velocity += force * power - 0.0025 * cos(3 * position), force = clip(action, -1, 1)
        accel = torch.add(action.clamp(p.min_action, p.max_action).mul_(p.power), torch.cos(position * 3.0), alpha=-p.gravity)
        state, terminated = self.roll(position, torch.add(velocity, accel))
        # reward = 100 * terminated - 0.1 * action**2, the action unclipped
        reward = torch.addcmul(terminated.to(self.dtype).mul_(p.goal_reward), action, action, value=-p.action_cost)
        return state, reward, terminated
