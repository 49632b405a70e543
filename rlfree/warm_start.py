"""``--init-from``: a new run whose first centre is a saved agent's weights, not random ones.

``--resume`` continues a run with everything it had (optimiser state, generation, counters).
``--init-from`` starts a new run, in a new folder with a fresh optimiser, from where another run's
agent stands. That serves fine-tuning: a walk's plateau handed to CMA-ES, a run continued with
a smaller sigma or learning rate, more episodes per member for the last points.

The agent must be of the same env and the same network (hidden units, ticks, activation, inputs
and outputs, action mapping, feed-forward or not, observation normalisation or not); anything
else is refused in one line naming what differs. A normalising agent brings its observation
statistics: the running ones exactly when it is a checkpoint folder (its walk.npz holds them),
else the mean, std and count of its network.json (a std floored to 1 is then taken as measured).
Weight-agnostic agents (``--algo wann``: a per-neuron network and a mask) are refused: their
wiring is the search's result, and a dense optimiser would not keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rlfree.checkpoint import load_checkpoint
from rlfree.config import ConfigError
from rlfree.network import NetworkSpec
from rlfree.obs_norm import Normalizer, RunningStats
from rlfree.policy import Policy


FLAG_NAMES = {"n_hidden": "hidden", "n_inputs": "inputs", "n_outputs": "outputs"}  # network.json's names -> the flags'


@dataclass(frozen=True)
class WarmStart:
    centre: torch.Tensor  # (D,) float64: the agent's W, flattened as the run's policy flattens it
    obs_stats: RunningStats | None  # the agent's observation statistics, for a normalising run


def differences(saved: dict, policy: Policy) -> list[str]:
    """What of network.json ``saved`` is not as this run's ``policy`` has it, one 'name saved (this run: value)' each."""
    own = policy.to_json()
    found = []
    if saved["env_id"].split(":")[-1] != own["env_id"].split(":")[-1]:
        found.append(f"env {saved['env_id']} (this run: {own['env_id']})")
    if saved.get("env_kwargs", {}) != own["env_kwargs"]:
        found.append(f"env_kwargs {saved.get('env_kwargs', {})} (this run: {own['env_kwargs']})")
    try:  # through NetworkSpec, so that an older file's implied defaults compare equal
        network = NetworkSpec(**saved["network"]).to_json()
    except (TypeError, ValueError) as err:
        return [f"a network table that cannot be read ({err})"]
    for name in sorted(set(network) | set(own["network"])):
        if network.get(name) != own["network"].get(name):
            flag = FLAG_NAMES.get(name, name)
            found.append(f"{flag} {network.get(name)} (this run: {own['network'].get(name)})")
    if saved["observation"].get("encoding") != own["observation"]["encoding"]:
        found.append(f"observation encoding {saved['observation'].get('encoding')} (this run: {own['observation']['encoding']})")
    normalises = "normalization" in saved["observation"]
    if normalises != (policy.normalizer is not None):
        found.append(f"normalize_obs {str(normalises).lower()} (this run: {str(policy.normalizer is not None).lower()})")
    mapping = {k: v for k, v in saved.get("action", {}).items() if k in ("box_mapping", "output_range")}
    own_mapping = {k: v for k, v in own["action"].items() if k in mapping}
    if mapping != own_mapping:
        found.append(f"action mapping {mapping} (this run: {own_mapping})")
    return found


def warm_start(path: str | Path, policy: Policy) -> WarmStart:
    """The weights (and observation statistics) of the agent at ``path`` (a run folder -> its best
    checkpoint, or a checkpoint or agent folder), for a run of ``policy``; ConfigError when the
    agent is of another env or network, CheckpointError when it cannot be read."""
    checkpoint = load_checkpoint(path, which="best")
    source = str(checkpoint.path)
    if checkpoint.network["network"].get("activation") == "per_neuron":
        raise ConfigError(f"init_from {source!r} is a weight-agnostic agent (per-neuron activations and a mask): "
                          "--init-from starts dense networks; play it with rlfree watch, or search on with --resume")
    found = differences(checkpoint.network, policy)
    if found:
        raise ConfigError(f"init_from {source!r} is not of this run's env and network: {'; '.join(found)}; "
                          "give the agent's settings, or leave --init-from out")
    try:
        centre = torch.from_numpy(policy.spec.flat(checkpoint.W.astype(np.float64)))
    except ValueError as err:  # a feed-forward W edited by hand
        raise ConfigError(f"init_from {source!r}: its W.npy cannot start this run: {err}") from None
    obs_stats = None
    if policy.normalizer is not None:
        size = policy.spec.n_inputs
        if RunningStats.NAMES[0] in checkpoint.walk:  # a checkpoint: the running statistics themselves
            obs_stats = RunningStats.from_arrays(checkpoint.walk, size)
        else:  # an agent folder: its frozen mean and std, with the count behind them (a floored std stays 1)
            try:
                frozen = Normalizer.from_json(checkpoint.network["observation"]["normalization"], size)
            except (KeyError, TypeError, ValueError) as err:
                raise ConfigError(f"init_from {source!r}: its observation normalization cannot be read: {err}") from None
            count = max(frozen.count, 1)
            obs_stats = RunningStats(np.array(count, dtype=np.int64), frozen.mean.copy(), frozen.std**2 * count)
    return WarmStart(centre, obs_stats)
