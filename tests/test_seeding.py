"""Every random number as a pure function of integers: pinned values, ranges and independence."""

import pytest
import torch

from rlfree.seeding import (
    HELDOUT_SEED_RANGE,
    TRAIN_SEED_RANGE,
    episode_seeds,
    hash_seed,
    perturbations,
    seeded_uniform,
    weights_generator,
)


# -- hash_seed ---------------------------------------------------------------------------------
def test_hash_seed_is_pinned_across_versions():
    # numbers a checkpoint or a remote worker relies on: changing them changes every run
    assert hash_seed(0) == 2576698060294495596
    assert hash_seed(1, 2, 3) == 6068882009881663744
    assert hash_seed(3, 1, 0x5EED) == 2423102271223258231
    assert 0 <= hash_seed(2**64 - 1, -1) < 2**63
    assert hash_seed(1, 2) != hash_seed(2, 1)


# -- episode seeds -----------------------------------------------------------------------------
def test_episode_seeds_are_pinned_and_deterministic():
    a = episode_seeds(3, 17, 4)
    assert a.dtype == torch.int64 and a.tolist() == [299227670, 164345211, 548700516, 40065514]
    assert episode_seeds(3, 17, 2, "eval").tolist() == [1273955785, 1098818624]
    assert torch.equal(episode_seeds(3, 17, 50)[:4], a)  # a longer draw starts with the same seeds
    assert not torch.equal(a, episode_seeds(3, 18, 4))
    assert not torch.equal(a, episode_seeds(4, 17, 4))


def test_train_seeds_and_heldout_seeds_come_from_disjoint_ranges():
    assert TRAIN_SEED_RANGE == (0, 2**30) and HELDOUT_SEED_RANGE == (2**30, 2**31)
    train = torch.cat([episode_seeds(0, g, 100, "train") for g in range(20)])
    assert int(train.min()) >= 0 and int(train.max()) < 2**30
    for purpose in ("eval", "check"):
        heldout = torch.cat([episode_seeds(0, g, 100, purpose) for g in range(20)])
        assert int(heldout.min()) >= 2**30 and int(heldout.max()) < 2**31


def test_purposes_give_different_seeds():
    train, evaluation, check = (episode_seeds(1, 5, 100, p) for p in ("train", "eval", "check"))
    assert not set(train.tolist()) & set(evaluation.tolist())
    assert not torch.equal(evaluation, check)
    assert len(set(evaluation.tolist()) & set(check.tolist())) < 3


def test_unknown_seed_purpose_is_an_error():
    with pytest.raises(KeyError):
        episode_seeds(0, 0, 3, "test")


# -- the twins' counter RNG --------------------------------------------------------------------
def test_seeded_uniform_is_pinned():
    u = seeded_uniform(torch.tensor([0, 7, 2**40]), 2, stream=1, dtype=torch.float64)
    expected = ["0x1.3099c3de00000p-1", "0x1.f5b087a000000p-3", "0x1.e769a34a00000p-1",
                "0x1.16f716bc00000p-2", "0x1.08ecd73600000p-1", "0x1.43a0f72e00000p-1"]  # fmt: skip
    assert [float(x).hex() for x in u.flatten()] == expected


def test_seeded_uniform_depends_on_seed_stream_and_index_only():
    batch = seeded_uniform(torch.tensor([5, 9, 5, 123]), 6, stream=2)
    assert torch.equal(batch[0], batch[2])  # the same seed anywhere in the batch: the same numbers
    assert torch.equal(batch[1], seeded_uniform(torch.tensor([9]), 6, stream=2)[0])
    assert torch.equal(seeded_uniform(torch.tensor([9]), 3, stream=2)[0], batch[1, :3])  # a prefix of a longer draw
    assert not torch.equal(batch[0], seeded_uniform(torch.tensor([5]), 6, stream=3)[0])


def test_seeded_uniform_stays_in_the_unit_interval_in_float32():
    u = seeded_uniform(torch.arange(4096), 64, dtype=torch.float32)
    assert u.dtype == torch.float32 and float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert float(u.mean()) == pytest.approx(0.5, abs=0.005)


# -- perturbations and initial weights ---------------------------------------------------------
def test_perturbations_are_a_function_of_seed_and_generation():
    eps = perturbations(3, 1, 4, 5)
    assert eps.shape == (4, 5) and eps.dtype == torch.float64
    assert float(eps[0, 0]).hex() == "0x1.c9ef12ab4e201p-1"  # as the walk drew it before seeding.py
    assert torch.equal(eps, perturbations(3, 1, 4, 5))
    assert not torch.equal(eps, perturbations(3, 2, 4, 5))
    assert not torch.equal(eps, perturbations(4, 1, 4, 5))


def test_perturbations_are_drawn_in_float64_then_converted():
    # every dtype and device sees the same numbers, rounded once
    assert torch.equal(perturbations(3, 1, 4, 5, "cpu", torch.float32), perturbations(3, 1, 4, 5).float())


def test_weights_generator_is_torchs_generator_seeded_by_the_run():
    a = torch.randn(3, generator=weights_generator(7))
    assert torch.equal(a, torch.randn(3, generator=torch.Generator().manual_seed(7)))
    assert not torch.equal(a, torch.randn(3, generator=weights_generator(8)))
