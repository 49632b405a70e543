"""The memory check on a CUDA device: the perturbations' float64 draw and gymnasium's copies stay
in this machine's memory, the rest is on the GPU, and each part is checked against its own memory.

No GPU is needed: the memories are given (``device_memory`` patched), as test_nonfinite does for the CPU.
"""

import gymnasium as gym
import pytest
import torch

from rlfree.config import Config, ConfigError, NetworkConfig
from rlfree.memory import check_memory, generation_bytes, host_bytes
from rlfree.policy import Policy

GIB = 2**30
CUDA = torch.device("cuda")


def cartpole_spec():
    return Policy.from_config("CartPole-v1", gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), NetworkConfig(hidden=4)).spec


def memories(gpu: int, host: int):
    """device_memory for a machine with ``gpu`` bytes on its GPU and ``host`` in RAM."""
    return lambda device: (gpu, f"the memory of {device}") if device.type == "cuda" else (host, "this machine's memory")


def parts(spec, population: int, copy_bytes: int = 0) -> tuple[int, int]:
    """(GPU bytes, host bytes) of a default-config generation of ``population`` (mirrored; 100 evaluation rows, 1 episode)."""
    rows, perturbations = population + 100, population // 2
    host = host_bytes(spec, perturbations, rows, copy_bytes)
    return generation_bytes(spec, rows, perturbations, 1, 4, copy_bytes) - host, host


def test_host_bytes_are_the_float64_draw_and_the_env_copies():
    spec = cartpole_spec()  # D = 66
    assert host_bytes(spec, perturbations=64, copies=260, copy_bytes=100) == 66 * 64 * 8 + 260 * 100


def test_a_generation_that_fits_the_gpu_only_apart_from_its_host_part_is_accepted(monkeypatch):
    spec = cartpole_spec()
    config = Config()
    config.walk.population = 2**24
    gpu, host = parts(spec, config.walk.population)
    # the whole generation is more than the GPU holds, but its GPU part fits and the draw fits in RAM
    monkeypatch.setattr("rlfree.memory.device_memory", memories(gpu, host))
    check_memory(config, spec, CUDA, torch.float32, 0)
    monkeypatch.setattr("rlfree.memory.device_memory", memories(gpu, gpu))
    with pytest.raises(ConfigError):  # on the CPU that memory holds the whole generation, which does not fit
        check_memory(config, spec, torch.device("cpu"), torch.float32, 0)


@pytest.mark.parametrize("short", ["gpu", "host"])
def test_the_memory_that_is_short_is_named_with_the_bytes_it_lacks_and_the_population_that_fits(monkeypatch, short):
    spec = cartpole_spec()
    config = Config()
    config.walk.population = 2**30
    gpu, host = parts(spec, config.walk.population, copy_bytes=4096)
    monkeypatch.setattr("rlfree.memory.device_memory", memories(GIB if short == "gpu" else 2 * gpu, GIB if short == "host" else 2 * host))
    with pytest.raises(ConfigError) as error:
        check_memory(config, spec, CUDA, torch.float32, 4096)
    message = str(error.value)
    part, where = (0, "the memory of cuda") if short == "gpu" else (1, "this machine's memory")
    assert f"needs about {(gpu, host)[part] / GIB:,.1f} GiB per generation, more than the 1.0 GiB of {where}" in message
    largest = int(message.split("at most --population ")[1].split()[0].replace(",", ""))
    assert parts(spec, largest, 4096)[part] <= GIB < parts(spec, largest + 2, 4096)[part]
    config.walk.population = largest
    check_memory(config, spec, CUDA, torch.float32, 4096)  # what it names fits


def test_a_weight_agnostic_run_is_checked_for_its_tuning_episodes_too(monkeypatch):
    spec = cartpole_spec()
    config = Config()
    config.algo.algo, config.walk.population = "wann", 64  # the search: 64 genomes x 6 shared weights, 1 episode
    monkeypatch.setattr("rlfree.memory.device_memory", lambda device: (GIB, "this machine's memory"))
    check_memory(config, spec, torch.device("cpu"), torch.float32, 0)
    config.algo.wann_tune_episodes = 2**22  # the tuning walk's 64 rows would play millions of episodes each
    with pytest.raises(ConfigError) as error:
        check_memory(config, spec, torch.device("cpu"), torch.float32, 0)
    assert str(error.value).startswith("tuning the wiring (--wann-tune-episodes 4194304): population=64 x episodes=4194304")
