"""The genetic algorithm: the reference's selection and mutation, the truncation GA, exact restore."""

import pytest
import torch

from rlfree.config import Config
from rlfree.errors import NonFiniteRun
from rlfree.genetic import GeneticAlgorithm
from rlfree.optimiser import Optimiser, build_optimiser
from rlfree.seeding import parent_choices, perturbations

F64 = torch.float64
TARGET = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0], dtype=F64)


def quadratic_returns(params: torch.Tensor) -> torch.Tensor:
    """params: (P, 5) -> returns (P, 1) = -||params - TARGET||^2."""
    return -((params - TARGET) ** 2).sum(dim=1, keepdim=True)


def ga(population=8, sigma=0.1, parents=1, elites=1, seed=3, initial_std=0.5) -> GeneticAlgorithm:
    return GeneticAlgorithm(torch.zeros(5, dtype=F64), population=population, sigma=sigma, parents=parents, elites=elites,
                            seed=seed, initial_std=initial_std)


def test_it_is_an_optimiser_and_the_config_builds_it_with_the_references_run_as_defaults():
    config = Config()
    config.algo.algo = "ga"
    optimiser = build_optimiser(config, torch.zeros(5, dtype=F64), seed=0, initial_std=0.5)
    assert isinstance(optimiser, Optimiser) and isinstance(optimiser, GeneticAlgorithm)
    # the reference's run: GeneticNetworks(population_size=64, mutation_variance=0.1, ...), one best kept
    assert (optimiser.rows, optimiser.sigma, optimiser.n_parents, optimiser.n_elites) == (64, 0.1, 1, 1)


def test_generation_0_is_the_initial_network_and_independent_draws_of_its_distribution():
    algorithm = ga(initial_std=0.25)
    rows = algorithm.ask()
    assert rows.shape == (8, 5)
    assert torch.equal(rows[0], torch.zeros(5, dtype=F64))
    assert torch.equal(rows[1:], 0.25 * perturbations(3, 0, 7, 5))


def test_the_reference_keeps_the_best_and_fills_the_population_with_its_mutated_copies():
    algorithm = ga()
    rows = algorithm.ask()
    returns = quadratic_returns(rows)
    best = rows[returns[:, 0].argmax()]
    figures = algorithm.tell(returns)
    assert torch.equal(algorithm.centre, best)
    assert figures["population_max"] == float(returns.max()) and figures["population_min"] == float(returns.min())
    following = algorithm.ask()
    assert torch.equal(following[0], best)  # kept unmutated, and evaluated again with the rest
    assert torch.equal(following[1:], best + 0.1 * perturbations(3, 1, 7, 5))  # no crossover: copies plus N(0, sigma)


def test_the_elite_is_re_evaluated_and_a_tie_keeps_it():
    algorithm = ga()
    algorithm.tell(quadratic_returns(algorithm.ask()))
    elite = algorithm.centre.clone()
    algorithm.ask()
    figures = algorithm.tell(torch.ones(8, 1, dtype=F64))  # every member ties
    assert torch.equal(algorithm.centre, elite)
    assert figures["elite_fitness"] == 1.0 and figures["tied_share"] == 1.0 and figures["floor_tied_share"] == 1.0
    rows = algorithm.ask()
    assert torch.equal(rows[0], elite)
    fresh = torch.zeros(8, 1, dtype=F64)
    fresh[5] = 2.0  # the elite's fresh score, not its remembered one, decides: a child overtakes it
    figures = algorithm.tell(fresh)
    assert torch.equal(algorithm.centre, rows[5]) and figures["elite_fitness"] == 0.0


def test_the_truncation_ga_breeds_from_the_top_t_and_carries_c_elites():
    algorithm = ga(population=10, parents=4, elites=2)
    rows = algorithm.ask()
    returns = quadratic_returns(rows)
    order = returns[:, 0].argsort(descending=True, stable=True)
    algorithm.tell(returns)
    following = algorithm.ask()
    assert torch.equal(following[:2], rows[order[:2]])
    chosen = parent_choices(3, 1, 8, 4)
    assert torch.equal(following[2:], rows[order[:4]][chosen] + 0.1 * perturbations(3, 1, 8, 5))
    assert len(set(chosen.tolist())) > 1  # more than one parent does breed


def test_non_finite_returns_rank_last_and_all_non_finite_is_one_error():
    algorithm = ga()
    rows = algorithm.ask()
    returns = torch.full((8, 1), -1.0, dtype=F64)
    returns[2] = float("nan")
    returns[4] = float("inf")  # infinite is not a score either
    returns[6] = 0.0
    figures = algorithm.tell(returns)
    assert torch.equal(algorithm.centre, rows[6]) and figures["nonfinite_returns"] == 2
    algorithm.ask()
    with pytest.raises(NonFiniteRun, match="generation 2"):
        algorithm.tell(torch.full((8, 1), float("nan"), dtype=F64))


@pytest.mark.parametrize("parents, elites", [(1, 1), (3, 2)])
def test_state_dict_then_load_state_dict_continues_bitwise(parents, elites):
    straight = ga(parents=parents, elites=elites)
    for _ in range(6):
        straight.tell(quadratic_returns(straight.ask()))
    first = ga(parents=parents, elites=elites)
    for _ in range(3):
        first.tell(quadratic_returns(first.ask()))
    state = {k: v.numpy() if torch.is_tensor(v) else v for k, v in first.state_dict().items()}  # as a checkpoint holds it
    resumed = ga(parents=parents, elites=elites, seed=99)
    resumed.load_state_dict({k: torch.from_numpy(v) if hasattr(v, "shape") else v for k, v in state.items()})
    for _ in range(3):
        resumed.tell(quadratic_returns(resumed.ask()))
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]) if torch.is_tensor(value) else value == resumed.state_dict()[name], name


def test_a_state_of_another_shape_or_optimiser_is_refused():
    algorithm = ga(parents=2)
    with pytest.raises(ValueError, match="has no 'parents'"):
        algorithm.load_state_dict({"centre": torch.zeros(5), "sigma": 0.1, "generation": 1, "seed": 3})
    state = algorithm.state_dict()
    with pytest.raises(ValueError, match="does not fit a network of 5 weights"):
        algorithm.load_state_dict({**state, "parents": torch.zeros(3, 5, dtype=F64)})


def test_it_climbs_a_quadratic():
    algorithm = ga(population=32, sigma=0.3, parents=4, elites=1)
    start = float(quadratic_returns(torch.zeros(1, 5, dtype=F64)))
    for _ in range(60):
        algorithm.tell(quadratic_returns(algorithm.ask()))
    assert float(quadratic_returns(algorithm.centre[None])) > 0.05 * start
