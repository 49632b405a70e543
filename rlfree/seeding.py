"""Every random number of a run, as a pure function of integers.

Nothing here keeps generator state between calls. A number is rebuilt from the integers that
name it (run seed, generation, purpose, episode seed, draw index), which buys two things:

- **common random numbers**: every member of a population meets the same episodes, because an
  episode's start state and noise depend on its seed and draw index alone, not on which other
  copies share the batch or on how many numbers were drawn before;
- **rebuilding elsewhere**: a worker on another machine (or a resumed run) recreates a
  generation's perturbations and episode seeds from a handful of integers, so only seeds and
  returns need to travel and a checkpoint needs no RNG state.

Two kinds of function: :func:`hash_seed` mixes integers into a seed for torch's CPU generator
(episode seeds, perturbations, initial weights: numbers drawn once per generation, in float64
on the CPU so that every device and dtype sees the same values), and :func:`seeded_uniform`, a
counter-based generator that runs on any device inside a twin's step.
"""

from __future__ import annotations

import torch

# Episode seeds: training draws from [0, 2^30), evaluation from [2^30, 2^31), so an evaluation
# never replays an episode the walk was trained on.
TRAIN_SEED_RANGE = (0, 2**30)
HELDOUT_SEED_RANGE = (2**30, 2**31)
SEED_PURPOSES = {"train": 0, "eval": 1, "check": 2}
PERTURBATION_STREAM = 0x5EED  # hash_seed's third part for perturbations, apart from SEED_PURPOSES
PARENT_STREAM = 0x9A4E  # and for the GA's choice of each child's parent


def hash_seed(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix64 over the parts), stable across runs and machines."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
        x = x * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x >> 1


def episode_seeds(run_seed: int, generation: int, count: int, purpose: str = "train") -> torch.Tensor:
    """``count`` episode seeds, (count,) int64, for a generation.

    ``purpose`` is "train" (the walk's episodes), "eval" (the centre's evaluation) or "check"
    (the target check); only "train" seeds come from the training range.
    """
    low, high = TRAIN_SEED_RANGE if purpose == "train" else HELDOUT_SEED_RANGE
    generator = torch.Generator().manual_seed(hash_seed(run_seed, generation, SEED_PURPOSES[purpose]))
    return torch.randint(low, high, (count,), generator=generator, dtype=torch.int64)


def perturbations(seed: int, generation: int, count: int, dim: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """eps: (count, dim) standard normal, the walk's perturbations of one generation.

    Drawn in float64 on the CPU and then moved, so the same numbers reach every device and dtype.
    """
    generator = torch.Generator().manual_seed(hash_seed(seed, generation, PERTURBATION_STREAM))
    eps = torch.randn(count, dim, generator=generator, dtype=torch.float64)
    return eps.to(device, dtype)


def parent_choices(seed: int, generation: int, count: int, parents: int) -> torch.Tensor:
    """(count,) int64 in [0, parents): which of the GA's parents each of a generation's children copies."""
    generator = torch.Generator().manual_seed(hash_seed(seed, generation, PARENT_STREAM))
    return torch.randint(0, parents, (count,), generator=generator, dtype=torch.int64)


def weights_generator(seed: int) -> torch.Generator:
    """The CPU generator that draws a network's initial weights for a run seeded ``seed``."""
    return torch.Generator().manual_seed(seed)


# Counter-based random numbers: a twin's randomness must depend on (seed, draw index) only, not
# on which other copies share the batch, so that every member of a population meets the same
# episode. A stateful generator cannot give that; a hash of (seed, index) can, on any device.
_MASK32 = 0xFFFFFFFF


def _pcg_hash(x: torch.Tensor) -> torch.Tensor:
    """PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano 2020) on int64 tensors holding uint32."""
    state = (x * 747796405 + 2891336453) & _MASK32
    word = ((torch.bitwise_right_shift(state, (state >> 28) + 4) ^ state) * 277803737) & _MASK32
    return ((word >> 22) ^ word) & _MASK32


def seeded_uniform(
    seeds: torch.Tensor,
    count: int,
    stream: int = 0,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform [0, 1) numbers that depend only on (seed, stream, index).

    seeds: (N,) int64 -> (N, count) of ``dtype`` on the seeds' device. Use a different
    ``stream`` for each kind of draw (start state, the t-th step's noise, ...).
    """
    seeds = seeds.to(torch.int64)
    key = _pcg_hash((seeds & _MASK32) ^ _pcg_hash(seeds >> 32) ^ _pcg_hash(torch.tensor(stream, device=seeds.device) & _MASK32))
    index = torch.arange(count, device=seeds.device, dtype=torch.int64)
    bits = _pcg_hash(_pcg_hash(key[:, None] ^ index) + key[:, None])
    # 32 random bits -> [0, 1); float64 first so float32 rounding cannot reach 1.0
    u = bits.to(torch.float64) * (1.0 / 4294967296.0)
    return u.clamp_(max=1.0 - 2.0**-24).to(dtype)
