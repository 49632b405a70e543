"""A worker rebuilds the walk's rows from integers bit for bit, block by block (rlfree.seeded_rows)."""

import pytest
import torch

from rlfree.config import WalkConfig
from rlfree.optimiser import make_optimiser
from rlfree.seeded_rows import SeededRows, SeedsItsRows

VARIANTS = [
    {"variant": "smart", "mirrored": True, "population": 10},
    {"variant": "smart", "mirrored": False, "population": 7},
    {"variant": "seed", "population": 6},
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("walk", VARIANTS, ids=lambda w: f"{w['variant']}-{w.get('mirrored', '')}")
def test_seeded_rows_rebuild_what_ask_gave_bitwise_in_any_block(walk, dtype):
    centre = torch.randn(37, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(dtype)
    optimiser = make_optimiser(WalkConfig(sigma=0.13, sigma_decay=0.9, **walk), centre, seed=11)
    assert isinstance(optimiser, SeedsItsRows)
    for _ in range(3):  # the generation and sigma move on
        asked = optimiser.ask()
        rows = optimiser.seeded_rows().with_centre_rows(2)
        expected = torch.cat([asked, optimiser.centre.expand(2, -1)])
        assert rows.rows == len(expected)
        assert torch.equal(rows.params(), expected)
        travelled = rows.without_centre().around(optimiser.centre.clone())
        eps = travelled.noise()
        for start, stop in [(0, 3), (3, 4), (2, len(expected) - 1), (len(expected) - 3, len(expected)), (5, 5)]:
            assert torch.equal(travelled.params(start, stop, eps), expected[start:stop]), (start, stop)
        optimiser.tell(torch.randn(optimiser.rows, 2, generator=torch.Generator().manual_seed(optimiser.generation)))


def test_rows_outside_the_generation_are_refused():
    rows = SeededRows(torch.zeros(3), seed=0, generation=0, count=2, sigma=0.1, parts=((1, 2), (-1, 2)))
    with pytest.raises(ValueError, match="rows 3:5 are not rows of a generation of 4"):
        rows.params(3, 5)
