"""The optimiser seam: the same numbers as before the split, exact restore, step rules, old checkpoints."""

import pytest
import torch

from rlfree.config import WalkConfig
from rlfree.optimiser import VARIANTS, Optimiser, make_optimiser
from rlfree.shaping import SHAPINGS, zscore
from rlfree.steps import SGD, STEP_RULES, Adam, Momentum, make_step_rule
from rlfree.walk import FaithfulRandomWalk, SigmaSchedule, SmartRandomWalk

F64 = torch.float64
TARGET = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0], dtype=F64)


def quadratic_returns(params: torch.Tensor) -> torch.Tensor:
    """params: (P, 5) -> returns (P, 1) = -||params - TARGET||^2."""
    return -((params - TARGET) ** 2).sum(dim=1, keepdim=True)


def walk_from_zero(config: WalkConfig, dtype=F64) -> Optimiser:
    return make_optimiser(config, torch.zeros(5, dtype=dtype), seed=3)


def run(walk: Optimiser, generations: int) -> list[dict]:
    return [walk.tell(quadratic_returns(walk.ask())) for _ in range(generations)]


def hexes(values) -> list[str]:
    return [float(x).hex() for x in values]


# The centre after 5 generations from zero, seed 3, population 8, sigma 0.2, recorded from the
# single SmartRandomWalk class before the variants and step rules became separate classes.
CENTRES_BEFORE_THE_SPLIT = {
    "smart_sgd": ({}, ['0x1.e184f1b8d9830p-2', '-0x1.57f2b3bcc1055p+0', '-0x1.c8aa3b1372200p-5', '0x1.779ec110f17d6p+0', '-0x1.84e79fe60d760p-4']),
    "smart_momentum": ({'momentum': 0.9}, ['0x1.2443ac88a224ep+0', '-0x1.3c1292b38b1b8p+1', '0x1.05dafb519abc3p-1', '0x1.abc05d977fe76p+1', '-0x1.82e7693d1d76ep-1']),
    "smart_adam": ({'optimizer': 'adam', 'lr': 0.05}, ['-0x1.7ebbe819d2b9fp-4', '-0x1.e4eaca20cf134p-3', '0x1.b8e4124e7fb25p-8', '0x1.be282e9b9c799p-3', '-0x1.4f3d225abcaecp-3']),
    "smart_ranks_unmirrored_decay": ({'shaping': 'centred_ranks', 'mirrored': False, 'sigma_decay': 0.9, 'sigma_min': 0.15, 'weight_decay': 0.01}, ['0x1.16d2f5f5b6512p-4', '-0x1.c6facedcf969cp-2', '0x1.23424b537281ep-5', '0x1.11146b94a8c3bp-1', '-0x1.8a14939f2ecf8p-3']),
    "smart_raw_adam_decay": ({'shaping': 'raw', 'optimizer': 'adam', 'weight_decay': 0.02, 'lr': 0.05}, ['-0x1.00ed23bb965c9p-4', '-0x1.a7d6cdf3f7264p-3', '-0x1.1a33825fb6a54p-5', '0x1.8fad1160b0053p-3', '-0x1.0e982b08901edp-3']),
    "seed": ({'variant': 'seed', 'lr': 0.5}, ['0x1.0d2f9ae9698c0p-9', '-0x1.4b1a3b5524d94p-2', '0x1.b732e53cd424cp-4', '0x1.de205a12b150ap-2', '-0x1.dbd62f61bd975p-3']),
    "seed_decay": ({'variant': 'seed', 'lr': 0.5, 'weight_decay': 0.01, 'sigma_decay': 0.8, 'sigma_min': 0.1}, ['-0x1.4418cdc361534p-5', '-0x1.add363e611f73p-3', '0x1.770d94651ac53p-6', '0x1.f14092b4bfb6cp-3', '-0x1.5541dc57159e3p-4']),
}  # fmt: skip


@pytest.mark.parametrize("case", CENTRES_BEFORE_THE_SPLIT)
def test_every_variant_and_step_rule_reproduces_the_centre_of_before_the_split(case):
    options, expected = CENTRES_BEFORE_THE_SPLIT[case]
    walk = walk_from_zero(WalkConfig(population=8, sigma=0.2, **options))
    run(walk, 5)
    assert torch.equal(walk.centre, torch.tensor([float.fromhex(h) for h in expected], dtype=F64))


def test_default_walk_in_float32_reproduces_its_centre_of_before_the_split():
    walk = walk_from_zero(WalkConfig(population=8), dtype=torch.float32)
    for _ in range(5):
        walk.tell(quadratic_returns(walk.ask().double()).float())
    assert hexes(walk.centre) == ["0x1.e184f60000000p-2", "-0x1.57f2b20000000p+0", "-0x1.c8aa400000000p-5", "0x1.779ec00000000p+0", "-0x1.84e7b80000000p-4"]


# -- what the config resolves to ---------------------------------------------------------------
def test_defaults_are_mirrored_pairs_zscored_returns_and_plain_sgd():
    walk = walk_from_zero(WalkConfig())
    assert isinstance(walk, SmartRandomWalk) and walk.mirrored and walk.rows == 128
    assert walk.shape_fitness is zscore
    assert type(walk.step_rule) is SGD and walk.step_rule.lr == 0.1
    assert walk.schedule == SigmaSchedule(decay=1.0, floor=0.0)
    assert set(walk.state_dict()) == {"centre", "sigma", "generation", "seed"}


def test_registries_name_what_the_config_accepts():
    assert set(VARIANTS) == {"smart", "seed"} and VARIANTS["seed"] is FaithfulRandomWalk
    assert set(STEP_RULES) == {"sgd", "adam"}
    assert set(SHAPINGS) == {"zscore", "centred_ranks", "raw"}


def test_sgd_with_momentum_resolves_to_the_momentum_rule():
    centre = torch.zeros(3, dtype=F64)
    assert type(make_step_rule("sgd", 0.1, centre)) is SGD
    assert type(make_step_rule("sgd", 0.1, centre, momentum=0.9)) is Momentum
    assert type(make_step_rule("adam", 0.1, centre, momentum=0.9)) is Adam  # Adam has its own betas
    with pytest.raises(ValueError, match="step rule 'rmsprop' is not accepted; use sgd or adam"):
        make_step_rule("rmsprop", 0.1, centre)


def test_unknown_variant_is_an_error_naming_the_accepted_ones():
    with pytest.raises(ValueError, match="variant 'cma' is not accepted; use smart or seed"):
        make_optimiser(WalkConfig(variant="cma"), torch.zeros(3), 0)


def test_both_walks_satisfy_the_optimiser_protocol():
    for variant, rows in (("smart", 6), ("seed", 7)):
        walk = walk_from_zero(WalkConfig(population=6, variant=variant))
        assert isinstance(walk, Optimiser) and walk.rows == rows
        assert walk.ask().shape == (rows, 5)


def test_sigma_schedule_decays_to_its_floor():
    schedule = SigmaSchedule(decay=0.5, floor=0.2)
    assert [schedule(s) for s in (1.0, 0.5, 0.25, 0.2)] == [0.5, 0.25, 0.2, 0.2]


# -- step rules --------------------------------------------------------------------------------
def test_momentum_and_adam_keep_distinct_buffers():
    gradient = torch.tensor([1.0, -2.0, 4.0], dtype=F64)
    momentum = Momentum(lr=0.5, centre=torch.zeros(3, dtype=F64), momentum=0.9)
    momentum.step(gradient)
    assert torch.equal(momentum.step(gradient), 0.5 * 1.9 * gradient)  # velocity g, then 0.9 g + g
    adam = Adam(lr=0.1, centre=torch.zeros(3, dtype=F64))
    adam.step(gradient)
    assert torch.allclose(adam.m, 0.1 * gradient) and torch.allclose(adam.v, 0.001 * gradient**2)
    assert adam.m.data_ptr() != adam.v.data_ptr()
    assert set(momentum.state_dict()) == {"momentum"}
    assert set(adam.state_dict()) == {"adam_m", "adam_v", "adam_steps"} and adam.state_dict()["adam_steps"] == 1


def test_adam_first_step_moves_each_weight_by_about_lr():
    adam = Adam(lr=0.1, centre=torch.zeros(3, dtype=F64))
    step = adam.step(torch.tensor([0.01, -5.0, 40.0], dtype=F64))  # Adam normalises the first step per weight
    torch.testing.assert_close(step, torch.tensor([0.1, -0.1, 0.1], dtype=F64), rtol=1e-4, atol=0)


@pytest.mark.parametrize(
    "options, buffers",
    [
        ({}, set()),
        ({"momentum": 0.8, "weight_decay": 0.01}, {"momentum"}),
        ({"optimizer": "adam", "lr": 0.05, "sigma_decay": 0.9, "sigma_min": 0.1}, {"adam_m", "adam_v", "adam_steps"}),
        ({"variant": "seed", "lr": 0.5}, set()),
    ],
    ids=["sgd", "momentum", "adam", "seed"],
)
def test_state_dict_then_load_state_dict_continues_bitwise_for_every_step_rule(options, buffers):
    config = WalkConfig(population=8, sigma=0.2, **options)
    uninterrupted = walk_from_zero(config)
    run(uninterrupted, 5)

    first = walk_from_zero(config)
    run(first, 3)
    state = first.state_dict()
    assert set(state) == {"centre", "sigma", "generation", "seed"} | buffers
    resumed = make_optimiser(config, torch.full((5,), 9.0, dtype=F64), seed=77)
    resumed.load_state_dict(state)
    run(resumed, 2)
    assert torch.equal(resumed.centre, uninterrupted.centre)
    assert resumed.generation == 5 and resumed.seed == 3 and resumed.sigma == uninterrupted.sigma
    for name, value in uninterrupted.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value) if torch.is_tensor(value) else resumed.state_dict()[name] == value


def test_load_state_dict_names_a_missing_buffer():
    sgd_state = walk_from_zero(WalkConfig(population=4)).state_dict()
    with pytest.raises(ValueError, match="walk state has no 'momentum'"):
        walk_from_zero(WalkConfig(population=4, momentum=0.9)).load_state_dict(sgd_state)


# -- checkpoints written before the split ------------------------------------------------------
# state_dict() of the single class after 3 generations (as walk_from_zero and run above):
# tensors centre, adam_m, adam_v and numbers sigma, generation, seed; with sgd + momentum the
# momentum buffer was saved as adam_m and adam_v stayed zero.
OLD_LAYOUT_AFTER_3_GENERATIONS = {
    "smart_momentum": {
        "centre": ['-0x1.86e5da9ab21b6p-2', '-0x1.d05565f5b5a4cp+0', '0x1.170df61fc6c26p-2', '0x1.461f19553e05bp+0', '-0x1.4bfb08b02f773p+0'],
        "adam_m": ['-0x1.2a639942ea000p-9', '-0x1.b9b9866c4f3e0p+2', '0x1.83cac7933a7fap+1', '0x1.8d620ba723c12p+2', '-0x1.0258b1bc9ecd0p+2'],
        "adam_v": ['0x0.0p+0'] * 5,
    },
    "smart_adam": {
        "centre": ['-0x1.83b9e5ab9105ep-4', '-0x1.27f864653bf13p-3', '-0x1.3c3d5aad7a85cp-8', '0x1.0f2fc3de278a0p-3', '-0x1.0033d48896c12p-3'],
        "adam_m": ['-0x1.c949d5ca38ed0p-5', '-0x1.9af1f84a27ab8p-1', '0x1.37329b5f99cc5p-2', '0x1.2cf1759fe0e22p-1', '-0x1.823df9922f261p-2'],
        "adam_v": ['0x1.13a0cc56726fbp-6', '0x1.0b68577248267p-5', '0x1.43f879379f541p-7', '0x1.2dfd5d7947e0bp-6', '0x1.72ea47563155cp-6'],
    },
}  # fmt: skip


@pytest.mark.parametrize("case", OLD_LAYOUT_AFTER_3_GENERATIONS)
def test_an_old_checkpoints_walk_state_continues_to_the_same_centre(case):
    tensors = {name: torch.tensor([float.fromhex(h) for h in values], dtype=F64) for name, values in OLD_LAYOUT_AFTER_3_GENERATIONS[case].items()}
    old_state = {**tensors, "sigma": 0.2, "generation": 3, "seed": 3}
    options, expected = CENTRES_BEFORE_THE_SPLIT[case]
    walk = make_optimiser(WalkConfig(population=8, sigma=0.2, **options), torch.zeros(5, dtype=F64), seed=0)
    walk.load_state_dict(old_state)
    run(walk, 2)
    assert walk.generation == 5
    assert hexes(walk.centre) == expected


def test_an_old_checkpoint_of_plain_sgd_or_the_seed_variant_loads_and_drops_its_unused_buffers():
    zeros = torch.zeros(5, dtype=F64)
    old_state = {"centre": TARGET.clone(), "adam_m": zeros, "adam_v": zeros, "sigma": 0.1, "generation": 4, "seed": 3}
    for variant in ("smart", "seed"):
        walk = walk_from_zero(WalkConfig(population=8, variant=variant))
        walk.load_state_dict(old_state)
        assert torch.equal(walk.centre, TARGET) and walk.sigma == 0.1 and walk.generation == 4
        assert set(walk.state_dict()) == {"centre", "sigma", "generation", "seed"}
