"""--top-directions B: the step uses only the B best mirrored pairs (ARS's top-b directions)."""

import numpy as np
import pytest
import torch

from rlfree.config import Config, ConfigError, WalkConfig
from rlfree.walk import SmartRandomWalk


def walk(**settings) -> SmartRandomWalk:
    config = WalkConfig(population=8, sigma=0.1, lr=0.5)
    for name, value in settings.items():
        setattr(config, name, value)
    return SmartRandomWalk(torch.zeros(5, dtype=torch.float64), config, seed=3)


# pair i is (row i, row 4 + i); the better returns are 3, 9, 2, 7: pairs 1 and 3 are the best two
RETURNS = torch.tensor([[1.0], [9.0], [2.0], [7.0], [3.0], [4.0], [-5.0], [0.5]], dtype=torch.float64)


def told(walker: SmartRandomWalk) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(eps (4, D), the step, the figures) of one generation on RETURNS."""
    walker.ask()
    eps = walker._noise.clone()
    before = walker.centre.clone()
    figures = walker.tell(RETURNS)
    return eps, walker.centre - before, figures


def test_zscore_on_the_best_pairs_is_arss_step_computed_by_hand():
    eps, step, _ = told(walk(top_directions=2))
    r = RETURNS[:, 0].numpy()
    plus, minus = r[[1, 3]], r[[5, 7]]
    sigma_r = np.concatenate([plus, minus]).std(ddof=1)  # zscore's std, over the 2B returns used
    expected = 0.5 * ((plus - minus) / sigma_r) @ eps[[1, 3]].numpy() / (2 * 2 * 0.1)
    np.testing.assert_allclose(step.numpy(), expected, rtol=1e-12)


def test_raw_shaping_uses_the_plain_differences_of_the_best_pairs():
    eps, step, _ = told(walk(top_directions=1, shaping="raw"))
    expected = 0.5 * (9.0 - 4.0) * eps[1].numpy() / (2 * 1 * 0.1)
    np.testing.assert_allclose(step.numpy(), expected, rtol=1e-12)


def test_every_pair_is_the_usual_step_bitwise():
    _, step_all, figures_all = told(walk(top_directions=4))
    _, step_default, figures_default = told(walk())
    assert torch.equal(step_all, step_default) and figures_all == figures_default


def test_the_figures_describe_the_whole_population_and_the_ties_the_pairs_used():
    tied = torch.tensor([[2.0], [9.0], [2.0], [2.0], [2.0], [4.0], [2.0], [2.0]], dtype=torch.float64)
    walker = walk(top_directions=2)  # pairs 1 (9 vs 4) and then 0 (2 vs 2, the first of three ties)
    walker.ask()
    figures = walker.tell(tied)
    assert figures["population_min"] == 2.0 and figures["population_max"] == 9.0
    assert figures["tied_share"] == 0.5 and figures["floor_tied_share"] == 0.5


@pytest.mark.parametrize("settings, words", [
    ({"top_directions": 5}, "top_directions=5 is not accepted: population 8 makes 4 mirrored pairs; use 1 to 4, or 0 for all"),
    ({"top_directions": -1}, "top_directions=-1 is not accepted: use 0 (every pair) or 1 to population/2"),
    ({"top_directions": 2, "mirrored": False}, "top_directions=2 is not accepted without mirrored pairs"),
    ({"top_directions": 2, "variant": "seed"}, "top_directions=2 is not accepted without mirrored pairs"),
])
def test_impossible_values_are_one_config_error(settings, words):
    config = Config()
    config.walk.population = 8
    for name, value in settings.items():
        setattr(config.walk, name, value)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        config.validate()
