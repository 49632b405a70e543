"""The optimiser protocol: ask/tell over flat parameter vectors, with exact save and restore.

A run loop needs no more than this from an algorithm: ``ask()`` for ``rows`` parameter vectors
(rows, D), their episode returns (rows, E) back through ``tell()``, which moves ``centre`` (D,)
and returns the generation's figures; ``state_dict()`` holds tensors (saved to ``walk.npz``)
and plain numbers (saved to ``state.json``) from which ``load_state_dict()`` continues bitwise
as if never stopped. :data:`VARIANTS` names the walk's implementations the config's ``variant``
picks, :data:`ALGOS` the optimisers ``[algo] algo`` picks: the walk, the genetic algorithm
(:mod:`rlfree.genetic`), CMA-ES (:mod:`rlfree.cmaes`) and the weight-agnostic search (:mod:`rlfree.wann`); :func:`build_optimiser` makes the
one a config names.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from rlfree.cmaes import CMAES, default_population
from rlfree.config import Config, WalkConfig
from rlfree.genetic import GeneticAlgorithm
from rlfree.network import NetworkSpec
from rlfree.walk import FaithfulRandomWalk, SmartRandomWalk
from rlfree.wann import SHARED_WEIGHTS, WeightAgnosticSearch


@runtime_checkable
class Optimiser(Protocol):
    rows: int  # parameter vectors per generation
    generation: int  # generations told so far
    centre: torch.Tensor  # (D,) the current estimate
    sigma: float  # perturbation scale (the walk's sigma, the GA's mutation std, CMA-ES's step size), for the logs
    # optional: ``episodes: int | None``, the episodes per member an optimiser wants from this generation on
    # (the weight-agnostic search's tuning), read before each ask(); absent or None: the run's --episodes

    def ask(self) -> torch.Tensor:
        """params: (rows, D) to evaluate this generation."""

    def tell(self, returns: torch.Tensor) -> dict[str, float | int]:
        """returns: (rows, E) of ``ask()``'s rows -> figures: population_mean, population_max,
        population_min, step_norm, weight_norm, nonfinite_returns, tied_share (the share of the step's
        comparisons that tie and so add nothing to it) and floor_tied_share (those tied at the worst return);
        an optimiser may add its own (the GA and CMA-ES: elite_fitness; CMA-ES: axis_ratio)."""

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


def _walk(config: Config, centre: torch.Tensor, seed: int, initial_std: float | None) -> Optimiser:
    return make_optimiser(config.walk, centre, seed)


def _ga(config: Config, centre: torch.Tensor, seed: int, initial_std: float | None) -> Optimiser:
    a = config.algo
    return GeneticAlgorithm(centre, population=a.ga_population, sigma=a.ga_sigma, parents=a.ga_parents, elites=a.ga_elites,
                            seed=seed, initial_std=initial_std)


def _wann(config: Config, centre: torch.Tensor, seed: int, initial_std: float | None, spec: NetworkSpec) -> Optimiser:
    a = config.algo
    return WeightAgnosticSearch(spec, population=a.wann_population, search_generations=a.wann_generations, elites=a.wann_elites,
                                tournament=a.wann_tournament, prob_moo=a.wann_prob_moo, add_connection=a.wann_add_connection,
                                add_node=a.wann_add_node, change_activation=a.wann_change_activation,
                                init_connection=a.wann_init_connection, walk=config.walk, seed=seed, dtype=centre.dtype, device=centre.device,
                                tuner=a.wann_tuner, cmaes_sigma=a.cmaes_sigma, cmaes_population=a.cmaes_population,
                                tune_episodes=a.wann_tune_episodes)


def _cmaes(config: Config, centre: torch.Tensor, seed: int, initial_std: float | None) -> Optimiser:
    a = config.algo
    return CMAES(centre, sigma=a.cmaes_sigma, population=a.cmaes_population, covariance=a.cmaes_covariance, seed=seed)


# name -> factory(config, centre (D,), seed, initial_std: the std the initial weights were drawn with, None for a trained centre)
ALGOS = {"walk": _walk, "ga": _ga, "cmaes": _cmaes, "wann": _wann}

# Settings of [walk] that only the walk carries out (reward_shift and action_cost are the trainer's, for every algo).
WALK_ONLY = ("population", "sigma", "lr", "variant", "mirrored", "shaping", "top_directions", "optimizer", "momentum",
             "weight_decay", "sigma_decay", "sigma_min")


def build_optimiser(config: Config, centre: torch.Tensor, seed: int, initial_std: float | None, spec: NetworkSpec | None = None) -> Optimiser:
    """The optimiser ``config.algo.algo`` names, starting at centre: (D,) (wann builds its own
    first networks, of ``spec``'s shape)."""
    if config.algo.algo not in ALGOS:
        raise ValueError(f"algo {config.algo.algo!r} is not accepted; use {', '.join(ALGOS)}")
    if config.algo.algo == "wann":
        return _wann(config, centre, seed, initial_std, spec)
    return ALGOS[config.algo.algo](config, centre, seed, initial_std)


def generation_size(config: Config, dim: int, population: int | None = None) -> tuple[int, int]:
    """(rows a generation asks for, perturbations it draws) for a network of ``dim`` weights, with
    ``population`` in place of the configured one when given (the memory check searches it)."""
    algo, walk = config.algo, config.walk
    if algo.algo == "ga":
        population = population or algo.ga_population
        return population, population
    if algo.algo == "wann":  # the search's rows, or the tuning walk's where it asks for more
        rows = (population or algo.wann_population) * len(SHARED_WEIGHTS)
        walk_rows = VARIANTS["smart"].rows_for(walk.population)
        return max(rows, walk_rows), walk.population // 2 if walk.mirrored else walk.population
    if algo.algo == "cmaes":
        population = population or algo.cmaes_population or default_population(dim)
        return population, population
    population = population or walk.population
    mirrored = walk.variant == "smart" and walk.mirrored
    return VARIANTS[walk.variant].rows_for(population), population // 2 if mirrored else population


def population_flag(config: Config) -> str:
    """The flag that sets the configured optimiser's population."""
    return {"ga": "--ga-population", "cmaes": "--cmaes-population", "wann": "--wann-population"}.get(config.algo.algo, "--population")
