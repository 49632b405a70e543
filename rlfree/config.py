"""Run configuration: one dataclass per concern, TOML presets and command-line overrides.

Every field has the same name in the dataclass, on the command line (``--eval-freq``) and in a
TOML preset (``eval_freq`` under its section ``[run]``), and its comment becomes ``--help``.
Values are resolved as: dataclass defaults < preset (``--config``, or ``agents/<env>.toml``
when one exists) < flags given on the command line.

Every value passes :meth:`Config.update`, from a preset, a resumed ``state.json`` or the command
line alike: a value of the wrong type is one :class:`ConfigError` naming ``section.key``, the
value and the type expected. A field whose accepted values live in a registry (activations,
shapings, step rules, ...) names that registry as ``"module:NAME"``; it is looked up only when
needed, because those modules import this one.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlfree.errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration value that cannot be used; the message names it and what is accepted."""


def _f(default, help: str, choices: str | None = None):
    """A field; ``choices`` names the registry of accepted values as ``"module:NAME"``."""
    metadata = {"help": help, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


# Where an env is registered without a time limit (CliffWalking-v1, Blackjack-v1, a user's own),
# a member that never ends its episode would hold a generation for ever: its episodes are cut
# here instead. 1000 is gymnasium's most common time limit (MuJoCo's, LunarLander's, CarRacing's).
DEFAULT_HORIZON = 1000


@dataclass
class EnvConfig:
    env: str = _f("CartPole-v1", "gymnasium id to train on; 'package:Id-v0' imports package first")
    env_kwargs: dict = _f({}, "keyword arguments of gym.make, as KEY=VALUE with TOML values (continuous=true gravity=-9.5); in a preset an inline table")
    backend: str = _f("auto", "auto: the batched twin when one exists and env_kwargs is empty, else gymnasium; torch: twin; gym: gymnasium vector env",
                      choices="rlfree.backend:BACKENDS")
    vectorization: str = _f("sync", "how the gym backend runs its copies: sync (in this process) or async (in worker processes); a twin (backend torch) takes only sync",
                            choices="rlfree.vector:TRAINING_VECTORIZATIONS")
    workers: int = _f(0, "worker processes of --vectorization async (0: one per CPU core)")
    device: str = _f("cpu", "torch device for the network and twins: cpu, cuda, cuda:1, ...")
    dtype: str = _f("float32", "the float type of the network and twins", choices="rlfree.backend:DTYPES")
    threads: int = _f(1, "torch CPU threads; 1 is fastest for populations of small networks (0: torch's default)")
    executor: str = _f("local", "where a generation's episodes run: local (this process) or ray (Ray actors, each a batched env; pip install 'rlfree[ray]'); --ray [ADDRESS] sets it",
                       choices="rlfree.evaluator:EXECUTORS")
    ray_address: str = _f("", "the Ray cluster of executor ray: '' starts a local one, auto joins the one `ray start` runs on this machine, or HOST:PORT of its head")
    ray_actors: int = _f(0, "Ray actors of executor ray, each one CPU (and a GPU share with a cuda device) of the cluster (0: one per CPU of the cluster)")
    ray_block_rows: int = _f(0, "members per block of work sent to a Ray actor (0: about 4 blocks per actor, so that quick actors take more of them)")


@dataclass
class NetworkConfig:
    hidden: int = _f(4, "hidden activations (recurrent state) beside the outputs")
    ticks: int = _f(2, "applications of W per environment step")
    activation: str = _f("tanh", "the nonlinearity f of a = f(W x); per_neuron: each neuron its own, chosen by --algo wann (and only there)",
                         choices="rlfree.network:NETWORK_ACTIVATIONS")
    obs_encoding: str = _f("auto", "auto, flat, onehot (Discrete) or bins:K (each Box dimension in K one-hot bins)")
    softmax_output: bool = _f(False, "softmax over the outputs (the seed's net_add_softmax)")
    sequence_output: bool = _f(False, "average the outputs of every tick (the seed's sequence_output)")
    init_scale: float = _f(0.5, "std of the initial weights, divided by sqrt(1 + inputs + activations)")
    action_mapping: str = _f("auto", "how outputs become a Box action: auto (linear for bounded activations, tanh for unbounded ones), "
                                     "linear, tanh, or clip (the outputs clipped to the bounds, as ARS does)", choices="rlfree.spaces:ACTION_MAPPINGS")
    normalize_obs: bool = _f(False, "feed the network (obs - mean) / std, the running mean and std of every observation the walk's members were fed "
                                    "(ARS V2): frozen within a generation, saved with the agent; Box observations (flat encoding) only")
    feed_forward: bool = _f(False, "hold the recurrent block of W (previous activations -> activations) at zero and out of the walk's parameters; "
                                   "needs --hidden 0 --ticks 1; with --activation identity it is ARS's linear policy (plus a bias)")


@dataclass
class AlgoConfig:
    """Which optimiser moves the weights, and the settings of the GA and CMA-ES; the walk's are in [walk].
    The GA's defaults are the neuroevolution reference's run (rlfree.genetic)."""

    algo: str = _f("walk", "the optimiser: walk (the smart random walk, settings in [walk]), ga (the reference's genetic algorithm; "
                           "ga_parents > 1: the elitist truncation GA), cmaes (CMA-ES, full or diagonal covariance) "
                           "or wann (weight-agnostic search of the wiring and activations, then a walk over the wiring's weights)",
                   choices="rlfree.optimiser:ALGOS")
    ga_population: int = _f(64, "ga: networks evaluated per generation (the reference's population_size)")
    ga_sigma: float = _f(0.1, "ga: std of the normal mutation added to every weight of a child (the reference's mutation_variance)")
    ga_parents: int = _f(1, "ga: children are copies of a parent drawn from the best T of the last generation, then mutated "
                            "(1: the reference, copies of the single best; more: the truncation GA of deep neuroevolution)")
    ga_elites: int = _f(1, "ga: the best C of the last generation are kept unmutated and scored again with the children "
                           "(the elites re-evaluated); the best of all is the centre")
    cmaes_covariance: str = _f("full", "cmaes: full covariance, or diagonal (separable CMA-ES, linear in the weights: for large networks)",
                               choices="rlfree.cmaes:COVARIANCES")
    cmaes_population: int = _f(0, "cmaes: samples per generation, lambda (0: 4 + floor(3 ln D), the tutorial's default for D weights)")
    cmaes_sigma: float = _f(0.2, "cmaes: the initial step size sigma (then adapted)")
    wann_population: int = _f(64, "wann: genomes (mask + activation per neuron) per generation, each played at the 6 shared weights")
    wann_generations: int = _f(50, "wann: generations of the wiring search; the run's remaining generations tune the best wiring's weights "
                                   "with the walk ([walk] settings), from its best shared weight")
    wann_elites: int = _f(8, "wann: the best genomes kept unchanged (and scored again) each generation")
    wann_tournament: int = _f(16, "wann: genomes per tournament that picks each child's parent (the reference's swing-up: 8 of 192, "
                                  "drawn twice; 16 of 64 took rlfree/CartPoleSwingUp-v0 further than 4 did)")
    wann_prob_moo: float = _f(0.8, "wann: probability that a generation ranks on (mean return, 1 / connections) rather than (mean, max return)")
    wann_add_connection: float = _f(0.5, "wann: probability that a child gains a connection")
    wann_add_node: float = _f(0.25, "wann: probability that a child reroutes a connection through an unused hidden neuron")
    wann_change_activation: float = _f(0.5, "wann: probability that a child's hidden neuron changes its activation")
    wann_init_connection: float = _f(0.5, "wann: probability of each bias/input -> output connection in the first genomes")
    wann_tune_episodes: int = _f(0, "wann: episodes per member while tuning (0: --episodes, as in the search); tuning a few weights "
                                    "on one start state a generation chases that start")
    wann_tuner: str = _f("walk", "wann: what tunes the found wiring's existing weights after the search: walk (masked, [walk] settings) "
                                 "or cmaes (over those weights only; cmaes_sigma, cmaes_population)", choices="rlfree.wann:TUNERS")


@dataclass
class WalkConfig:
    """Defaults: the combination measured to solve CartPole-v1 fastest (README, scripts/bench.py)."""

    population: int = _f(128, "perturbed copies of the weights evaluated per generation (--population with --algo ga or "
                                 "cmaes sets ga_population or cmaes_population)")
    sigma: float = _f(0.2, "std of the weight perturbations (--sigma with --algo ga or cmaes sets ga_sigma or cmaes_sigma)")
    lr: float = _f(0.1, "step size of the optimiser on the estimated gradient")
    variant: str = _f("smart", "smart: mirrored pairs, shaped fitness, an optimiser step; seed: the seed's forward difference and plain average",
                      choices="rlfree.optimiser:VARIANTS")
    mirrored: bool = _f(True, "evaluate each perturbation and its negation (antithetic pairs)")
    shaping: str = _f("zscore", "fitness shaping (zscore: as ARS)", choices="rlfree.shaping:SHAPINGS")
    top_directions: int = _f(0, "step along only the B best of the population/2 mirrored pairs, ranked by the better return of each pair, "
                                "shaping the 2B returns used (ARS's b; zscore then divides by their std, as ARS); 0: every pair")
    optimizer: str = _f("sgd", "the step rule applied to the estimated gradient", choices="rlfree.steps:STEP_RULES")
    momentum: float = _f(0.0, "momentum of sgd")
    weight_decay: float = _f(0.0, "L2 pull of the weights toward 0, per step")
    sigma_decay: float = _f(1.0, "sigma is multiplied by this after every generation")
    sigma_min: float = _f(0.0, "sigma never decays below this")
    reward_shift: float = _f(0.0, "subtracted from every step's reward of the walk's own episodes, for training only (ARS: 1 for Hopper, "
                                  "Walker2d and Ant, 5 for Humanoid, removing the survival bonus); the centre's evaluations, target "
                                  "checks, every reported score and watch use the env's own reward")
    action_cost: float = _f(0.0, "training only: every step's reward of the walk's own episodes less this times the sum of |action| "
                                 "over a Box action's dimensions, a control cost (BipedalWalker's own: 0.028); evaluations, target "
                                 "checks, every reported score and watch use the env's own reward; 0: none")


@dataclass
class RunConfig:
    seed: int = _f(0, "seed of perturbations, episode seeds and initial weights")
    generations: int = _f(1000, "stop after this many generations")
    init_from: str = _f("", "start from a saved agent's weights (a run folder's best checkpoint, or a checkpoint or agent folder) instead of "
                            "random ones: the same env and network; a new run with a fresh optimiser (--resume continues a run)")
    episodes: int = _f(1, "episodes per member per generation (the same seeds for every member)")
    horizon: int = _f(0, "cut the walk's episodes and the centre's evaluations after this many steps (0: the env's time limit, or "
                         f"{DEFAULT_HORIZON} steps for an env registered without one); target checks play whole episodes, cut where "
                         f"the walk's are only when the env has no time limit; watch plays at most {DEFAULT_HORIZON} steps of such an env")
    eval_freq: int = _f(1, "evaluate the centre every this many generations")
    eval_episodes: int = _f(100, "episodes of the centre's evaluation, on seeds never used in training")
    target: float | None = _f(None, "stop when the centre's evaluation reaches this (default: the env's reward_threshold)")
    save_freq: int = _f(10, "write checkpoints/latest every this many generations")
    exp_name: str = _f("rlfree", "experiment name, part of the run folder's name: a plain name, no / or \\, not . or ..")
    logdir: str = _f("runs", "where run folders are made")
    adapt_ties: bool = _f(True, "when the members' returns tie (rlfree.ties): after 10 generations in which every member scored the same, double "
                                "sigma (up to 1); when a member then scores above the rest, sigma goes back and the centre moves to that member if "
                                "it beats the generation's median on each of eval_episodes held-out episodes; when 8 in 10 comparisons tie at the "
                                "worst return over 10 generations and a policy's returns differ between episodes, double --episodes (up to 4); "
                                "every change is printed and logged (walk/tie_changes); a task whose returns do not tie runs as without it. "
                                "--coevolve's duel and --algo ga or cmaes keep their settings")
    progress: bool = _f(False, "a status line on stderr: rate, ETA against --generations, best centre against the target (always shown at a terminal; with -P also in a log, every 10 s); a generation past 5 s says how far it is, with or without -P")


SECTIONS: dict[str, type] = {"env": EnvConfig, "network": NetworkConfig, "algo": AlgoConfig, "walk": WalkConfig, "run": RunConfig}
SHORT_FLAGS = {"generations": "-n", "progress": "-P"}


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
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
            fields = {f.name: f for f in dataclasses.fields(target)}
            for name, value in values.items():
                if name not in fields:
                    close = difflib.get_close_matches(name, fields, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else f"; accepted: {', '.join(fields)}"
                    raise ConfigError(f"{source}: unknown setting {name!r} in [{section}]{hint}")
                value = typed_value(f"{section}.{name}", fields[name].type, value, source)
                if isinstance(value, dict):  # a preset's env_kwargs plus those of the command line, as rl-zoo merges them
                    value = {**getattr(target, name), **value}
                setattr(target, name, value)

    def validate(self) -> None:
        """Raise ConfigError naming the first impossible value."""
        for section in SECTIONS:
            for f in dataclasses.fields(getattr(self, section)):
                accepted = field_choices(f)
                value = getattr(getattr(self, section), f.name)
                if accepted is not None and value not in accepted:
                    raise ConfigError(f"{f.name} {value!r} is not accepted; use one of {', '.join(accepted)}")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ConfigError(f"{f.name}={value} is not accepted: use a finite number")
        e, n, w, r, a = self.env, self.network, self.walk, self.run, self.algo
        checks = [
            (a.ga_population >= 2, f"ga_population={a.ga_population} is not accepted: use 2 or more"),
            (a.ga_sigma > 0, f"ga_sigma={a.ga_sigma} is not accepted: use a value > 0"),
            (1 <= a.ga_parents <= a.ga_population, f"ga_parents={a.ga_parents} is not accepted: use 1 to ga_population ({a.ga_population})"),
            (1 <= a.ga_elites < a.ga_population, f"ga_elites={a.ga_elites} is not accepted: use 1 to ga_population - 1 ({a.ga_population - 1})"),
            (a.cmaes_population == 0 or a.cmaes_population >= 2, f"cmaes_population={a.cmaes_population} is not accepted: use 0 (the default for the network) or 2 or more"),
            (a.cmaes_sigma > 0, f"cmaes_sigma={a.cmaes_sigma} is not accepted: use a value > 0"),
            (a.wann_population >= 2, f"wann_population={a.wann_population} is not accepted: use 2 or more"),
            (a.wann_generations >= 1, f"wann_generations={a.wann_generations} is not accepted: use 1 or more"),
            (1 <= a.wann_elites < a.wann_population, f"wann_elites={a.wann_elites} is not accepted: use 1 to wann_population - 1 ({a.wann_population - 1})"),
            (a.wann_tournament >= 1, f"wann_tournament={a.wann_tournament} is not accepted: use 1 or more"),
            (a.wann_tune_episodes >= 0, f"wann_tune_episodes={a.wann_tune_episodes} is not accepted: use 1 or more, or 0 for --episodes"),
            (all(0 <= p <= 1 for p in (a.wann_prob_moo, a.wann_add_connection, a.wann_add_node, a.wann_change_activation, a.wann_init_connection)),
             "wann_prob_moo, wann_add_connection, wann_add_node, wann_change_activation and wann_init_connection are probabilities: use 0 to 1"),
            (a.algo != "wann" or not r.init_from,
             f"init_from {r.init_from!r} is not accepted with algo wann: its search builds its own first networks; leave --init-from out"),
            ((a.algo == "wann") == (n.activation == "per_neuron"),
             f"activation {n.activation!r} is not accepted with algo {a.algo!r}: --algo wann takes --activation per_neuron, and only it does"),
            (e.workers >= 0, f"workers={e.workers} is not accepted: use 0 (one per CPU core) or more"),
            (e.threads >= 0, f"threads={e.threads} is not accepted: use 0 (torch's default) or more"),
            (e.ray_actors >= 0, f"ray_actors={e.ray_actors} is not accepted: use 0 (one per CPU of the cluster) or more"),
            (e.ray_block_rows >= 0, f"ray_block_rows={e.ray_block_rows} is not accepted: use 0 (about 4 blocks per actor) or more"),
            (e.executor != "ray" or e.vectorization == "sync",
             f"vectorization {e.vectorization!r} is not accepted with executor ray: each Ray actor is a worker process already; use --vectorization sync and --ray-actors"),
            (n.hidden >= 0, f"hidden={n.hidden} is not accepted: use 0 or more"),
            (n.ticks >= 1, f"ticks={n.ticks} is not accepted: use 1 or more"),
            (n.init_scale >= 0, f"init_scale={n.init_scale} is not accepted: use 0 or more"),
            (not n.normalize_obs or n.obs_encoding in ("auto", "flat"),
             f"normalize_obs is not accepted with obs_encoding {n.obs_encoding!r}: one-hot inputs are not normalised; use obs_encoding flat, or leave normalize_obs off"),
            (w.population >= 2, f"population={w.population} is not accepted: use 2 or more"),
            (not (w.mirrored and w.variant == "smart") or w.population % 2 == 0,
             f"population={w.population} is not accepted with mirrored pairs: use an even number, or --no-mirrored"),
            (w.top_directions >= 0, f"top_directions={w.top_directions} is not accepted: use 0 (every pair) or 1 to population/2"),
            (not w.top_directions or (w.mirrored and w.variant == "smart"),
             f"top_directions={w.top_directions} is not accepted without mirrored pairs (it ranks the pairs +-sigma*eps): use --mirrored with variant smart, or leave it 0"),
            (w.top_directions <= w.population // 2,
             f"top_directions={w.top_directions} is not accepted: population {w.population} makes {w.population // 2} mirrored pairs; use 1 to {w.population // 2}, or 0 for all"),
            (w.sigma > 0, f"sigma={w.sigma} is not accepted: use a value > 0"),
            (w.lr > 0, f"lr={w.lr} is not accepted: use a value > 0"),
            (0 <= w.momentum < 1, f"momentum={w.momentum} is not accepted: use 0 <= momentum < 1"),
            (w.weight_decay >= 0, f"weight_decay={w.weight_decay} is not accepted: use 0 or more"),
            (0 < w.sigma_decay <= 1, f"sigma_decay={w.sigma_decay} is not accepted: use 0 < sigma_decay <= 1"),
            (w.sigma_min >= 0, f"sigma_min={w.sigma_min} is not accepted: use 0 or more"),
            (0 <= w.action_cost < math.inf, f"action_cost={w.action_cost} is not accepted: use 0 (none) or a finite cost above 0"),
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
        from rlfree.network import check_feed_forward  # network imports this module

        check_feed_forward(n.feed_forward, n.hidden, n.ticks)
        check_twin_kwargs(e.backend, e.env_kwargs)
        check_device(e.device)
        check_exp_name(r.exp_name)


def check_exp_name(name: str) -> None:
    """ConfigError unless ``name`` is a plain name: the run folder it names stays inside logdir."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"exp_name {name!r} is not accepted: use a plain name, without / or \\ (and not . or ..), e.g. baseline-2")


def check_twin_kwargs(backend: str, env_kwargs: dict | None) -> None:
    """ConfigError for gym.make arguments given to the twin backend, which builds its task itself."""
    if env_kwargs and backend == "torch":
        raise ConfigError(f"env_kwargs {toml_value(env_kwargs)} cannot be given to backend 'torch': a twin takes no gym.make arguments; use backend auto or gym")


def field_choices(f: dataclasses.Field) -> list[str] | None:
    """The values a field accepts, read from the registry its metadata names; None: any value of its type."""
    where = f.metadata.get("choices")
    if where is None:
        return None
    module, _, name = where.partition(":")
    return list(getattr(importlib.import_module(module), name))


# What each field annotation accepts, as a TOML preset, a resumed state.json or a flag gives it.
EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "float | None": "a number (or leave the key out)",
    "bool": "true or false",
    "str": "a string",
    "dict": "a table of gym.make arguments, e.g. { continuous = true }",
}


def typed_value(key: str, kind: str, value: Any, source: str) -> Any:
    """``value`` as a field of type ``kind`` accepts it (an int where a float is asked becomes a
    float); ConfigError naming ``key`` ('walk.sigma'), the value and the type otherwise.

    bool is a subclass of int in Python, so ``population = true`` is refused by hand.
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "float | None" and value is None:
        return None
    if kind in ("float", "float | None") and number:
        return float(value)
    if (kind == "int" and number and isinstance(value, int)) or (kind == "bool" and isinstance(value, bool)) or (kind == "str" and isinstance(value, str)):
        return value
    if kind == "dict" and isinstance(value, dict):
        for name, item in value.items():
            if not is_literal(item):
                raise ConfigError(f"{source}: {key}.{name} = {shown_value(item)} is {kind_of(item)}; expected true/false, a number, a string, an array or a table")
        return dict(value)
    raise ConfigError(f"{source}: {key} = {shown_value(value)} is {kind_of(value)}; expected {EXPECTED[kind]}")


def is_literal(value: Any) -> bool:
    """Whether ``value`` is written the same in TOML (config.toml) and JSON (network.json): no null, no dates."""
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(is_literal(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(name, str) and is_literal(item) for name, item in value.items())
    return False


def kind_of(value: Any) -> str:
    kinds = [(type(None), "null"), (bool, "a boolean"), (int, "a whole number"), (float, "a float"), (str, "a string"), (list, "an array"), (dict, "a table")]
    return next((name for kind, name in kinds if isinstance(value, kind)), f"a {type(value).__name__}")


def shown_value(value: Any) -> str:
    """``value`` as the user wrote it in TOML (null for JSON's null)."""
    if value is None:
        return "null"
    return toml_value(value) if is_literal(value) else repr(value)


def toml_value(value: Any) -> str:
    """A TOML literal of ``value`` (bool, int, float, str, or a list or dict of these)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # Python's float repr (1e-05, inf, nan) is valid TOML
    if isinstance(value, str):
        # JSON's escapes are TOML's; TOML also wants DEL escaped
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{toml_key(name)} = {toml_value(item)}" for name, item in value.items())
        return "{ " + items + " }" if items else "{}"
    raise ConfigError(f"{value!r} ({type(value).__name__}) cannot be written to TOML: use true/false, a number, a string, an array or a table")


def toml_key(name: str) -> str:
    return name if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name) else toml_value(name)


def parse_key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """['continuous=true', 'gravity=-9.5', 'mode=fast'] -> {'continuous': True, 'gravity': -9.5, 'mode': 'fast'}.

    Each value is read as a TOML literal (true, -9.5, [1, 2], "quoted"), and kept as the string
    typed when it is none; ConfigError for a pair without '=' or a KEY that is not a Python name.
    """
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"{flag} {pair!r} is not accepted: use KEY=VALUE with a Python name as KEY, e.g. continuous=true gravity=-9.5")
        try:
            value = tomllib.loads(f"value = {text}")["value"] if "\n" not in text else text
        except tomllib.TOMLDecodeError:
            value = text
        kwargs[key] = value if is_literal(value) else text  # a date-like word stays the word typed
    return kwargs


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
            if value is not None:
                lines.append(f"{name} = {toml_value(value)}")
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
            help_text = f.metadata["help"] + ("" if default in (None, dataclasses.MISSING) else f" (default: {default})")
            if f.type == "bool":
                group.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            elif f.type == "dict":  # parsed by overrides_from_args, so that a bad pair is one line
                group.add_argument(*names, dest=f.name, nargs="+", default=None, metavar="KEY=VALUE", help=help_text)
            else:
                kind = float if f.type in ("float", "float | None") else int if f.type == "int" else str
                # shown as argparse shows choices, {a,b,c}, but checked by Config.validate: argparse's
                # own refusal prints the whole usage, and a preset's value needs the same check anyway
                accepted = field_choices(f)
                metavar = "{" + ",".join(accepted) + "}" if accepted else f.name.upper()
                group.add_argument(*names, dest=f.name, type=kind, default=None, metavar=metavar, help=help_text)


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The flags actually given, as {section: {field: value}}."""
    data: dict[str, dict[str, Any]] = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            value = getattr(args, f.name, None)
            if value is not None:
                if f.type == "dict":
                    value = parse_key_values(value, "--" + f.name.replace("_", "-"))
                data.setdefault(section, {})[f.name] = value
    return data
