"""The genetic algorithm of the neuroevolution reference, and the elitist truncation GA, as ask/tell.

Reference: ``seeds/neuroevolution-numpy-ga.txt`` (Gursky, "Neuroevolution using Numpy"):
"1. Evaluate fitness of the population 2. Select the most fit individual to reproduce
3. Repopulate using copies of the most fit network 4. Introduce normally distributed mutations
to the network weights". As written there: ``population_size`` random networks to start; every
generation each is evaluated, the single best is kept unmutated and the other
``population_size - 1`` are copies of it plus ``N(0, mutation_variance)`` noise on every weight
(numpy's ``scale``, so a standard deviation); no crossover (the text leaves it for "what's
next"). Its run: ``population_size=64, generations=5, episodes=15, mutation_variance=0.1``,
which are the defaults here (``[algo] ga_population``, ``ga_sigma``; episodes are ``[run]
episodes``). The kept network is evaluated again with the rest every generation, on new
episodes: a lucky score is not remembered.

The elitist truncation GA of deep neuroevolution (Such et al. 2017, "Deep Neuroevolution:
Genetic Algorithms are a Competitive Alternative..."): mutation only, each child a copy of a
parent drawn uniformly from the top T plus ``sigma * eps``, the elite carried unmutated and
re-evaluated. Both are one class here, :class:`GeneticAlgorithm`, with two numbers:

- ``parents`` T: children descend from the top T of the last generation (1: the reference);
- ``elites`` C: the top C of the last generation are carried unmutated as its first rows and
  scored again on this generation's episodes, beside the children (1: the reference). Such et
  al. re-score their top candidates on 30 extra episodes before picking the one elite; here the
  candidates are re-scored by the next generation's episodes, so an elite that was only lucky
  drops out of the top C at once, and no extra rows are run.

The centre (the agent evaluated, saved and watched) is the top-ranked row of the last
generation told: the first elite of the next. Ranking is by the mean return over the
generation's episodes, stable, so a tie keeps the elite; NaN and infinite returns rank last.

Every random number is a function of integers, as the walk's (:mod:`rlfree.seeding`): the
mutations of generation g are ``perturbations(seed, g, N - C, D)`` and the children's parents
``parent_choices(seed, g, N - C, T)``, so a worker elsewhere rebuilds them and a checkpoint
holds no RNG state. Generation 0 is the run's initial network and ``N - 1`` more drawn as it was
(independent normal weights of std ``initial_std``), the reference's random first population; a
run that starts from a trained network (``--init-from``, ``initial_std`` None) draws them as its
mutations instead.
"""

from __future__ import annotations

import torch

from rlfree.errors import NonFiniteRun
from rlfree.seeding import parent_choices, perturbations
from rlfree.shaping import finite_fitness, tell_stats, tied_members


class GeneticAlgorithm:
    """Mutation-only GA over flat parameter vectors: population N, parents T, elites C, sigma."""

    def __init__(self, centre: torch.Tensor, *, population: int, sigma: float, parents: int, elites: int, seed: int,
                 initial_std: float | None):
        if not 1 <= elites < population or not 1 <= parents <= population:
            raise ValueError(f"a GA of population {population} takes 1 <= elites < population and 1 <= parents <= population "
                             f"(got elites {elites}, parents {parents})")
        self.rows = population
        self.sigma = float(sigma)  # the mutations' std, constant
        self.n_parents, self.n_elites = parents, elites
        self.seed = seed
        self.initial_std = None if initial_std is None else float(initial_std)
        self.generation = 0
        self.centre = centre.clone()  # (D,)
        self.parents = centre[None].clone()  # (T', D), best first; T' < T only before the first generation is told
        self.elites = centre[None].clone()  # (C', D), best first
        self._asked: torch.Tensor | None = None

    def ask(self) -> torch.Tensor:
        """params: (N, D): the elites, then N - C' children (generation 0: the initial network
        and N - 1 independent draws of its distribution, or its mutations when it is a trained network)."""
        children = self.rows - len(self.elites)
        eps = perturbations(self.seed, self.generation, children, self.centre.numel(), self.centre.device, self.centre.dtype)
        if self.generation == 0 and self.initial_std is None:  # the centre is a trained network (--init-from): its mutations
            offspring = self.centre + self.sigma * eps
        elif self.generation == 0:
            offspring = self.initial_std * eps
        else:
            chosen = parent_choices(self.seed, self.generation, children, len(self.parents)).to(self.centre.device)
            offspring = self.parents[chosen] + self.sigma * eps
        self._asked = torch.cat([self.elites, offspring])
        return self._asked

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None) -> dict[str, float | int]:
        """returns: (N, E) of ``ask()``'s rows -> the generation's figures; ranks the rows and keeps
        the top T as parents, the top C as elites, the best as the centre. ``env_returns`` (N, E):
        the env's own returns when ``returns`` were shifted for training; the figures describe them."""
        if self._asked is None:
            raise RuntimeError("tell() was called without ask() for this generation")
        if returns.ndim != 2 or returns.shape[0] != self.rows:
            raise ValueError(f"returns of shape {tuple(returns.shape)} are not accepted: expected ({self.rows}, episodes)")
        rows, self._asked = self._asked, None
        fitness, n_nonfinite = finite_fitness(returns, torch.float64, self.generation + 1)
        shown = fitness if env_returns is None else finite_fitness(env_returns, torch.float64, self.generation + 1)[0]
        order = torch.argsort(fitness, descending=True, stable=True)  # a tie keeps the earlier row: the elite
        best = rows[order[0]]
        if not torch.isfinite(best).all():
            raise NonFiniteRun(f"generation {self.generation + 1}: the best member's weights are NaN or infinite; use a smaller ga_sigma")
        tied, at_floor = tied_members(fitness)
        step = best - self.centre
        self.parents = rows[order[: self.n_parents]].clone()
        self.elites = rows[order[: self.n_elites]].clone()
        self.centre = best.clone()
        self.generation += 1
        return {
            **tell_stats(shown, tied, at_floor, step, self.centre, n_nonfinite),
            "elite_fitness": float(shown[0]),  # the first elite's fresh score: what the incumbent scores again
        }

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        """centre (D,), parents (T', D), elites (C', D) and the numbers: restores the GA exactly."""
        return {"centre": self.centre.clone(), "parents": self.parents.clone(), "elites": self.elites.clone(),
                "sigma": self.sigma, "generation": self.generation, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``; ValueError for a state of another optimiser or network."""
        for name in ("centre", "parents", "elites", "sigma", "generation", "seed"):
            if name not in state:
                raise ValueError(f"GA state has no {name!r} (it holds {', '.join(sorted(state))}); was it saved with another optimiser?")
        dim = self.centre.numel()
        tensors = {}
        for name, most in (("centre", None), ("parents", self.n_parents), ("elites", self.n_elites)):
            value = torch.as_tensor(state[name])
            ok = value.shape == (dim,) if most is None else (value.ndim == 2 and value.shape[1] == dim and 1 <= value.shape[0] <= most)
            if not ok:
                raise ValueError(f"GA state {name!r} has shape {tuple(value.shape)}, which does not fit a network of {dim} weights "
                                 f"with parents {self.n_parents} and elites {self.n_elites}")
            tensors[name] = value.to(self.centre.device, self.centre.dtype).clone()
        for name in ("generation", "seed"):
            if isinstance(state[name], bool) or not isinstance(state[name], int):
                raise ValueError(f"GA state {name} = {state[name]!r} is not accepted; expected a whole number")
        self.centre, self.parents, self.elites = tensors["centre"], tensors["parents"], tensors["elites"]
        self.sigma, self.generation, self.seed = float(state["sigma"]), state["generation"], state["seed"]
        self._asked = None
