"""Weight-agnostic search on free networks: evolve the wiring, not the weights; then tune them.

Reference: ``seeds/weight-agnostic-networks.txt`` (Gaier and Ha 2019, "Weight Agnostic Neural
Networks"). "All candidate architectures are first assigned a single shared weight value [...]
and then optimized to perform well over a wide range of shared weight values", with NEAT's
operators: "(1) Insert Node: a new node is inserted by splitting an existing connection. (2) Add
Connection [...] (3) Change Activation: the activation function of a hidden node is reassigned",
ranked on performance and complexity at once (multi-objective). Then "the best single shared
weight [...] as a starting point to fine-tune the weights of each individual connection".

On a free network (:mod:`rlfree.network`, ``activation = "per_neuron"``) a genome is

- a 0/1 **mask** over W (A, K): which connections exist, from the bias, the observation and
  every neuron's previous activation (so a loop is one more connection, no special case);
- an **activation per neuron** (A,), one of :data:`rlfree.network.NEURON_ACTIVATIONS`, the
  reference's ten; the output neurons stay linear (the reference changes hidden nodes only) and
  a Box action clips them, as the reference's swing-up does.

A member at shared weight w is the flat vector ``[w * mask, codes]``; ``ask()`` gives every
genome at each of :data:`SHARED_WEIGHTS` (the reference's -2, -1, -0.5, 0.5, 1, 2), genome-major,
and the run loop plays all those rows on the same episodes in one batched evaluation. ``tell()``
ranks the genomes on three objectives, as the reference's ``probMoo``: the mean return over the
weights, its max over the weights, and 1 / connections; with probability ``prob_moo`` the
non-dominated sort uses (mean, 1 / connections), otherwise (mean, max), crowding distance
breaking ties within a front (NSGA-II, :func:`nsga_ranks`). The next population: the best
``elites`` genomes unchanged (scored again on the next episodes), the rest children of parents
picked by tournaments of ``tournament`` genomes on that rank, each child changed by the
operators, each applied with its probability (at least one):

- **add connection**: a missing weight from a source in use (bias, input, or a neuron that is an
  output or has inputs) into a neuron in use;
- **add node**: an existing connection j -> i rerouted through an unused hidden neuron h
  (j -> h -> i, the old connection removed), h given a random activation;
- **change activation**: a hidden neuron in use gets another activation.

The centre (the agent saved, evaluated and watched) is the genome with the best mean over the
weights, at the shared weight where it did best. After ``search_generations`` the search stops
and **tuning** starts from that centre: the smart random walk (:mod:`rlfree.walk`, the run's
``[walk]`` settings) over the non-zero weights only, its perturbations zero outside the mask and
on the activation codes, or (``tuner = "cmaes"``) CMA-ES over those weights alone
(:class:`MaskedCMAES`). The figures' weight and step norms count the weights, not the codes.
Every random number is drawn from a generator seeded by (seed,
generation), so a checkpoint (the population, the centre, the walk's state) resumes bitwise.
"""

from __future__ import annotations

import math

import torch

from rlfree.cmaes import CMAES
from rlfree.config import WalkConfig
from rlfree.network import NEURON_ACTIVATIONS, NetworkSpec
from rlfree.seeding import hash_seed
from rlfree.shaping import finite_fitness, tell_stats, tied_members
from rlfree.walk import SmartRandomWalk

SHARED_WEIGHTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)  # the reference's weight values
TUNERS = ("walk", "cmaes")  # [algo] wann_tuner: what tunes the found wiring's weights
WANN_STREAM = 0x3A77  # hash_seed's third part for the search's draws, apart from the other streams
LINEAR = list(NEURON_ACTIVATIONS).index("linear")


def nsga_ranks(objectives: torch.Tensor) -> torch.Tensor:
    """objectives: (N, M) float64, each to maximise -> rank (N,) int64, 0 the best: the first
    non-dominated front first, within a front the larger crowding distance first (NSGA-II)."""
    n = objectives.shape[0]
    a, b = objectives[:, None, :], objectives[None, :, :]
    dominates = (a >= b).all(-1) & (a > b).any(-1)  # [i, j]: i dominates j
    dominated_by = dominates.sum(0)  # how many dominate each
    front = torch.full((n,), -1, dtype=torch.int64)
    remaining, level = torch.ones(n, dtype=torch.bool), 0
    counts = dominated_by.clone()
    while remaining.any():
        current = remaining & (counts == 0)
        front[current] = level
        remaining &= ~current
        counts = counts - dominates[current].sum(0)
        level += 1
    crowding = torch.zeros(n, dtype=torch.float64)
    for f in range(level):
        members = torch.nonzero(front == f).flatten()
        if len(members) <= 2:
            crowding[members] = math.inf
            continue
        for m in range(objectives.shape[1]):
            values = objectives[members, m]
            order = torch.argsort(values, stable=True)
            span = float(values[order[-1]] - values[order[0]])
            crowding[members[order[0]]] = crowding[members[order[-1]]] = math.inf
            if span > 0:
                gaps = (values[order[2:]] - values[order[:-2]]) / span
                crowding[members[order[1:-1]]] += gaps
    # front ascending, then crowding descending, then index: one stable order
    order = sorted(range(n), key=lambda i: (int(front[i]), -float(crowding[i]), i))
    rank = torch.empty(n, dtype=torch.int64)
    rank[torch.tensor(order)] = torch.arange(n)
    return rank


class WeightAgnosticSearch:
    """The search over (mask, activations) of a per-neuron free network, then the tuning of the
    best wiring's weights (the masked walk, or CMA-ES over them: ``tuner``).

    Rows of a search generation: ``population * len(SHARED_WEIGHTS)``, genome-major; of a tuning
    generation: the tuner's.
    """

    def __init__(self, spec: NetworkSpec, *, population: int, search_generations: int, elites: int, tournament: int,
                 prob_moo: float, add_connection: float, add_node: float, change_activation: float, init_connection: float,
                 walk: WalkConfig, seed: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                 tuner: str = "walk", cmaes_sigma: float = 0.2, cmaes_population: int = 0, tune_episodes: int = 0):
        if not spec.per_neuron:
            raise ValueError("weight-agnostic search needs a per-neuron network (activation per_neuron)")
        if not 1 <= elites < population:
            raise ValueError(f"wann_elites={elites} is not accepted: use 1 to wann_population - 1 ({population - 1})")
        self.spec = spec
        self.population = population
        self.search_generations = search_generations
        self.n_elites, self.tournament = elites, tournament
        self.prob_moo = prob_moo
        self.operators = (add_connection, add_node, change_activation)
        self.init_connection = init_connection
        if tuner not in TUNERS:
            raise ValueError(f"wann_tuner {tuner!r} is not accepted; use {' or '.join(TUNERS)}")
        self.walk_config = walk
        self.tuner, self.cmaes_sigma, self.cmaes_population = tuner, cmaes_sigma, cmaes_population
        self.tune_episodes = tune_episodes
        self.seed = seed
        self.dtype, self.device = dtype, torch.device(device)
        self.generation = 0
        self.sigma = float(walk.sigma)  # for the logs; the shared weights while searching
        self.weights = torch.tensor(SHARED_WEIGHTS, dtype=torch.float64)
        self.masks, self.codes = self._first_population()  # (N, A, K) bool, (N, A) int64
        self.centre = self.member(self.masks[0], self.codes[0], 1.0)
        self.tuning: SmartRandomWalk | MaskedCMAES | None = None
        self.free: torch.Tensor | None = None  # (D,) 0/1 while tuning: the weights it may move
        self._asked = False

    # -- the genome as parameters -------------------------------------------------------------
    @property
    def rows(self) -> int:
        return self.tuning.rows if self.tuning is not None else self.population * len(SHARED_WEIGHTS)

    @property
    def episodes(self) -> int | None:
        """Episodes per member this generation, where the search sets them: ``tune_episodes`` while
        tuning (a few weights, ranked more finely than a wiring needs); None: the run's ``--episodes``."""
        return self.tune_episodes if self.tuning is not None and self.tune_episodes else None

    def member(self, mask: torch.Tensor, codes: torch.Tensor, weight: float) -> torch.Tensor:
        """mask (A, K), codes (A,) at one shared weight -> the flat vector (D,) ``[w * mask, codes]``."""
        return torch.cat([weight * mask.to(torch.float64).reshape(-1), codes.to(torch.float64)]).to(self.device, self.dtype)

    def _generator(self, generation: int) -> torch.Generator:
        return torch.Generator().manual_seed(hash_seed(self.seed, generation, WANN_STREAM))

    def _first_population(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Minimal networks: each bias or input -> output connection on with probability
        init_connection (at least one per genome), no hidden neuron used, every neuron linear."""
        spec, g = self.spec, self._generator(-1)
        A, K, inputs = spec.n_activations, spec.n_columns, 1 + spec.n_inputs
        masks = torch.zeros(self.population, A, K, dtype=torch.bool)
        masks[:, : spec.n_outputs, :inputs] = torch.rand(self.population, spec.n_outputs, inputs, generator=g) < self.init_connection
        for n in range(self.population):
            if not masks[n].any():
                masks[n, int(torch.randint(spec.n_outputs, (1,), generator=g)), int(torch.randint(inputs, (1,), generator=g))] = True
        return masks, torch.full((self.population, A), LINEAR, dtype=torch.int64)

    # -- ask / tell -----------------------------------------------------------------------------
    def ask(self) -> torch.Tensor:
        """params: (rows, D): every genome at every shared weight (genome-major), or the walk's rows."""
        self._asked = True
        if self.tuning is not None:
            return self.tuning.ask()
        W = self.masks.to(torch.float64).reshape(self.population, 1, -1) * self.weights.reshape(1, -1, 1)  # (N, S, A K)
        codes = self.codes.to(torch.float64)[:, None, :].expand(-1, len(SHARED_WEIGHTS), -1)
        return torch.cat([W, codes], dim=2).reshape(self.rows, -1).to(self.device, self.dtype)

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None) -> dict[str, float | int]:
        """returns: (rows, E) of ``ask()``'s rows -> the generation's figures (and the next population)."""
        if not self._asked:
            raise RuntimeError("tell() was called without ask() for this generation")
        if returns.ndim != 2 or returns.shape[0] != self.rows:
            raise ValueError(f"returns of shape {tuple(returns.shape)} are not accepted: expected ({self.rows}, episodes)")
        self._asked = False
        if self.tuning is not None:
            previous = self.centre
            stats = self.tuning.tell(returns, env_returns)
            self.centre, self.sigma, self.generation = self.tuning.centre, self.tuning.sigma, self.generation + 1
            return {**stats, **self._norms(previous), "connections": self.connections(self.centre), "shared_weight": None}
        fitness, n_nonfinite = finite_fitness(returns, torch.float64, self.generation + 1)  # (N S,)
        shown = fitness if env_returns is None else finite_fitness(env_returns, torch.float64, self.generation + 1)[0]
        by_weight = fitness.reshape(self.population, len(SHARED_WEIGHTS))
        mean, best_at = by_weight.mean(1), by_weight.max(1)
        connections = self.masks.reshape(self.population, -1).sum(1)
        g = self._generator(self.generation)
        pair = [0, 2] if float(torch.rand(1, generator=g)) < self.prob_moo else [0, 1]
        objectives = torch.stack([mean, best_at.values, 1.0 / connections.clamp(min=1).to(torch.float64)], 1)
        rank = nsga_ranks(objectives[:, pair])
        champion = int(torch.argmax(mean))  # the first index of the best mean over the weights
        weight = float(self.weights[best_at.indices[champion]])
        previous = self.centre
        self.centre = self.member(self.masks[champion], self.codes[champion], weight)
        shown_mean = shown.reshape(self.population, -1).mean(1)
        tied, at_floor = tied_members(mean)
        stats = {
            **tell_stats(shown_mean, tied, at_floor, self.centre.double() - previous.double(), self.centre.double(), n_nonfinite),
            **self._norms(previous),
            "elite_fitness": float(shown_mean[champion]),  # the champion's mean over the shared weights
            "connections": int(connections[champion]),
            "shared_weight": weight,
        }
        self.masks, self.codes = self._next_population(rank, g)
        self.generation += 1
        if self.generation >= self.search_generations:
            self.start_tuning()
        return stats

    def start_tuning(self, free: torch.Tensor | None = None) -> None:
        """The walk over the centre's existing weights (``free`` (D,) 0/1: the centre's non-zero
        weights, not its codes), from its best shared weight."""
        if free is None:
            free = torch.cat([(self.centre[: self.spec.n_weights] != 0).to(torch.float64),
                              torch.zeros(self.spec.n_activations, dtype=torch.float64)])
        self.free = free
        if self.tuner == "cmaes":
            self.tuning = MaskedCMAES(self.centre, free, sigma=self.cmaes_sigma, population=self.cmaes_population, seed=self.seed)
        else:
            self.tuning = SmartRandomWalk(self.centre, self.walk_config, self.seed, free=free)
            self.tuning.generation = self.generation  # its perturbations: a function of the run's generation
        self.sigma = self.tuning.sigma

    def _norms(self, previous: torch.Tensor) -> dict[str, float]:
        """step_norm and weight_norm over the weights of the centre (D,), its activation codes left out."""
        weights, before = self.centre[: self.spec.n_weights].double(), previous[: self.spec.n_weights].double()
        return {"step_norm": float((weights - before).norm()), "weight_norm": float(weights.norm())}

    def connections(self, flat: torch.Tensor) -> int:
        """The connections of a flat member (D,): its non-zero weights."""
        return int((flat[: self.spec.n_weights] != 0).sum())

    # -- the operators ----------------------------------------------------------------------------
    def _next_population(self, rank: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.argsort(rank)
        masks, codes = [self.masks[i].clone() for i in order[: self.n_elites]], [self.codes[i].clone() for i in order[: self.n_elites]]
        while len(masks) < self.population:
            entrants = torch.randint(self.population, (self.tournament,), generator=g)
            parent = int(entrants[torch.argmin(rank[entrants])])
            mask, code = self.masks[parent].clone(), self.codes[parent].clone()
            self._mutate(mask, code, g)
            masks.append(mask), codes.append(code)
        return torch.stack(masks), torch.stack(codes)

    def _mutate(self, mask: torch.Tensor, codes: torch.Tensor, g: torch.Generator) -> None:
        """Apply each operator with its probability, at least one that changes the genome."""
        chosen = [bool(u < p) for u, p in zip(torch.rand(3, generator=g).tolist(), self.operators)]
        if not any(chosen):
            chosen[int(torch.randint(3, (1,), generator=g))] = True
        changed = False
        for op, on in zip((self._add_connection, self._add_node, self._change_activation), chosen):
            if on:
                changed |= op(mask, codes, g)
        if not changed:  # nothing the chosen operators could do: a connection is always worth a try
            self._add_connection(mask, codes, g)

    def _in_use(self, mask: torch.Tensor) -> torch.Tensor:
        """(A,) bool: output neurons, and hidden ones with an incoming connection."""
        used = mask.any(1)
        used[: self.spec.n_outputs] = True
        return used

    def _add_connection(self, mask: torch.Tensor, codes: torch.Tensor, g: torch.Generator) -> bool:
        used = self._in_use(mask)
        sources = torch.cat([torch.ones(1 + self.spec.n_inputs, dtype=torch.bool), used])  # (K,)
        candidates = torch.nonzero(~mask & used[:, None] & sources[None, :])
        if len(candidates) == 0:
            return False
        i, j = candidates[int(torch.randint(len(candidates), (1,), generator=g))].tolist()
        mask[i, j] = True
        return True

    def _add_node(self, mask: torch.Tensor, codes: torch.Tensor, g: torch.Generator) -> bool:
        spec = self.spec
        unused = torch.nonzero(~self._in_use(mask)).flatten()
        existing = torch.nonzero(mask)
        if len(unused) == 0 or len(existing) == 0:
            return False
        i, j = existing[int(torch.randint(len(existing), (1,), generator=g))].tolist()
        h = int(unused[int(torch.randint(len(unused), (1,), generator=g))])
        mask[i, j] = False
        mask[h, j] = True
        mask[i, 1 + spec.n_inputs + h] = True
        codes[h] = int(torch.randint(len(NEURON_ACTIVATIONS), (1,), generator=g))
        return True

    def _change_activation(self, mask: torch.Tensor, codes: torch.Tensor, g: torch.Generator) -> bool:
        hidden = torch.nonzero(self._in_use(mask)[self.spec.n_outputs :]).flatten() + self.spec.n_outputs
        if len(hidden) == 0:
            return False
        h = int(hidden[int(torch.randint(len(hidden), (1,), generator=g))])
        other = int(torch.randint(len(NEURON_ACTIVATIONS) - 1, (1,), generator=g))
        codes[h] = other + (other >= int(codes[h]))  # any activation but the current one
        return True

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        """centre (D,), the population's masks (N, A, K) and codes (N, A) as floats, the numbers,
        and while tuning the walk's state under ``tune_``: restores the search exactly."""
        state = {"centre": self.centre.clone(), "masks": self.masks.to(torch.float64), "codes": self.codes.to(torch.float64),
                 "generation": self.generation, "seed": self.seed, "sigma": self.sigma, "tuning": int(self.tuning is not None)}
        if self.tuning is not None:
            state["free"] = self.free.clone()
            state.update({f"tune_{name}": value for name, value in self.tuning.state_dict().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``; ValueError for a state of another optimiser or network."""
        for name in ("centre", "masks", "codes", "generation", "seed", "tuning"):
            if name not in state:
                raise ValueError(f"wann state has no {name!r} (it holds {', '.join(sorted(state))}); was it saved with another optimiser?")
        A, K = self.spec.n_activations, self.spec.n_columns
        masks, codes, centre = (torch.as_tensor(state[k]) for k in ("masks", "codes", "centre"))
        if masks.shape != (self.population, A, K) or codes.shape != (self.population, A) or centre.shape != (self.spec.n_params,):
            raise ValueError(f"wann state of masks {tuple(masks.shape)}, codes {tuple(codes.shape)} does not fit a population of "
                             f"{self.population} networks of {A} x {K}")
        self.masks, self.codes = masks != 0, codes.round().to(torch.int64)
        self.centre = centre.to(self.device, self.dtype).clone()
        self.generation, self.seed = int(state["generation"]), int(state["seed"])
        self.tuning = None
        if state["tuning"]:
            free = torch.as_tensor(state.get("free", torch.zeros(0)))
            if free.shape != (self.spec.n_params,):
                raise ValueError(f"wann state 'free' has shape {tuple(free.shape)}; this network needs ({self.spec.n_params},)")
            self.start_tuning(free)
            self.tuning.load_state_dict({name[len("tune_"):]: value for name, value in state.items() if name.startswith("tune_")})
            self.centre = self.tuning.centre
        self.sigma = float(state.get("sigma", self.sigma))
        self._asked = False


class MaskedCMAES:
    """CMA-ES (:mod:`rlfree.cmaes`) over the free coordinates of a flat vector only: its samples
    (lambda, d) are written into copies of the centre (D,), whose other entries (missing weights,
    activation codes) never change. The same protocol as every optimiser."""

    def __init__(self, centre: torch.Tensor, free: torch.Tensor, *, sigma: float, population: int, seed: int):
        self.index = torch.nonzero(free.to("cpu") != 0).flatten()  # (d,)
        if len(self.index) < 2:
            raise ValueError(f"CMA-ES tuning needs 2 or more weights; the wiring has {len(self.index)}")
        self.base = centre.clone()  # (D,)
        self.inner = CMAES(centre[self.index.to(centre.device)], sigma=sigma, population=population, seed=seed)
        self.rows = self.inner.rows

    @property
    def centre(self) -> torch.Tensor:
        full = self.base.clone()
        full[self.index.to(full.device)] = self.inner.centre.to(full.device, full.dtype)
        return full

    @property
    def sigma(self) -> float:
        return self.inner.sigma

    @property
    def generation(self) -> int:
        return self.inner.generation

    def ask(self) -> torch.Tensor:
        sub = self.inner.ask()  # (lambda, d)
        full = self.base.expand(len(sub), -1).clone()
        full[:, self.index.to(full.device)] = sub.to(full.dtype)
        return full

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None) -> dict[str, float | int]:
        return self.inner.tell(returns, env_returns)

    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
