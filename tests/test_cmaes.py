"""CMA-ES: held against pycma on standard functions, its sampling, exact restore, non-finite rows.

The comparisons run both on the same function, start, step size, population and budget, over
the same number of seeds, and ask for the same precision within the spread over seeds. pycma
runs with ``CMA_active=False``: its default adds negative recombination weights (active CMA),
an improvement the tutorial's algorithm here does not make (on Rosenbrock in 5-D it is about
20% fewer evaluations; on sphere it makes no difference).
"""

import math
import statistics
import warnings

import numpy as np
import pytest
import torch

from rlfree.cmaes import CMAES, default_population
from rlfree.config import Config
from rlfree.errors import NonFiniteRun
from rlfree.optimiser import Optimiser, build_optimiser
from rlfree.seeding import perturbations

with warnings.catch_warnings():  # pycma says on import that it draws no plots without matplotlib
    warnings.simplefilter("ignore", UserWarning)
    import cma  # pycma, in the test extra

F64 = torch.float64


def sphere(x: np.ndarray) -> np.ndarray:
    return (x**2).sum(-1)


def rosenbrock(x: np.ndarray) -> np.ndarray:
    return (100 * (x[..., 1:] - x[..., :-1] ** 2) ** 2 + (1 - x[..., :-1]) ** 2).sum(-1)


def rastrigin(x: np.ndarray) -> np.ndarray:
    return 10 * x.shape[-1] + (x**2 - 10 * np.cos(2 * np.pi * x)).sum(-1)


def ours(f, dim: int, start: float, sigma: float, budget: int, seed: int, covariance: str, population: int = 0,
         precision: float = 1e-8) -> tuple[int, float]:
    """(evaluations used, best f) of rlfree's CMA-ES minimising f (it maximises returns: -f)."""
    es = CMAES(torch.full((dim,), start, dtype=F64), sigma=sigma, population=population, covariance=covariance, seed=seed)
    evaluations, best = 0, math.inf
    while evaluations < budget and best >= precision:
        x = es.ask().numpy()
        values = f(x)
        evaluations, best = evaluations + len(x), min(best, float(values.min()))
        es.tell(torch.from_numpy(-values)[:, None])
    return evaluations, best


def pycma(f, dim: int, start: float, sigma: float, budget: int, seed: int, covariance: str, population: int = 0,
          precision: float = 1e-8) -> tuple[int, float]:
    """The same with pycma, its stopping rules off but the budget and the precision."""
    options = {"seed": seed + 1, "verbose": -9, "CMA_diagonal": covariance == "diagonal", "CMA_active": False,
               "tolfun": 0, "tolx": 0, "tolfunhist": 0, "tolstagnation": 1e9, "tolflatfitness": 1e9}
    if population:
        options["popsize"] = population
    es = cma.CMAEvolutionStrategy([start] * dim, sigma, options)
    evaluations, best = 0, math.inf
    while evaluations < budget and best >= precision:
        x = np.array(es.ask())
        values = f(x)
        evaluations, best = evaluations + len(x), min(best, float(values.min()))
        es.tell(list(x), list(values))
    return evaluations, best


def both(f, dim: int, start: float, sigma: float, budget: int, covariance: str, *, seeds: int, **kwargs) -> tuple[list, list]:
    """(rlfree's, pycma's) (evaluations, best f) for seeds 0 .. seeds - 1."""
    return tuple([run(f, dim, start, sigma, budget, seed, covariance, **kwargs) for seed in range(seeds)] for run in (ours, pycma))


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_sphere_reaches_1e_8_in_as_many_evaluations_as_pycma(covariance):
    mine, theirs = both(sphere, 10, 1.0, 0.5, 20_000, covariance, seeds=6)
    assert all(best < 1e-8 for _, best in mine + theirs)
    ratio = statistics.median(e for e, _ in mine) / statistics.median(e for e, _ in theirs)
    assert 0.8 < ratio < 1.25, ratio  # measured: 0.96 (full), 1.00 (diagonal) over 15 seeds


@pytest.mark.slow
def test_rosenbrock_full_reaches_1e_8_in_as_many_evaluations_as_pycma():
    mine, theirs = both(rosenbrock, 5, 0.0, 0.5, 20_000, "full", seeds=6)
    assert all(best < 1e-8 for _, best in mine + theirs)
    ratio = statistics.median(e for e, _ in mine) / statistics.median(e for e, _ in theirs)
    assert 0.7 < ratio < 1.4, ratio  # measured: 1.06 over 15 seeds


@pytest.mark.slow
def test_rosenbrock_diagonal_gets_as_close_as_pycma_on_the_same_budget():
    # a non-separable valley: neither reaches 1e-8 in 5000 evaluations with a diagonal covariance
    mine, theirs = both(rosenbrock, 5, 0.0, 0.5, 5_000, "diagonal", seeds=6)
    ratio = statistics.median(b for _, b in mine) / statistics.median(b for _, b in theirs)
    assert 1 / 3 < ratio < 3, ratio  # measured: medians 0.22 and 0.17 over 10 seeds


@pytest.mark.slow
@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_rastrigin_ends_in_as_deep_a_local_optimum_as_pycma(covariance):
    # its local optima lie about 1 apart (0.995, 1.99, ...): the median seed of each ends within one of the other's
    mine, theirs = both(rastrigin, 5, 3.0, 2.0, 5_000, covariance, population=50, seeds=6)
    assert abs(statistics.median(b for _, b in mine) - statistics.median(b for _, b in theirs)) <= 1.0 + 1e-6


# -- the optimiser itself -------------------------------------------------------------------------
def test_it_is_an_optimiser_built_from_the_config_with_the_tutorials_population():
    config = Config()
    config.algo.algo, config.algo.cmaes_covariance = "cmaes", "diagonal"
    optimiser = build_optimiser(config, torch.zeros(36), seed=0, initial_std=0.1)
    assert isinstance(optimiser, Optimiser) and isinstance(optimiser, CMAES)
    assert optimiser.rows == default_population(36) == 4 + int(3 * math.log(36)) and optimiser.diagonal
    assert optimiser.ask().dtype == torch.float32 and optimiser.centre.dtype == torch.float32  # the run's dtype


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_rows_are_the_mean_plus_sigma_times_b_d_z_with_z_a_function_of_integers(covariance):
    es = CMAES(torch.zeros(4, dtype=F64), sigma=0.3, population=6, covariance=covariance, seed=7)
    for _ in range(12):  # long enough for C to leave the identity and be decomposed again
        es.tell(-torch.from_numpy(rosenbrock(es.ask().numpy()))[:, None])
    z = perturbations(7, 12, 6, 4)
    y = z * es.axes if covariance == "diagonal" else (z * es.axes) @ es.basis.T
    assert torch.equal(es.ask(), es.mean + es.sigma * y)
    if covariance == "full":
        assert torch.allclose(es.basis @ torch.diag(es.axes**2) @ es.basis.T, es.cov, atol=1e-6 * float(es.cov.abs().max()))


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_state_dict_then_load_state_dict_continues_bitwise(covariance):
    def returns(x):
        return -torch.from_numpy(rosenbrock(x.double().numpy()))[:, None]

    straight = CMAES(torch.zeros(6), sigma=0.3, covariance=covariance, seed=2)
    for _ in range(20):
        straight.tell(returns(straight.ask()))
    first = CMAES(torch.zeros(6), sigma=0.3, covariance=covariance, seed=2)
    for _ in range(9):  # stopped between two eigendecompositions (every 2 generations in 6-D)
        first.tell(returns(first.ask()))
    saved = {k: v.numpy() if torch.is_tensor(v) else v for k, v in first.state_dict().items()}  # as walk.npz and state.json hold it
    resumed = CMAES(torch.zeros(6), sigma=0.3, covariance=covariance, seed=2)
    resumed.load_state_dict({k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in saved.items()})
    for _ in range(11):
        resumed.tell(returns(resumed.ask()))
    for name, value in straight.state_dict().items():
        other = resumed.state_dict()[name]
        assert torch.equal(value, other) if torch.is_tensor(value) else value == other, name


def test_a_state_of_the_other_covariance_or_another_network_is_refused():
    full = CMAES(torch.zeros(6), sigma=0.3, covariance="full")
    with pytest.raises(ValueError, match="holds a diagonal covariance; this run's cmaes_covariance is full"):
        full.load_state_dict(CMAES(torch.zeros(6), sigma=0.3, covariance="diagonal").state_dict())
    with pytest.raises(ValueError, match="has shape"):
        full.load_state_dict(CMAES(torch.zeros(7), sigma=0.3, covariance="full").state_dict())


def test_non_finite_rows_rank_last_and_all_non_finite_is_one_error():
    es = CMAES(torch.zeros(3, dtype=F64), sigma=0.5, population=6, seed=1)
    rows = es.ask()
    returns = torch.tensor([[0.0], [float("nan")], [1.0], [float("inf")], [-1.0], [2.0]], dtype=F64)
    figures = es.tell(returns)
    assert figures["nonfinite_returns"] == 2 and figures["population_max"] == 2.0
    assert math.isfinite(figures["elite_fitness"]) and torch.isfinite(es.mean).all()
    # the mean moved toward the best three (rows 5, 2, 0), with the tutorial's weights
    assert torch.allclose(es.mean, es.weights @ rows[[5, 2, 0]], atol=1e-12)
    es.ask()
    with pytest.raises(NonFiniteRun, match="generation 2"):
        es.tell(torch.full((6, 1), float("nan"), dtype=F64))
