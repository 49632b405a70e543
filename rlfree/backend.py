"""From a gymnasium id to a batched environment: id checks and the choice of backend.

``auto`` picks the id's tensor twin when one is registered (:mod:`rlfree.registry`) and
gymnasium's vector env otherwise, and always gymnasium when ``env_kwargs`` are given (a twin
builds its task itself and takes no ``gym.make`` arguments); ``torch`` and ``gym`` force one.
An id of the form ``package:Env-v0`` imports ``package`` first, so environments registered by
a user's own package need no change to rlfree. Only an id the user typed may import: an id read
from a file (a checkpoint's network.json or state.json) imports nothing unless the user allowed
that package (``--import PACKAGE``), so a shared checkpoint runs no code.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Collection

import gymnasium as gym
import torch

from rlfree.batched import BatchedEnv
from rlfree.registry import make_twin, register_builtin_envs, registered_twins, twin_factory
from rlfree.config import ConfigError, EnvConfig, check_twin_kwargs
from rlfree.errors import UserError
from rlfree.vector import GymVectorEnv

BACKENDS = ("auto", "torch", "gym")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class UnknownEnvError(UserError, ValueError):
    """An environment id that gymnasium does not know; the message lists close matches."""


class ImportNotAllowed(UserError, ValueError):
    """An env id read from a file names a package the user has not allowed to be imported."""


def resolve_env_id(env_id: str, allow_import: bool | Collection[str] = True, *, source: str | None = None) -> str:
    """Import the id's package if it names one, check gymnasium knows it, return the bare id.

    allow_import: True when the user typed ``env_id`` (``--env my_pkg:MyEnv-v0``); for an id
    read from ``source`` (a file), the packages the user allowed (``--import my_pkg``): any
    other package not imported yet is an ImportNotAllowed naming it, and is never imported.
    """
    register_builtin_envs()
    module_name, sep, bare_id = env_id.partition(":")
    if sep:
        if not all(part.isidentifier() for part in module_name.split(".")):
            # a relative name ('.', '..os', '../x') or a path: import_module would raise TypeError
            raise UnknownEnvError(
                f"env {env_id!r}: {module_name!r} is not a package name; use package:Env-v0 with an importable name (my_pkg, my_pkg.envs)"
            )
        allowed = allow_import is True or module_name in sys.modules or (allow_import is not False and module_name in allow_import)
        if not allowed:
            where = f" (read from {source})" if source else ""
            raise ImportNotAllowed(
                f"env {env_id!r}{where} needs package {module_name!r} imported, and rlfree imports only packages you name; "
                f"if you trust it, add --import {module_name}"
            )
        try:
            importlib.import_module(module_name)
        except ImportError as err:
            raise UnknownEnvError(f"env {env_id!r}: could not import module {module_name!r} ({err})") from None
    else:
        bare_id = env_id
    if bare_id not in gym.registry:
        close = difflib.get_close_matches(bare_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see gymnasium.pprint_registry() for the ids"
        raise UnknownEnvError(f"unknown env id {bare_id!r}{hint}")
    return bare_id


def choose_backend(env_id: str, backend: str, env_kwargs: dict | None = None) -> str:
    """'torch' or 'gym' for this id; ConfigError when a twin is forced but none exists or
    ``env_kwargs`` (``gym.make`` arguments) are given, which a twin cannot take."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is not accepted; use one of {', '.join(BACKENDS)}")
    check_twin_kwargs(backend, env_kwargs)
    if env_kwargs:
        return "gym"
    has_twin = twin_factory(env_id) is not None
    if backend == "torch" and not has_twin:
        raise ConfigError(
            f"backend 'torch' needs a twin, and {env_id!r} has none; twins exist for: {', '.join(registered_twins())} "
            "(use --backend gym)"
        )
    if backend == "auto":
        return "torch" if has_twin else "gym"
    return backend


def check_vectorization(backend: str, vectorization: str, workers: int = 0) -> None:
    """ConfigError for a vectorization other than sync on the twin backend (a twin steps every
    copy as one batch in this process, so worker processes would do nothing), and for workers
    given without the async vectorization, the only one that starts them."""
    if backend == "torch" and vectorization != "sync":
        raise ConfigError(
            f"vectorization {vectorization!r} is not accepted on the twin backend (torch), which steps all copies as one batch "
            f"in this process; use --vectorization sync, or --backend gym to run gymnasium's copies {vectorization}"
        )
    if workers and vectorization != "async":
        raise ConfigError(
            f"workers={workers} is not accepted with vectorization {vectorization!r}, which starts no worker processes; "
            f"add --vectorization async{'' if backend == 'gym' else ' --backend gym'}, or leave --workers out"
        )


def torch_settings(env: EnvConfig) -> tuple[torch.device, torch.dtype]:
    """A run's (device, dtype); sets torch's CPU threads when ``env.threads`` names a number."""
    if env.threads:
        # Process-wide. Each op here is small: with a second thread every op pays for a
        # hand-off, and when the other core is busy a ~5 s check took 0.2 s with one thread.
        torch.set_num_threads(env.threads)
    return torch.device(env.device), DTYPES[env.dtype]


def make_batched_env(
    env_id: str,
    num_envs: int,
    backend: str,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    vectorization: str = "sync",
    workers: int = 0,
    env_kwargs: dict | None = None,
) -> BatchedEnv:
    """``num_envs`` copies of ``env_id`` on the chosen backend ('torch' or 'gym'); ``env_kwargs``
    go to every ``gym.make`` (ConfigError with 'torch')."""
    if backend == "torch":
        check_twin_kwargs(backend, env_kwargs)
        return make_twin(env_id, num_envs, device=device, dtype=dtype)
    return GymVectorEnv(env_id, num_envs, vectorization=vectorization, device=device, dtype=dtype, workers=workers, env_kwargs=env_kwargs)
