"""Run configuration: one dataclass per concern, TOML presets and command-line overrides.

Every field has the same name in the dataclass, on the command line (``--eval-freq``) and in a
TOML preset (``eval_freq`` under its section ``[run]``), and its comment becomes ``--help``.
Values are resolved as: dataclass defaults < preset (``--config``, or ``agents/<env>.toml``
when one exists) < flags given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names it and what is accepted."""


def _f(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class EnvConfig:
    env: str = _f("CartPole-v1", "gymnasium id to train on; 'package:Id-v0' imports package first")
    backend: str = _f("auto", "auto: the batched twin when one exists, else gymnasium; torch: twin; gym: gymnasium vector env")
    vectorization: str = _f("sync", "how the gym backend runs its copies: sync (in this process) or async (in worker processes)")
    workers: int = _f(0, "worker processes of --vectorization async (0: one per CPU core)")
    device: str = _f("cpu", "torch device for the network and twins: cpu, cuda, cuda:1, ...")
    dtype: str = _f("float32", "float32 or float64 for the network and twins")
    threads: int = _f(1, "torch CPU threads; 1 is fastest for populations of small networks (0: torch's default)")


@dataclass
class NetworkConfig:
    hidden: int = _f(4, "hidden activations (recurrent state) beside the outputs")
    ticks: int = _f(2, "applications of W per environment step")
    activation: str = _f("tanh", "tanh, relu, sigmoid, identity, softsign or elu")
    obs_encoding: str = _f("auto", "auto, flat, onehot (Discrete) or bins:K (each Box dimension in K one-hot bins)")
    softmax_output: bool = _f(False, "softmax over the outputs (the seed's net_add_softmax)")
    sequence_output: bool = _f(False, "average the outputs of every tick (the seed's sequence_output)")
    init_scale: float = _f(0.5, "std of the initial weights, divided by sqrt(1 + inputs + activations)")


@dataclass
class WalkConfig:
    """Defaults: the combination measured to solve CartPole-v1 fastest (README, scripts/bench.py)."""

    population: int = _f(128, "perturbed copies of the weights evaluated per generation")
    sigma: float = _f(0.2, "std of the weight perturbations")
    lr: float = _f(0.1, "step size of the optimiser on the estimated gradient")
    variant: str = _f("smart", "smart: mirrored pairs, shaped fitness, an optimiser step; seed: the seed's forward difference and plain average")
    mirrored: bool = _f(True, "evaluate each perturbation and its negation (antithetic pairs)")
    shaping: str = _f("zscore", "fitness shaping: zscore (as ARS), centred_ranks or raw")
    optimizer: str = _f("sgd", "sgd or adam")
    momentum: float = _f(0.0, "momentum of sgd")
    weight_decay: float = _f(0.0, "L2 pull of the weights toward 0, per step")
    sigma_decay: float = _f(1.0, "sigma is multiplied by this after every generation")
    sigma_min: float = _f(0.0, "sigma never decays below this")


@dataclass
class RunConfig:
    seed: int = _f(0, "seed of perturbations, episode seeds and initial weights")
    generations: int = _f(1000, "stop after this many generations")
    episodes: int = _f(1, "episodes per member per generation (the same seeds for every member)")
    horizon: int = _f(0, "cut the walk's episodes and the centre's evaluations after this many steps (0: the env's time limit); target checks play whole episodes")
    eval_freq: int = _f(1, "evaluate the centre every this many generations")
    eval_episodes: int = _f(100, "episodes of the centre's evaluation, on seeds never used in training")
    target: float | None = _f(None, "stop when the centre's evaluation reaches this (default: the env's reward_threshold)")
    save_freq: int = _f(10, "write checkpoints/latest every this many generations")
    exp_name: str = _f("rlfree", "experiment name, part of the run folder's name")
    logdir: str = _f("runs", "where run folders are made")
    progress: bool = _f(False, "print a line for every generation even when not at a terminal")


SECTIONS: dict[str, type] = {"env": EnvConfig, "network": NetworkConfig, "walk": WalkConfig, "run": RunConfig}
SHORT_FLAGS = {"generations": "-n", "progress": "-P"}


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    walk: WalkConfig = field(default_factory=WalkConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTIONS}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "Config":
        config = cls()
        config.update(data, source)
        return config

    def update(self, data: dict[str, Any], source: str) -> None:
        """Set values from a {section: {field: value}} mapping; unknown names are errors."""
        for section, values in data.items():
            if section not in SECTIONS:
                raise ConfigError(f"{source}: unknown section [{section}]; accepted: {', '.join(SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{section}] must be a table of settings")
            target = getattr(self, section)
            names = [f.name for f in dataclasses.fields(target)]
            for name, value in values.items():
                if name not in names:
                    close = difflib.get_close_matches(name, names, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else f"; accepted: {', '.join(names)}"
                    raise ConfigError(f"{source}: unknown setting {name!r} in [{section}]{hint}")
                setattr(target, name, value)

    def validate(self) -> None:
        """Raise ConfigError naming the first impossible value."""
        e, n, w, r = self.env, self.network, self.walk, self.run
        checks = [
            (e.backend in ("auto", "torch", "gym"), f"backend {e.backend!r} is not accepted; use auto, torch or gym"),
            (e.vectorization in ("sync", "async"), f"vectorization {e.vectorization!r} is not accepted; use sync or async"),
            (e.dtype in ("float32", "float64"), f"dtype {e.dtype!r} is not accepted; use float32 or float64"),
            (e.workers >= 0, f"workers={e.workers} is not accepted: use 0 (one per CPU core) or more"),
            (e.threads >= 0, f"threads={e.threads} is not accepted: use 0 (torch's default) or more"),
            (n.hidden >= 0, f"hidden={n.hidden} is not accepted: use 0 or more"),
            (n.ticks >= 1, f"ticks={n.ticks} is not accepted: use 1 or more"),
            (n.init_scale >= 0, f"init_scale={n.init_scale} is not accepted: use 0 or more"),
            (w.population >= 2, f"population={w.population} is not accepted: use 2 or more"),
            (not (w.mirrored and w.variant == "smart") or w.population % 2 == 0,
             f"population={w.population} is not accepted with mirrored pairs: use an even number, or --no-mirrored"),
            (w.sigma > 0, f"sigma={w.sigma} is not accepted: use a value > 0"),
            (w.lr > 0, f"lr={w.lr} is not accepted: use a value > 0"),
            (w.variant in ("smart", "seed"), f"variant {w.variant!r} is not accepted; use smart or seed"),
            (w.shaping in ("centred_ranks", "zscore", "raw"), f"shaping {w.shaping!r} is not accepted; use centred_ranks, zscore or raw"),
            (w.optimizer in ("adam", "sgd"), f"optimizer {w.optimizer!r} is not accepted; use adam or sgd"),
            (0 <= w.momentum < 1, f"momentum={w.momentum} is not accepted: use 0 <= momentum < 1"),
            (w.weight_decay >= 0, f"weight_decay={w.weight_decay} is not accepted: use 0 or more"),
            (0 < w.sigma_decay <= 1, f"sigma_decay={w.sigma_decay} is not accepted: use 0 < sigma_decay <= 1"),
            (w.sigma_min >= 0, f"sigma_min={w.sigma_min} is not accepted: use 0 or more"),
            (r.generations >= 1, f"generations={r.generations} is not accepted: use 1 or more"),
            (r.episodes >= 1, f"episodes={r.episodes} is not accepted: use 1 or more"),
            (r.horizon >= 0, f"horizon={r.horizon} is not accepted: use 0 (the env's time limit) or more steps"),
            (r.eval_freq >= 1, f"eval_freq={r.eval_freq} is not accepted: use 1 or more"),
            (r.eval_episodes >= 1, f"eval_episodes={r.eval_episodes} is not accepted: use 1 or more"),
            (r.save_freq >= 1, f"save_freq={r.save_freq} is not accepted: use 1 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        check_device(e.device)


def available_devices() -> list[str]:
    import torch

    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def check_device(name: str) -> None:
    """ConfigError unless torch can use the device ``name`` on this machine."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {name!r} is not a torch device; available here: {', '.join(available_devices())}") from None
    usable = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }.get(device.type, False)
    if not usable:
        raise ConfigError(f"device {name!r} is not available on this machine; available here: {', '.join(available_devices())}")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML preset; ConfigError for a missing or malformed file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None


def to_toml(data: dict[str, dict[str, Any]]) -> str:
    """The {section: {field: value}} mapping as TOML (None values are left out)."""
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, (int, float)):
                text = repr(value)
            else:
                text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{name} = {text}")
        lines.append("")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, default None so that only given flags override."""
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(section)
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            names = [SHORT_FLAGS[f.name], flag] if f.name in SHORT_FLAGS else [flag]
            default = f.default
            help_text = f.metadata["help"] + ("" if default is None else f" (default: {default})")
            if isinstance(default, bool):
                group.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                kind = float if f.type in ("float", "float | None") else int if f.type == "int" else str
                group.add_argument(*names, dest=f.name, type=kind, default=None, metavar=f.name.upper(), help=help_text)


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The flags actually given, as {section: {field: value}}."""
    data: dict[str, dict[str, Any]] = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            value = getattr(args, f.name, None)
            if value is not None:
                data.setdefault(section, {})[f.name] = value
    return data
