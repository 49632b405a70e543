"""The ranges ``rlfree tune`` searches, written like a preset, and their sampling by an Optuna trial.

A search space names config fields the way a preset does (``[walk] sigma``), and gives each a

- **range**, a table ``{ low = 0.02, high = 1.0, log = true }`` (``step = 2`` for a grid; whole
  numbers for an int field such as ``hidden``);
- **choice**, an array ``["tanh", "relu"]`` (also of numbers: ``[16, 32, 64]``);
- **fixed value**, a plain value ``lr = 0.1``: set in every trial, not searched.

:data:`DEFAULT_SPACE` is searched unless a space file (``rlfree tune --space FILE``) replaces
some of its entries; ``rlfree tune --print-space`` writes it out as such a file to start from.
A key of the file replaces the default's key of the same name and leaves the others.

The optimiser is a choice too (``[algo] algo``), and the space is conditional on it: the walk's
settings (:data:`rlfree.optimiser.WALK_ONLY`) are sampled only in trials of the walk, ``ga_*`` only
in the GA's and ``cmaes_*`` only in CMA-ES's, as ``rlfree train`` refuses another optimiser's
settings.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any

from rlfree.config import SECTIONS, Config, ConfigError, field_choices, load_toml, shown_value, toml_value, typed_value
from rlfree.optimiser import ALGOS, WALK_ONLY

# The default ranges: wide enough for the classic-control tasks the presets solve (their hand-tuned
# values lie inside), narrow enough that 10 random trials find a CartPole-v1 solver. Populations are
# choices, not a log range, because mirrored pairs need an even number.
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "algo": {
        # the weight optimisers; wann searches wirings of a network family of its own (per-neuron
        # activations, its own search and tuning settings), so a space file names it to include it
        "algo": [algo for algo in ALGOS if algo != "wann"],
        "ga_population": [16, 32, 64, 128, 256],
        "ga_sigma": {"low": 0.01, "high": 1.0, "log": True},
        "ga_parents": {"low": 1, "high": 8},
        "cmaes_population": [0, 16, 32, 64, 128],
        "cmaes_sigma": {"low": 0.05, "high": 2.0, "log": True},
        "cmaes_covariance": ["full", "diagonal"],
    },
    "walk": {
        "population": [16, 32, 64, 128, 256, 512],
        "sigma": {"low": 0.02, "high": 1.0, "log": True},
        "lr": {"low": 0.005, "high": 1.0, "log": True},
        "shaping": ["zscore", "centred_ranks"],
        "optimizer": ["sgd", "adam"],
    },
    "network": {
        "hidden": {"low": 0, "high": 8},
        "ticks": {"low": 1, "high": 3},
        "activation": ["tanh", "relu", "elu", "softsign"],
    },
    "run": {
        "episodes": {"low": 1, "high": 8, "log": True},
    },
}


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    step: float | None = None
    whole: bool = False  # an int field: suggest_int


@dataclass(frozen=True)
class Choice:
    values: tuple


@dataclass(frozen=True)
class Fixed:
    value: Any


Entry = Range | Choice | Fixed


def owner(key: str) -> str | None:
    """The optimiser whose trials sample ``key`` ('walk.sigma' -> 'walk', 'algo.ga_sigma' -> 'ga'); None: every trial."""
    section, name = key.split(".")
    if section == "walk" and name in WALK_ONLY:
        return "walk"
    if section == "algo" and name != "algo":
        return name.split("_")[0]
    return None


class SearchSpace:
    """{'section.name': Range | Choice | Fixed}, checked against the config's fields."""

    def __init__(self, entries: dict[str, Entry]):
        self.entries = entries

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str, base: "SearchSpace | None" = None) -> "SearchSpace":
        """The space of a preset-like mapping, each key replacing ``base``'s of the same name;
        ConfigError naming the first key or value that cannot be searched."""
        entries = dict(base.entries) if base else {}
        fields = {section: {f.name: f for f in dataclasses.fields(cls_)} for section, cls_ in SECTIONS.items()}
        for section, values in data.items():
            if section not in fields:
                raise ConfigError(f"{source}: unknown section [{section}]; accepted: {', '.join(fields)}")
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{section}] must be a table of ranges")
            for name, value in values.items():
                if name not in fields[section]:
                    close = difflib.get_close_matches(name, fields[section], n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else f"; accepted: {', '.join(fields[section])}"
                    raise ConfigError(f"{source}: unknown setting {name!r} in [{section}]{hint}")
                entries[f"{section}.{name}"] = parse_entry(f"{section}.{name}", fields[section][name], value, source)
        return cls(entries)

    @classmethod
    def load(cls, path: str | None) -> "SearchSpace":
        """:data:`DEFAULT_SPACE`, with the entries of the space file ``path`` in place of its own."""
        space = cls.from_dict(DEFAULT_SPACE, "DEFAULT_SPACE")
        return space if path is None else cls.from_dict(load_toml(path), str(path), base=space)

    def sample(self, trial, base_algo: str) -> dict[str, Any]:
        """{'section.name': value} of one trial: the optimiser first, then what belongs to it.

        ``trial``: an ``optuna.Trial``; ``base_algo``: the optimiser when the space does not choose one.
        """
        values: dict[str, Any] = {}
        algo = self.entries.get("algo.algo")
        values["algo.algo"] = base_algo if algo is None else suggest(trial, "algo.algo", algo)
        for key, entry in self.entries.items():
            if key != "algo.algo" and owner(key) in (None, values["algo.algo"]):
                values[key] = suggest(trial, key, entry)
        return values

    def to_toml(self) -> str:
        """The space as a space file (every entry written out)."""
        lines = []
        for section in SECTIONS:
            keys = [key for key in self.entries if key.split(".")[0] == section]
            if keys:
                lines.append(f"[{section}]")
                lines += [f"{key.split('.')[1]} = {entry_toml(self.entries[key])}" for key in keys]
                lines.append("")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A plain mapping that compares equal for equal spaces (kept with the study, to refuse another on resume)."""
        return {key: entry_value(entry) for key, entry in sorted(self.entries.items())}


# What the tune command itself sets in every trial: the task, its target, the seeds, the budget, where runs go.
NOT_SEARCHED = {"env.env": "--env", "run.target": "--target", "run.seed": "--seed", "run.generations": "--budget",
                "run.logdir": "--out", "run.exp_name": "--study", "env.env_kwargs": "--config (a preset's [env] env_kwargs)"}


def parse_entry(key: str, f: dataclasses.Field, value: Any, source: str) -> Entry:
    if key in NOT_SEARCHED:
        raise ConfigError(f"{source}: {key} is not searched: rlfree tune sets it in every trial from {NOT_SEARCHED[key]}; leave it out")
    accepted = field_choices(f)

    def typed(item: Any) -> Any:
        item = typed_value(key, f.type, item, source)
        if accepted is not None and item not in accepted:
            raise ConfigError(f"{source}: {key} = {shown_value(item)} is not accepted; use one of {', '.join(accepted)}")
        return item

    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{source}: {key} = [] is an empty choice; give at least one value")
        return Choice(tuple(typed(item) for item in value))
    if isinstance(value, dict) and f.type != "dict":
        unknown = set(value) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(value):
            raise ConfigError(f"{source}: {key} = {shown_value(value)} is not a range; write {{ low = A, high = B }} "
                              "(log = true, step = S optional), an array of choices, or a single value")
        if f.type not in ("int", "float", "float | None"):
            raise ConfigError(f"{source}: {key} is {f.type}, which has no range; give an array of choices or a single value")
        low, high = typed(value["low"]), typed(value["high"])
        log, step = value.get("log", False), value.get("step")
        if not isinstance(log, bool):
            raise ConfigError(f"{source}: {key}.log = {shown_value(log)} is not accepted; expected true or false")
        if step is not None:
            step = typed(step)
            if step <= 0 or log:
                raise ConfigError(f"{source}: {key}.step = {shown_value(step)} is not accepted: use a step > 0, without log = true")
        if not low <= high:
            raise ConfigError(f"{source}: {key} has low {shown_value(low)} above high {shown_value(high)}; use low <= high")
        if log and low <= 0:
            raise ConfigError(f"{source}: {key} has low {shown_value(low)} with log = true; a log range needs low > 0")
        return Range(low, high, log, step, whole=f.type == "int")
    return Fixed(typed(value))


def suggest(trial, key: str, entry: Entry) -> Any:
    """The trial's value of ``key`` (Optuna records it under that name)."""
    if isinstance(entry, Fixed):
        return entry.value
    if isinstance(entry, Choice):
        return entry.values[0] if len(entry.values) == 1 else trial.suggest_categorical(key, list(entry.values))
    if entry.whole:
        return trial.suggest_int(key, entry.low, entry.high, log=entry.log, step=entry.step or 1)
    return trial.suggest_float(key, entry.low, entry.high, log=entry.log, step=entry.step)


def entry_value(entry: Entry) -> Any:
    if isinstance(entry, Fixed):
        return entry.value
    if isinstance(entry, Choice):
        return list(entry.values)
    table = {"low": entry.low, "high": entry.high}
    if entry.log:
        table["log"] = True
    if entry.step is not None:
        table["step"] = entry.step
    return table


def entry_toml(entry: Entry) -> str:
    return toml_value(entry_value(entry))


def apply(config: Config, values: dict[str, Any], source: str) -> Config:
    """``config`` with a trial's {'section.name': value} set (a new Config)."""
    data: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, name = key.split(".")
        data.setdefault(section, {})[name] = value
    changed = Config.from_dict(config.to_dict(), "base config")
    changed.update(data, source)
    return changed


def shown(values: dict[str, Any]) -> str:
    """'walk sigma=0.21 lr=0.13 | network hidden=2' for a progress line (the optimiser first)."""
    parts = [f"{values['algo.algo']}"] if "algo.algo" in values else []
    for key, value in values.items():
        if key != "algo.algo":
            text = f"{value:.3g}" if isinstance(value, float) and math.isfinite(value) else str(value)
            parts.append(f"{key.split('.')[1]}={text}")
    return " ".join(parts)
