"""Fitness shaping: a population's mean returns -> the weights of its perturbations.

The walk's default is ``zscore`` (as ARS, Mania et al. 2018); ``centred_ranks`` is the rank
transform of Salimans et al. (2017) and ``raw`` leaves returns as they are. Each function maps
fitness: (P,) -> shaped: (P,) of the same dtype; :data:`SHAPINGS` names them for the config.
Fitness must be finite (the walk ranks NaN and infinite returns last before shaping): one
infinity makes the z-scores' std NaN.
"""

from __future__ import annotations

from typing import Callable

import torch

from rlfree.errors import NonFiniteRun


def centred_ranks(fitness: torch.Tensor) -> torch.Tensor:
    """fitness: (P,) -> ranks scaled to [-0.5, 0.5]; tied values share their average rank.

    Sharing matters: CartPole returns tie often (every member that balances scores 500), and
    a mirrored pair with equal returns must then cancel instead of adding a random push.
    """
    ordered, order = fitness.sort(stable=True)
    _, group, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0)
    average_rank = (ends - counts + ends - 1).to(fitness.dtype) / 2
    ranks = torch.empty_like(fitness)
    ranks[order] = average_rank[group]
    return ranks / max(fitness.numel() - 1, 1) - 0.5


def zscore(fitness: torch.Tensor) -> torch.Tensor:
    """fitness: (P,) -> (fitness - mean) / std (0 where all are equal)."""
    std = fitness.std()
    return (fitness - fitness.mean()) / std if std > 0 else torch.zeros_like(fitness)


def raw(fitness: torch.Tensor) -> torch.Tensor:
    """fitness: (P,) unchanged."""
    return fitness


Shaping = Callable[[torch.Tensor], torch.Tensor]
SHAPINGS: dict[str, Shaping] = {"zscore": zscore, "centred_ranks": centred_ranks, "raw": raw}


def finite_fitness(returns: torch.Tensor, dtype: torch.dtype, generation: int) -> tuple[torch.Tensor, int]:
    """returns: (rows, E) -> (each row's mean (rows,) in ``dtype``, the non-finite ones ranked
    below the worst finite one; how many were non-finite). Every optimiser ranks by this, so a
    NaN or infinite return never reaches its weights. NonFiniteRun (naming ``generation``, the
    one being told) when none is finite."""
    fitness = returns.to(dtype).mean(dim=1)
    finite = torch.isfinite(fitness)
    n_nonfinite = int((~finite).sum())
    if n_nonfinite == len(fitness):
        raise NonFiniteRun(
            f"generation {generation}: every member's return is NaN or infinite, so the optimiser has nothing to "
            "compare; the network's activations are likely overflowing: use a bounded activation (tanh, sigmoid, "
            "softsign), or a smaller lr or sigma"
        )
    return torch.where(finite, fitness, fitness[finite].min() - 1.0), n_nonfinite


def tied_members(fitness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fitness: (P,) -> (tied, tied at the floor): (P,) bool each; a member is tied when another
    member has its return too (a ranking cannot tell them apart)."""
    _, group, counts = torch.unique(fitness, return_inverse=True, return_counts=True)
    tied = counts[group] > 1
    return tied, tied & (fitness == fitness.min())


def tell_stats(shown: torch.Tensor, tied: torch.Tensor, at_floor: torch.Tensor, step: torch.Tensor, centre: torch.Tensor,
               n_nonfinite: int) -> dict[str, float | int]:
    """What every optimiser's tell() reports (the console line, TensorBoard): shown, the members'
    fitness on the env's own reward: (P,); tied, at_floor: (P,) bool (:func:`tied_members`); step:
    how far the centre moved, and centre: where it now is, (D,) each."""
    return {
        "population_mean": float(shown.mean()),
        "population_max": float(shown.max()),
        "population_min": float(shown.min()),
        "step_norm": float(step.norm()),
        "weight_norm": float(centre.norm()),
        "nonfinite_returns": n_nonfinite,
        "tied_share": float(tied.to(torch.float64).mean()),
        "floor_tied_share": float(at_floor.to(torch.float64).mean()),
    }
