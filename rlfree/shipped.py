"""Where the presets (``<env>.toml``) and the shipped agents (``<env>/``) are found.

In a clone they are the repository's ``agents/`` folder; an installed wheel carries the same
files as package data in ``rlfree/agents/``, so ``rlfree train --env Acrobot-v1`` finds its
preset from any folder. ``RLFREE_AGENTS`` points elsewhere (a test, a user's own zoo).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def agents_dir() -> Path:
    """The folder of presets and shipped agents: ``$RLFREE_AGENTS``, the wheel's copy, or the clone's."""
    if os.environ.get("RLFREE_AGENTS"):
        return Path(os.environ["RLFREE_AGENTS"])
    installed = _PACKAGE / "agents"
    return installed if installed.is_dir() else _PACKAGE.parent / "agents"


def preset_path(env_id: str, folder: Path | None = None) -> Path:
    """``<agents>/<id>.toml``, '/' in namespaced ids turned into '-' ('rlfree/CatMouse-v0' -> 'rlfree-CatMouse-v0').

    A ``package:Id`` id keeps only the id: the preset of ``my_pkg:MyEnv-v0`` is ``MyEnv-v0.toml``.
    """
    return (folder or agents_dir()) / f"{env_id.split(':')[-1].replace('/', '-')}.toml"


def shipped_agent_path(env_id: str, folder: Path | None = None) -> Path:
    """The folder of the agent shipped for ``env_id`` (beside its preset, without ``.toml``)."""
    return preset_path(env_id, folder).with_suffix("")
