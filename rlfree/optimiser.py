"""The optimiser protocol: ask/tell over flat parameter vectors, with exact save and restore.

A run loop needs no more than this from an algorithm: ``ask()`` for ``rows`` parameter vectors
(rows, D), their episode returns (rows, E) back through ``tell()``, which moves ``centre`` (D,)
and returns the generation's figures; ``state_dict()`` holds tensors (saved to ``walk.npz``)
and plain numbers (saved to ``state.json``) from which ``load_state_dict()`` continues bitwise
as if never stopped. :data:`VARIANTS` names the implementations the config's ``variant`` picks.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from rlfree.config import WalkConfig
from rlfree.walk import FaithfulRandomWalk, SmartRandomWalk


@runtime_checkable
class Optimiser(Protocol):
    rows: int  # parameter vectors per generation
    generation: int  # generations told so far
    centre: torch.Tensor  # (D,) the current estimate
    sigma: float  # perturbation scale, for the logs

    def ask(self) -> torch.Tensor:
        """params: (rows, D) to evaluate this generation."""

    def tell(self, returns: torch.Tensor) -> dict[str, float | int]:
        """returns: (rows, E) of ``ask()``'s rows -> figures: population_mean, population_max,
        population_min, step_norm, weight_norm, nonfinite_returns, tied_share (the share of the step's
        comparisons that tie and so add nothing to it) and floor_tied_share (those tied at the worst return)."""

    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        """Tensors and plain numbers that restore the optimiser exactly."""

    def load_state_dict(self, state: dict) -> None:
        """Continue from a ``state_dict()``; ValueError for a state that does not fit."""


VARIANTS: dict[str, type] = {"smart": SmartRandomWalk, "seed": FaithfulRandomWalk}


def make_optimiser(walk_config: WalkConfig, centre: torch.Tensor, seed: int) -> Optimiser:
    """The optimiser ``walk_config.variant`` names, starting at centre: (D,)."""
    if walk_config.variant not in VARIANTS:
        raise ValueError(f"variant {walk_config.variant!r} is not accepted; use {' or '.join(VARIANTS)}")
    return VARIANTS[walk_config.variant](centre, walk_config, seed)
