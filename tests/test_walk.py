"""The smart random walk and its seed-faithful sibling: the estimate, descent, reproducibility, exact restore."""

import dataclasses

import pytest
import torch

from rlfree.config import WalkConfig
from rlfree.optimiser import make_optimiser
from rlfree.shaping import centred_ranks, zscore
from rlfree.walk import FaithfulRandomWalk, SmartRandomWalk

from conftest import DEVICES

F64 = torch.float64


def linear_returns(g: torch.Tensor):
    return lambda params: (params @ g)[:, None]  # (P, 1)


def noisy_quadratic(target: torch.Tensor, noise: float, seed: int):
    generator = torch.Generator().manual_seed(seed)

    def returns(params):
        distance2 = ((params - target) ** 2).sum(dim=1, keepdim=True)
        return -distance2 + noise * torch.randn(params.shape[0], 1, generator=generator, dtype=F64)

    return returns


def run(walk, returns_of, generations: int) -> list[dict]:
    stats = []
    for _ in range(generations):
        stats.append(walk.tell(returns_of(walk.ask())))
    return stats


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


# -- the estimate ------------------------------------------------------------------------------
@pytest.mark.parametrize("mirrored", [True, False])
def test_gradient_estimate_on_a_linear_function_points_along_its_gradient(mirrored):
    D = 20
    g = torch.linspace(-1.0, 2.0, D, dtype=F64)
    centre = torch.randn(D, generator=torch.Generator().manual_seed(0), dtype=F64)
    if not mirrored:
        # raw, unmirrored returns carry the baseline g.centre, whose noise grows as 1/sigma; a pair
        # cancels it, a lone perturbation does not, so that case starts where g.centre = 0
        centre -= (centre @ g) / (g @ g) * g
    config = WalkConfig(population=4000, sigma=0.1, lr=0.5, shaping="raw", optimizer="sgd", mirrored=mirrored)
    walk = SmartRandomWalk(centre, config, seed=3)
    walk.tell(linear_returns(g)(walk.ask()))
    estimate = (walk.centre - centre) / config.lr
    assert cosine(estimate, g) > 0.9
    # raw shaping and SGD give an unbiased estimate of g itself, not only its direction
    assert float(estimate.norm() / g.norm()) == pytest.approx(1.0, abs=0.2 if mirrored else 0.5)


def test_mirrored_raw_estimate_is_exactly_the_antithetic_formula():
    D, P, sigma, lr = 6, 8, 0.2, 0.3
    g = torch.arange(D, dtype=F64) - 2.0
    walk = SmartRandomWalk(torch.zeros(D, dtype=F64), WalkConfig(population=P, sigma=sigma, lr=lr, shaping="raw", optimizer="sgd"), 1)
    eps = walk.perturbations()
    assert eps.shape == (P // 2, D)
    params = walk.ask()
    torch.testing.assert_close(params, torch.cat([sigma * eps, -sigma * eps]), rtol=0, atol=0)
    walk.tell(linear_returns(g)(params))
    f_plus, f_minus = (sigma * eps) @ g, (-sigma * eps) @ g
    expected = lr * ((f_plus - f_minus) @ eps) / (P * sigma)
    torch.testing.assert_close(walk.centre, expected, rtol=1e-14, atol=1e-15)


# -- descent -----------------------------------------------------------------------------------
def test_default_walk_minimises_a_noisy_quadratic():
    D = 10
    target = torch.linspace(-1.0, 1.0, D, dtype=F64)
    start = target + 3.0 * torch.ones(D, dtype=F64) / D**0.5
    walk = SmartRandomWalk(start, WalkConfig(), seed=1)  # defaults: mirrored pairs, z-scored returns, plain SGD
    assert float((walk.centre - target).norm()) == pytest.approx(3.0)
    stats = run(walk, noisy_quadratic(target, noise=0.1, seed=0), 200)
    assert float((walk.centre - target).norm()) < 0.3
    assert stats[-1]["population_mean"] > -0.5 > stats[0]["population_mean"]


def test_seed_variant_minimises_a_quadratic():
    D = 10
    target = torch.linspace(-1.0, 1.0, D, dtype=F64)
    start = target + 3.0 * torch.ones(D, dtype=F64) / D**0.5
    walk = FaithfulRandomWalk(start, WalkConfig(variant="seed", population=16, sigma=0.1, lr=2.0), seed=1)
    run(walk, noisy_quadratic(target, noise=0.0, seed=0), 300)
    assert float((walk.centre - target).norm()) < 0.3


# -- reproducibility ---------------------------------------------------------------------------
def trajectory(seed: int, config: WalkConfig, generations: int = 5) -> list[torch.Tensor]:
    target = torch.ones(8, dtype=F64)
    walk = make_optimiser(config, torch.zeros(8, dtype=F64), seed)
    centres = []
    returns_of = noisy_quadratic(target, noise=0.5, seed=99)
    for _ in range(generations):
        walk.tell(returns_of(walk.ask()))
        centres.append(walk.centre.clone())
    return centres


@pytest.mark.parametrize("variant", ["smart", "seed"])
def test_same_seed_gives_bitwise_same_trajectory(variant):
    config = WalkConfig(population=10, variant=variant)
    a, b = trajectory(7, config), trajectory(7, config)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_different_seeds_give_different_trajectories():
    config = WalkConfig(population=10)
    a, b = trajectory(7, config), trajectory(8, config)
    assert not torch.equal(a[0], b[0])
    assert float((a[-1] - b[-1]).norm()) > 1e-3


def test_perturbations_are_a_function_of_seed_and_generation():
    config = WalkConfig(population=6)
    walk = SmartRandomWalk(torch.zeros(5, dtype=F64), config, seed=4)
    first = walk.perturbations()
    assert torch.equal(first, SmartRandomWalk(torch.ones(5, dtype=F64), config, seed=4).perturbations())
    walk.generation = 1
    assert not torch.equal(first, walk.perturbations())
    walk.generation = 0
    assert torch.equal(first, walk.perturbations())


@pytest.mark.parametrize(
    "config",
    [
        WalkConfig(population=10, sigma_decay=0.9, sigma_min=0.05),  # the defaults' SGD, with a sigma schedule
        WalkConfig(population=10, optimizer="adam", lr=0.05),  # Adam: moments and step count must travel
        WalkConfig(population=10, optimizer="sgd", momentum=0.8, weight_decay=0.01),
        WalkConfig(population=9, variant="seed", lr=0.5),
    ],
    ids=["sgd", "adam", "sgd-momentum", "seed"],
)
def test_load_state_dict_continues_bitwise_like_an_uninterrupted_walk(config):
    target = torch.ones(8, dtype=F64)
    returns_of = noisy_quadratic(target, noise=0.0, seed=0)  # noiseless: returns depend on params only
    uninterrupted = make_optimiser(config, torch.zeros(8, dtype=F64), 2)
    run(uninterrupted, returns_of, 6)

    first = make_optimiser(config, torch.zeros(8, dtype=F64), 2)
    run(first, returns_of, 3)
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in first.state_dict().items()}
    run(first, returns_of, 1)  # the saved state must not follow the walk on
    resumed = make_optimiser(config, torch.full((8,), 5.0, dtype=F64), 123)
    resumed.load_state_dict(state)
    assert resumed.generation == 3 and resumed.seed == 2
    run(resumed, returns_of, 3)

    assert resumed.generation == uninterrupted.generation == 6
    assert resumed.sigma == uninterrupted.sigma
    expected = uninterrupted.state_dict()
    for name, value in resumed.state_dict().items():
        assert torch.equal(value, expected[name]) if torch.is_tensor(value) else value == expected[name], name


@pytest.mark.parametrize("device", DEVICES)
def test_generations_on_a_device_move_the_centre_as_on_the_cpu(device):
    """The walk on ``device`` takes the CPU's steps: its perturbations are drawn on the CPU and
    moved (rlfree.seeding), so the asked rows are the same numbers; only the shaping's sums and
    the estimate's matmul round in another order, which leaves the centres within 1e-12 relative
    in float64 and 1e-5 in float32 after three generations. A resume from the numpy arrays a
    checkpoint holds then continues on the device, bitwise as if never stopped."""
    configs = [WalkConfig(population=10), WalkConfig(population=10, shaping="centred_ranks", optimizer="adam", lr=0.05),
               WalkConfig(population=10, top_directions=3, momentum=0.5), WalkConfig(population=9, variant="seed", lr=0.5)]
    target = torch.linspace(-1.0, 1.0, 8, dtype=F64)
    for config in configs:
        for dtype, rtol in ((F64, 1e-12), (torch.float32, 1e-5)):
            walks = {}
            for where in dict.fromkeys(["cpu", device]):
                returns_of = noisy_quadratic(target, noise=0.5, seed=99)  # a fresh CPU generator per device: the same noise on each
                walk = make_optimiser(config, torch.zeros(8, dtype=dtype, device=where), 5)
                for _ in range(3):
                    params = walk.ask()
                    assert params.device.type == torch.device(where).type and params.dtype == dtype
                    walk.tell(returns_of(params.cpu().to(F64)).to(where, dtype))
                walks[where] = walk
            cpu, other = walks["cpu"], walks[device]
            assert other.centre.device.type == torch.device(device).type
            torch.testing.assert_close(other.centre.cpu(), cpu.centre, rtol=rtol, atol=rtol)
            assert not torch.equal(cpu.centre, torch.zeros(8, dtype=dtype))

            # a checkpoint's round trip: tensors saved as numpy, loaded into a walk on the device
            saved = {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in other.state_dict().items()}
            resumed = make_optimiser(config, torch.zeros(8, dtype=dtype, device=device), 5)
            resumed.load_state_dict({k: torch.from_numpy(v) if hasattr(v, "dtype") else v for k, v in saved.items()})
            assert all(v.device.type == torch.device(device).type for v in resumed.state_dict().values() if torch.is_tensor(v))
            returns = returns_of(other.ask().cpu().to(F64))
            torch.testing.assert_close(resumed.ask(), other.ask(), rtol=0, atol=0)
            other.tell(returns.to(device, dtype))
            resumed.tell(returns.to(device, dtype))
            assert torch.equal(resumed.centre, other.centre)


def test_load_state_dict_rejects_a_state_of_another_shape():
    walk = SmartRandomWalk(torch.zeros(4, dtype=F64), WalkConfig(population=4), 0)
    state = SmartRandomWalk(torch.zeros(5, dtype=F64), WalkConfig(population=4), 0).state_dict()
    with pytest.raises(ValueError, match=r"'centre' has shape \(5,\); this network needs \(4,\)"):
        walk.load_state_dict(state)


def test_tell_without_ask_is_an_error():
    walk = SmartRandomWalk(torch.zeros(4, dtype=F64), WalkConfig(population=4), 0)
    with pytest.raises(RuntimeError, match="without ask"):
        walk.tell(torch.zeros(4, 1, dtype=F64))


# -- the seed-faithful variant -----------------------------------------------------------------
def test_seed_variant_rows_and_step_match_hand_computation():
    D, P, sigma, lr = 7, 5, 0.3, 0.4
    centre = torch.linspace(-1.0, 1.0, D, dtype=F64)
    config = WalkConfig(variant="seed", population=P, sigma=sigma, lr=lr)
    walk = FaithfulRandomWalk(centre, config, seed=11)
    assert walk.rows == P + 1
    eps = walk.perturbations()
    assert eps.shape == (P, D)  # no mirroring in the seed's variant, even with mirrored=True
    params = walk.ask()
    assert params.shape == (P + 1, D)
    assert torch.equal(params[0], centre)
    torch.testing.assert_close(params[1:], centre + sigma * eps, rtol=0, atol=0)

    returns = torch.tensor([[1.0, 3.0], [2.0, 2.0], [0.0, 1.0], [5.0, 5.0], [2.0, 0.0], [4.0, -1.0]], dtype=F64)  # (P+1, E=2)
    stats = walk.tell(returns)
    R = returns.mean(dim=1)  # [2, 2, 0.5, 5, 1, 1.5]
    expected = centre.clone()
    for i in range(P):
        expected += lr * (R[i + 1] - R[0]) * sigma * eps[i] / P
    torch.testing.assert_close(walk.centre, expected, rtol=0, atol=1e-15)
    # the population figures leave the unperturbed centre out
    assert stats["population_mean"] == pytest.approx((2 + 0.5 + 5 + 1 + 1.5) / 5)
    assert stats["population_max"] == 5.0 and stats["population_min"] == 0.5
    assert walk.generation == 1


def test_seed_variant_does_not_move_when_all_returns_equal():
    centre = torch.ones(4, dtype=F64)
    walk = FaithfulRandomWalk(centre, WalkConfig(variant="seed", population=4), 0)
    walk.ask()
    walk.tell(torch.full((5, 3), 7.0, dtype=F64))
    assert torch.equal(walk.centre, centre)


# -- non-finite returns and shaping -------------------------------------------------------------------
def test_nan_returns_are_ranked_last_and_counted():
    D, P, sigma, lr = 5, 4, 0.1, 0.2
    config = WalkConfig(population=P, sigma=sigma, lr=lr, optimizer="sgd", shaping="centred_ranks")  # mirrored
    walk = SmartRandomWalk(torch.zeros(D, dtype=F64), config, seed=0)
    eps = walk.perturbations()
    walk.ask()
    returns = torch.tensor([[1.0], [float("nan")], [3.0], [-2.0]], dtype=F64)
    stats = walk.tell(returns)
    assert stats["nonfinite_returns"] == 1
    # NaN -> below the worst finite return: ranks [2, 0, 3, 1] of 0..3
    shaped = torch.tensor([2.0, 0.0, 3.0, 1.0], dtype=F64) / 3 - 0.5
    expected = lr * ((shaped[:2] - shaped[2:]) @ eps) / (P * sigma)
    torch.testing.assert_close(walk.centre, expected, rtol=1e-14, atol=1e-15)
    assert stats["population_min"] == -3.0  # worst finite (-2) minus 1
    assert all(v == v for v in stats.values())  # no NaN in the figures


@pytest.mark.parametrize("shaping", ["centred_ranks", "zscore", "raw"])
@pytest.mark.parametrize("variant", ["smart", "seed"])
def test_nonfinite_returns_never_reach_the_weights(shaping, variant):
    config = WalkConfig(population=6, shaping=shaping, variant=variant)
    walk = make_optimiser(config, torch.zeros(4, dtype=F64), 0)
    nan, inf = float("nan"), float("inf")
    for returns in ([[1.0], [nan]] + [[0.5]] * (walk.rows - 2), [[inf, 1.0], [-inf, 1.0], [nan, 1.0]] + [[2.0, 1.0]] * (walk.rows - 3),
                    [[inf, -inf]] + [[0.5, 0.5]] * (walk.rows - 1)):
        walk.ask()
        stats = walk.tell(torch.tensor(returns, dtype=F64))
        assert stats["nonfinite_returns"] == sum(1 for r in returns if not all(abs(x) < inf for x in r))
        assert torch.isfinite(walk.centre).all()
        assert all(torch.isfinite(v).all() for v in walk.state_dict().values() if torch.is_tensor(v))


def test_centred_ranks_values():
    torch.testing.assert_close(centred_ranks(torch.tensor([3.0, 1.0, 2.0])), torch.tensor([0.5, -0.5, 0.0]))
    torch.testing.assert_close(
        centred_ranks(torch.tensor([10.0, -4.0, 0.0, 7.0, 1.0])), torch.tensor([0.5, -0.5, -0.25, 0.25, 0.0])
    )
    # tied values share their average rank, so a mirrored pair with equal returns cancels
    torch.testing.assert_close(centred_ranks(torch.tensor([1.0, 1.0, 0.0])), torch.tensor([0.25, 0.25, -0.5]))
    torch.testing.assert_close(
        centred_ranks(torch.tensor([500.0, 9.0, 500.0, 500.0])), torch.tensor([1 / 6, -0.5, 1 / 6, 1 / 6])
    )
    assert centred_ranks(torch.tensor([42.0])).tolist() == [-0.5]
    ranks = centred_ranks(torch.randn(101, generator=torch.Generator().manual_seed(0), dtype=F64))
    assert float(ranks.sum()) == pytest.approx(0.0, abs=1e-12)
    assert float(ranks.min()) == -0.5 and float(ranks.max()) == 0.5


def test_zscore_values():
    torch.testing.assert_close(zscore(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([-1.0, 0.0, 1.0]))
    assert zscore(torch.tensor([4.0, 4.0])).tolist() == [0.0, 0.0]


def test_sigma_decays_to_its_floor():
    config = WalkConfig(population=4, sigma=1.0, sigma_decay=0.5, sigma_min=0.2)
    walk = SmartRandomWalk(torch.zeros(3, dtype=F64), config, 0)
    sigmas = []
    for _ in range(4):
        walk.ask()
        walk.tell(torch.zeros(4, 1, dtype=F64))
        sigmas.append(walk.sigma)
    assert sigmas == [0.5, 0.25, 0.2, 0.2]
    assert dataclasses.asdict(walk.config)["sigma"] == 1.0
