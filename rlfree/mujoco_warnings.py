"""MuJoCo's warnings, each shown once per process.

MuJoCo prints a warning every time it compiles a model that uses something it has deprecated;
gymnasium's HalfCheetah-v5 model does (``settotalmass`` in MuJoCo 3.3 and later), and a run
makes a copy of the env for every member and every evaluation episode: 64 members and a
100-episode target check printed 239 identical lines in a run's first minute. Once each is
enough: the first time a process sees a warning text, it goes to stderr; repeats are dropped.
"""

from __future__ import annotations

import sys

import gymnasium as gym

_seen: set[str] = set()
_installed = False


def is_mujoco_env(env_id: str) -> bool:
    """Whether ``env_id`` is one of gymnasium's MuJoCo envs (its entry point is in gymnasium.envs.mujoco)."""
    try:
        entry_point = gym.spec(env_id).entry_point
    except gym.error.Error:  # not registered: gym.make says so in its own words
        return False
    return isinstance(entry_point, str) and entry_point.startswith("gymnasium.envs.mujoco")


def show_once(message: str) -> None:
    if message not in _seen:
        _seen.add(message)
        print(f"MuJoCo warning (shown once): {message}", file=sys.stderr, flush=True)


def install() -> None:
    """Route MuJoCo's warnings through :func:`show_once` in this process (idempotent); nothing when MuJoCo is not installed."""
    global _installed
    if _installed:
        return
    try:
        import mujoco
    except ImportError:  # gym.make then reports the missing extra
        return
    mujoco.set_mju_user_warning(show_once)
    _installed = True
