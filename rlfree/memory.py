"""What one generation needs in memory, checked before anything large is allocated.

A population of ``--population 1099511627776`` or a network of ``--hidden 1000000`` would
otherwise end in an allocator's traceback after the run folder was made; :func:`check_memory`
refuses it in one line that names the figure and the largest population that fits.

On a CUDA device a generation's bytes are split between two memories: the perturbations are
drawn in float64 on the CPU (:mod:`rlfree.seeding`) and gymnasium's copies are Python objects, so
those stay in this machine's memory (:func:`host_bytes`) while the rest lives on the GPU; each
part is checked against its own memory.
"""

from __future__ import annotations

import copy
import math
import os

import torch

from rlfree.config import Config, ConfigError
from rlfree.network import NetworkSpec
from rlfree.optimiser import generation_size, population_flag

GYM_COPY_BYTES = 4 * 1024  # one gym.make copy of CartPole-v1 or Pendulum-v1, measured; MuJoCo's are larger


def generation_bytes(spec: NetworkSpec, rows: int, perturbations: int, episodes: int, dtype_bytes: int, copy_bytes: int = 0) -> int:
    """Roughly the memory one generation holds at its peak, in bytes (temporaries left out)::

        D * (3 * rows * dtype_bytes + perturbations * (8 + dtype_bytes))
        + rows * episodes * ((ticks + 2) * A + 2 * I) * dtype_bytes
        + rows * episodes * copy_bytes

    with D = A * K the weights of a member (A activations, K = 1 + I + A columns, I inputs).
    The first line is the asked rows, the batch with the evaluation rows and the network's
    transposed copy of W (3 x rows x D), and the perturbations, drawn in float64 and kept until
    tell(); the second each copy's activations over the ticks of a step and its observation,
    raw and encoded; the third the env copies (gymnasium objects on the gym backend; a twin's
    state is a few floats, counted with the observation).
    """
    A, I, D = spec.n_activations, spec.n_inputs, spec.n_params
    copies = rows * episodes
    return D * (3 * rows * dtype_bytes + perturbations * (8 + dtype_bytes)) + copies * (((spec.ticks + 2) * A + 2 * I) * dtype_bytes + copy_bytes)


def host_bytes(spec: NetworkSpec, perturbations: int, copies: int, copy_bytes: int = 0) -> int:
    """The part of :func:`generation_bytes` held in this machine's memory whatever the device:
    the perturbations' float64 draw, ``D * perturbations * 8``, and ``copies`` env copies."""
    return spec.n_params * perturbations * 8 + copies * copy_bytes


def device_memory(device: torch.device) -> tuple[int, str] | None:
    """(bytes, what they are) the run's tensors can use: the GPU's memory on CUDA, else this
    machine's RAM; None where the platform does not say."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory, f"the memory of {device}"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's memory"
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(config: Config, spec: NetworkSpec, device: torch.device, dtype: torch.dtype, copy_bytes: int) -> None:
    """ConfigError, before anything large is allocated, when a generation would need more memory
    than the device has (:func:`generation_bytes`; on CUDA, its :func:`host_bytes` are checked
    against this machine's memory and the rest against the GPU's); the message names the largest
    population that fits. A weight-agnostic run with its own tuning episodes is checked for its
    tuning generations too: its tuner's rows, each playing ``wann_tune_episodes``."""
    algo = config.algo
    if algo.algo == "wann" and algo.wann_tune_episodes:
        tuning = copy.deepcopy(config)
        tuning.algo.algo, tuning.run.episodes = algo.wann_tuner, algo.wann_tune_episodes
        _check_generation(tuning, spec, device, dtype, copy_bytes, f"tuning the wiring (--wann-tune-episodes {algo.wann_tune_episodes}): ")
    _check_generation(config, spec, device, dtype, copy_bytes, "")


def _check_generation(config: Config, spec: NetworkSpec, device: torch.device, dtype: torch.dtype, copy_bytes: int, phase: str) -> None:
    run = config.run
    eval_rows = math.ceil(run.eval_episodes / run.episodes)
    split = device.type == "cuda"
    memories = {"device": device_memory(device), **({"host": device_memory(torch.device("cpu"))} if split else {})}
    memories = {part: memory for part, memory in memories.items() if memory is not None}  # part -> (bytes, what they are)
    # full CMA-ES keeps C, its eigenbasis and a product of the same size in float64, on the CPU
    covariance = 3 * 8 * spec.n_params**2 if config.algo.algo == "cmaes" and config.algo.cmaes_covariance == "full" else 0

    def needs(population: int, part: str) -> int:
        rows, perturbations = generation_size(config, spec.n_params, population)
        rows += eval_rows
        total = generation_bytes(spec, rows, perturbations, run.episodes, dtype.itemsize, copy_bytes) + covariance
        if not split:
            return total
        host = host_bytes(spec, perturbations, rows * run.episodes, copy_bytes) + covariance
        return host if part == "host" else total - host

    def fits(population: int) -> bool:
        return all(needs(population, part) <= limit for part, (limit, _) in memories.items())

    population = generation_size(config, spec.n_params)[0] if config.algo.algo != "walk" else config.walk.population
    if fits(population):
        return
    flag = population_flag(config)
    part = next(part for part, (limit, _) in memories.items() if needs(population, part) > limit)
    limit, where = memories[part]
    if covariance and covariance > limit:
        raise ConfigError(f"full CMA-ES on a network of {spec.n_params:,} weights keeps about {covariance / 2**30:,.1f} GiB of covariance, "
                          f"more than the {limit / 2**30:,.1f} GiB of {where}: use --cmaes-covariance diagonal (linear in the weights)")
    low, high = 0, population  # the largest population that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    mirrored = config.algo.algo == "walk" and config.walk.variant == "smart" and config.walk.mirrored
    largest = low - low % 2 if mirrored else low
    hint = f"at most {flag} {largest:,} fits with these settings" if largest >= 2 else "use a smaller --hidden (or --episodes, --eval-episodes)"
    raise ConfigError(
        f"{phase}{flag.lstrip('-').replace('-', '_')}={population:,} x episodes={run.episodes} of a network of {spec.n_params:,} weights needs about "
        f"{needs(population, part) / 2**30:,.1f} GiB per generation, more than the {limit / 2**30:,.1f} GiB of {where}: {hint}"
    )
