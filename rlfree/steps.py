"""Step rules: an estimated ascent direction -> the step the walk adds to its centre.

Three small classes in the manner of estool, each owning its buffers (shaped like the centre)
and saving them under its own names: :class:`SGD` (the walk's default: ``lr * gradient``),
:class:`Momentum` (SGD with a velocity buffer ``momentum``) and :class:`Adam` (Kingma & Ba
2015, buffers ``adam_m``, ``adam_v`` and its step count ``adam_steps``). :func:`make_step_rule`
picks one from the config once; :data:`STEP_RULES` holds the names the config accepts.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch


class StepRule(Protocol):
    def step(self, gradient: torch.Tensor) -> torch.Tensor:
        """gradient: (D,) ascent direction -> step (D,); updates the rule's buffers."""

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """The rule's buffers (tensors) and counters (ints), under names unique to the rule."""

    def load_state_dict(self, state: dict) -> None:
        """Take the rule's own names from ``state`` (checked and converted by the caller)."""


class SGD:
    """step = lr * gradient; no state."""

    def __init__(self, lr: float, centre: torch.Tensor):
        self.lr = lr

    def step(self, gradient: torch.Tensor) -> torch.Tensor:
        return self.lr * gradient

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Momentum:
    """velocity = momentum * velocity + gradient; step = lr * velocity (PyTorch's SGD momentum)."""

    def __init__(self, lr: float, centre: torch.Tensor, momentum: float):
        self.lr = lr
        self.beta = momentum
        self.velocity = torch.zeros_like(centre)  # (D,)

    def step(self, gradient: torch.Tensor) -> torch.Tensor:
        self.velocity.mul_(self.beta).add_(gradient)
        return self.lr * self.velocity

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        return {"momentum": self.velocity.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.velocity = state["momentum"].clone()


class Adam:
    """Adam with bias correction folded into the step size, as in Kingma & Ba's Algorithm 1."""

    def __init__(self, lr: float, centre: torch.Tensor, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = torch.zeros_like(centre)  # (D,) first moment
        self.v = torch.zeros_like(centre)  # (D,) second moment
        self.steps = 0

    def step(self, gradient: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        self.m.mul_(self.beta1).add_(gradient, alpha=1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(gradient, gradient, value=1 - self.beta2)
        lr_t = self.lr * math.sqrt(1 - self.beta2**self.steps) / (1 - self.beta1**self.steps)
        return lr_t * self.m / (self.v.sqrt() + self.eps)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        return {"adam_m": self.m.clone(), "adam_v": self.v.clone(), "adam_steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.m, self.v, self.steps = state["adam_m"].clone(), state["adam_v"].clone(), int(state["adam_steps"])


STEP_RULES = {"sgd": SGD, "adam": Adam}


def make_step_rule(name: str, lr: float, centre: torch.Tensor, momentum: float = 0.0) -> StepRule:
    """The step rule the config names: "sgd" (:class:`Momentum` when ``momentum`` > 0) or "adam".

    centre: (D,), the shape, device and dtype of the rule's buffers.
    """
    if name not in STEP_RULES:
        raise ValueError(f"step rule {name!r} is not accepted; use {' or '.join(STEP_RULES)}")
    if name == "sgd" and momentum:
        return Momentum(lr, centre, momentum)
    return STEP_RULES[name](lr, centre)
