"""Which gymnasium ids have a batched tensor twin, and the built-in envs registered on first use.

The twins of the built-in tasks (:data:`rlfree.envs.TWINS`) and the ``rlfree/`` cat-and-mouse
ids are registered the first time an id is resolved here, not when ``rlfree`` is imported:
importing :mod:`rlfree.walk` or :mod:`rlfree.network` alone touches no environment. A user's
own twin is one call, ``register_twin("MyEnv-v0", MyTwin)``.
"""

from __future__ import annotations

import importlib
from typing import Callable

import torch

from rlfree.batched import BatchedEnv
from rlfree.config import ConfigError

TwinFactory = Callable[..., BatchedEnv]
_TWINS: dict[str, TwinFactory | str] = {}  # id -> twin class, or "module:Class" imported on first use
_builtin_registered = False


def register_builtin_envs() -> None:
    """Register rlfree's own gymnasium ids and twins (once; a user's twin for the same id wins)."""
    global _builtin_registered
    if _builtin_registered:
        return
    from rlfree.envs import TWINS  # importing rlfree.envs registers its gymnasium ids

    for env_id, entry_point in TWINS.items():
        _TWINS.setdefault(env_id, entry_point)
    _builtin_registered = True


def register_twin(env_id: str, entry_point: TwinFactory | str) -> None:
    """Make ``entry_point(num_envs=..., device=..., dtype=...)`` the twin of ``env_id``.

    ``entry_point`` is a class or callable, or a ``"module:attribute"`` string imported lazily.
    Registering an id again replaces the earlier twin.
    """
    register_builtin_envs()
    _TWINS[env_id] = entry_point


def registered_twins() -> list[str]:
    """The gymnasium ids that have a twin, sorted."""
    register_builtin_envs()
    return sorted(_TWINS)


def twin_factory(env_id: str) -> TwinFactory | None:
    """The twin factory registered for ``env_id``, or None when there is none."""
    register_builtin_envs()
    entry = _TWINS.get(env_id)
    if isinstance(entry, str):
        module_name, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module_name), attribute)
        _TWINS[env_id] = entry
    return entry


def make_twin(env_id: str, num_envs: int, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, **kwargs) -> BatchedEnv:
    """Build the twin of ``env_id`` with ``num_envs`` copies; ConfigError if none is registered."""
    factory = twin_factory(env_id)
    if factory is None:
        raise ConfigError(f"env id {env_id!r} has no batched twin; twins exist for: {', '.join(registered_twins())}")
    return factory(num_envs=num_envs, device=device, dtype=dtype, **kwargs)
