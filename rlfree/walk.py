"""The smart random walk and its seed-faithful variant, as ask/tell optimisers.

Reference: ``seeds/free-network-random-walk.txt`` (nn_rnd_training). "We run the graph for each
datapoint in the batch, and then run it with slightly adjusted weights on the same datapoint.
This adjustment is different for each datapoint in the batch. Then we calculate the change in
the loss, and multiply the negative change with the adjustment [...], then update the weights
using the averages of these multiplied adjustments across the batch."

For reinforcement learning the datapoint is an episode seed and the loss is the negative
return. Two siblings share one base (the centre, sigma and its schedule, non-finite returns,
weight decay, the step statistics and the saved state) and differ in their rows and their step:

- :class:`FaithfulRandomWalk` (variant ``seed``): the text above, as written. Row 0 of
  ``ask()`` is the unperturbed centre, rows 1..P are ``centre + sigma * eps_i``; all are judged
  on the same episodes; the step is ``lr * mean_i((R_i - R_0) * sigma * eps_i)``: a forward
  difference and a plain average.
- :class:`SmartRandomWalk` (variant ``smart``, the default): the same estimate with the
  variance reductions of evolution strategies (Salimans et al. 2017). With the defaults of
  :class:`rlfree.config.WalkConfig`: mirrored pairs ``centre +- sigma * eps_i`` (the centre's
  own return cancels), z-scored fitness (:mod:`rlfree.shaping`) and a plain SGD step
  (:mod:`rlfree.steps`); centred ranks, momentum and Adam are options. ``top_directions`` B
  keeps only the B best pairs, ranked by the better return of each (ARS's top-b directions,
  Mania et al. 2018): the 2B returns used are shaped among themselves and the estimate is
  averaged over them, ``sum_b (z+_b - z-_b) eps_b / (2 B sigma)``, so that with every pair it is
  the usual step and with zscore it divides by the std of the returns used, as ARS's sigma_R.

The shaping function, the step rule and the sigma schedule are resolved once, in ``__init__``.
Perturbations come from :func:`rlfree.seeding.perturbations`, a pure function of (seed,
generation), so the walk keeps no RNG state and a worker elsewhere can rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlfree.config import WalkConfig
from rlfree.errors import NonFiniteRun
from rlfree.seeded_rows import SeededRows
from rlfree.seeding import perturbations
from rlfree.shaping import SHAPINGS, finite_fitness, tell_stats, tied_members
from rlfree.steps import make_step_rule


@dataclass(frozen=True)
class SigmaSchedule:
    """sigma -> the next generation's sigma: multiplied by ``decay``, never below ``floor``."""

    decay: float = 1.0
    floor: float = 0.0

    def __call__(self, sigma: float) -> float:
        return max(sigma * self.decay, self.floor)


class RandomWalk:
    """What both variants share; a subclass gives ``rows``, ``_count``, ``_rows``, ``_parts``, ``_step``, ``_members`` and ``_ties``."""

    def __init__(self, centre: torch.Tensor, config: WalkConfig, seed: int, free: torch.Tensor | None = None):
        """free: (D,) 0/1, the weights the walk may move (None: all). Perturbations and steps are
        zero outside it, so a masked network's missing weights stay missing (the weight-agnostic
        search's tuning, :mod:`rlfree.wann`)."""
        self.config = config
        self.seed = seed
        self.free = None if free is None else free.to(centre.device, centre.dtype)
        self.centre = centre.clone()  # (D,)
        self.sigma = float(config.sigma)
        self.generation = 0
        self.schedule = SigmaSchedule(config.sigma_decay, config.sigma_min)
        self._noise: torch.Tensor | None = None

    # -- the variant's part ---------------------------------------------------------------------
    rows: int  # parameter vectors per generation

    def _count(self) -> int:
        """How many perturbations a generation draws."""
        raise NotImplementedError

    def _rows(self, step: torch.Tensor) -> torch.Tensor:
        """step: (M, D) = sigma * eps -> params (rows, D)."""
        raise NotImplementedError

    def _parts(self) -> tuple[tuple[int, int], ...]:
        """The rows of ``_rows`` as :class:`rlfree.seeded_rows.SeededRows` parts."""
        raise NotImplementedError

    def _step(self, fitness: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """fitness: (rows,) finite, eps: (M, D) -> step (D,)."""
        raise NotImplementedError

    def _members(self, fitness: torch.Tensor) -> torch.Tensor:
        """fitness: (rows,) -> the perturbed members' part, which the figures describe."""
        raise NotImplementedError

    def _ties(self, fitness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """fitness: (rows,) -> (tied, tied at the floor): (C,) bool each, one per comparison the
        step is made of; a tied comparison adds nothing to it."""
        raise NotImplementedError

    # -- ask / tell -----------------------------------------------------------------------------
    def perturbations(self) -> torch.Tensor:
        """eps: (M, D) standard normal for this generation, on the centre's device and dtype."""
        eps = perturbations(self.seed, self.generation, self._count(), self.centre.numel(), self.centre.device, self.centre.dtype)
        return eps if self.free is None else eps.mul_(self.free)

    def ask(self) -> torch.Tensor:
        """The parameter vectors to evaluate this generation, (rows, D)."""
        eps = self.perturbations()
        self._noise = eps
        return self._rows(self.sigma * eps)

    def seeded_rows(self) -> SeededRows:
        """The rows the last ``ask()`` gave, as integers a worker rebuilds them from (call it before ``tell``)."""
        if self.free is not None:
            raise RuntimeError("a masked walk's rows are not rebuilt from seeds alone: send its params")
        return SeededRows(self.centre.clone(), self.seed, self.generation, self._count(), self.sigma, self._parts())

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None) -> dict[str, float | int]:
        """returns: (rows, E) episode returns of the rows ``ask()`` gave. Moves the centre.

        A row whose mean return is not finite (NaN, +inf or -inf) is ranked below the worst
        finite one and counted, never propagated into the weights: a single -inf would otherwise
        make the z-scores' std NaN and the step zero. :class:`rlfree.errors.NonFiniteRun` when
        every row is non-finite or the step would make the centre non-finite; the walk then
        stays where it was.

        env_returns: (rows, E), the env's own returns of the same episodes when ``returns`` were
        changed for training (``--reward-shift``); the population figures describe them.
        """
        if self._noise is None:
            raise RuntimeError("tell() was called without ask() for this generation")
        if returns.ndim != 2 or returns.shape[0] != self.rows:
            raise ValueError(f"returns of shape {tuple(returns.shape)} are not accepted: expected ({self.rows}, episodes)")
        eps, self._noise = self._noise, None
        fitness, n_nonfinite = self._fitness(returns)
        population_fitness = self._members(fitness if env_returns is None else self._fitness(env_returns)[0])

        step = self._step(fitness, eps)
        tied, at_floor = self._ties(fitness)
        if self.config.weight_decay:
            step = step - self.config.weight_decay * self.centre
        if self.free is not None:
            step = step * self.free
        centre = self.centre + step
        if not torch.isfinite(centre).all():
            raise NonFiniteRun(
                f"generation {self.generation + 1}: the step (lr {self.config.lr:g}, sigma {self.sigma:g}) makes the "
                "centre's weights NaN or infinite; use a smaller lr or sigma"
            )
        self.centre.copy_(centre)
        self.generation += 1
        self.sigma = self.schedule(self.sigma)
        return {
            **tell_stats(population_fitness, tied, at_floor, step, self.centre, n_nonfinite),
        }

    def _fitness(self, returns: torch.Tensor) -> tuple[torch.Tensor, int]:
        """returns: (rows, E) -> (each row's mean (rows,), non-finite ones ranked below the worst
        finite one; how many were non-finite). NonFiniteRun when none is finite."""
        return finite_fitness(returns, self.centre.dtype, self.generation + 1)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        """Tensors (D,) and numbers that restore the walk exactly: ``centre``, the step rule's
        buffers, ``sigma``, ``generation``, ``seed``."""
        return {"centre": self.centre.clone(), "sigma": self.sigma, "generation": self.generation, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()``'s names, or from a checkpoint written before the step
        rules had their own names (tensors ``centre``, ``adam_m``, ``adam_v``)."""
        state = _with_current_names(state)
        restored = {}
        for name, like in self.state_dict().items():
            if name not in state:
                raise ValueError(f"walk state has no {name!r} (it holds {', '.join(sorted(state))}); was it saved with another optimizer?")
            if torch.is_tensor(like):
                value = torch.as_tensor(state[name])
                if value.shape != like.shape:
                    raise ValueError(f"walk state {name!r} has shape {tuple(value.shape)}; this network needs {tuple(like.shape)}")
                restored[name] = value.to(like.device, like.dtype).clone()
            elif isinstance(like, int) and (isinstance(state[name], bool) or not isinstance(state[name], int)):
                raise ValueError(f"walk state {name} = {state[name]!r} is not accepted; expected a whole number")  # int() would truncate it
            else:
                restored[name] = type(like)(state[name])
        self._load(restored)
        self._noise = None

    def _load(self, state: dict) -> None:
        self.centre = state["centre"]
        self.sigma = state["sigma"]
        self.generation = state["generation"]
        self.seed = state["seed"]


def _with_current_names(state: dict) -> dict:
    """A checkpoint's walk state under today's names.

    Before step rules had their own buffers, every walk saved ``adam_m`` and ``adam_v``, and
    ``adam_m`` held the momentum buffer when the optimizer was sgd with momentum; Adam's step
    count was the generation.
    """
    if "adam_v" not in state or "adam_steps" in state:
        return state
    return {"momentum": state["adam_m"], "adam_steps": state["generation"], **state}


class SmartRandomWalk(RandomWalk):
    """Mirrored (or single) perturbations, shaped fitness and a step rule."""

    def __init__(self, centre: torch.Tensor, config: WalkConfig, seed: int, free: torch.Tensor | None = None):
        super().__init__(centre, config, seed, free)
        self.mirrored = config.mirrored
        self.population = config.population
        self.top_directions = config.top_directions  # 0: every pair
        self.rows = self.rows_for(config.population)
        self.shape_fitness = SHAPINGS[config.shaping]
        self.step_rule = make_step_rule(config.optimizer, config.lr, self.centre, config.momentum)

    @staticmethod
    def rows_for(population: int) -> int:
        """Parameter vectors a generation asks for: the population itself."""
        return population

    def _count(self) -> int:
        return self.population // 2 if self.mirrored else self.population

    def _rows(self, step: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.centre + step, self.centre - step]) if self.mirrored else self.centre + step

    def _parts(self) -> tuple[tuple[int, int], ...]:
        return ((1, self._count()), (-1, self._count())) if self.mirrored else ((1, self._count()),)

    def _top_pairs(self, fitness: torch.Tensor) -> torch.Tensor | None:
        """(B,) indices of the mirrored pairs the step uses: the ``top_directions`` best by the
        better return of each pair (a stable sort: ties go to the lower index); None: every pair."""
        pairs = self.population // 2
        if not self.mirrored or not self.top_directions or self.top_directions >= pairs:
            return None
        better = torch.maximum(fitness[:pairs], fitness[pairs:])
        return torch.argsort(better, descending=True, stable=True)[: self.top_directions]

    def _step(self, fitness: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        chosen = self._top_pairs(fitness)
        if chosen is not None:
            used = len(chosen)
            shaped = self.shape_fitness(torch.cat([fitness[chosen], fitness[len(eps) + chosen]]))
            gradient = (shaped[:used] - shaped[used:]) @ eps[chosen] / (2 * used * self.sigma)
            return self.step_rule.step(gradient)
        shaped = self.shape_fitness(fitness)
        weights = shaped[: len(eps)] - shaped[len(eps) :] if self.mirrored else shaped
        gradient = weights @ eps / (self.population * self.sigma)  # (D,), ascent direction
        return self.step_rule.step(gradient)

    def _members(self, fitness: torch.Tensor) -> torch.Tensor:
        return fitness

    def _ties(self, fitness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mirrored: a pair the step uses whose two returns are equal. Otherwise: a member whose
        return another member has too (its shaped weight says nothing the tie group's does not)."""
        floor = fitness.min()
        if self.mirrored:
            plus, minus = fitness[: self.population // 2], fitness[self.population // 2 :]
            chosen = self._top_pairs(fitness)
            if chosen is not None:
                plus, minus = plus[chosen], minus[chosen]
            tied = plus == minus
            return tied, tied & (plus == floor)
        return tied_members(fitness)

    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        return {**super().state_dict(), **self.step_rule.state_dict()}

    def _load(self, state: dict) -> None:
        super()._load(state)
        self.step_rule.load_state_dict(state)


class FaithfulRandomWalk(RandomWalk):
    """The seed's walk: the centre plus P perturbations, a forward difference, a plain average."""

    def __init__(self, centre: torch.Tensor, config: WalkConfig, seed: int, free: torch.Tensor | None = None):
        super().__init__(centre, config, seed, free)
        self.population = config.population
        self.rows = self.rows_for(config.population)
        self.lr = config.lr
        self._baseline: torch.Tensor | None = None  # (P,) during a supervised tell (see tell)

    @staticmethod
    def rows_for(population: int) -> int:
        """Parameter vectors a generation asks for: the centre, then the population."""
        return population + 1

    def _count(self) -> int:
        return self.population

    def _rows(self, step: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.centre[None], self.centre + step])

    def _parts(self) -> tuple[tuple[int, int], ...]:
        return ((0, 1), (1, self.population))

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None, baseline: torch.Tensor | None = None) -> dict[str, float | int]:
        """As :meth:`RandomWalk.tell`; ``baseline``: (P,), the centre's return on each member's own
        datapoint, for the seed's supervised mode (:mod:`rlfree.fit`), where member i is judged on
        datapoint i alone: its change is then ``returns[i + 1] - baseline[i]`` and row 0 of
        ``returns`` (the centre's mean over the batch) only feeds the figures."""
        if baseline is not None and baseline.shape != (self.population,):
            raise ValueError(f"baseline of shape {tuple(baseline.shape)} is not accepted: expected ({self.population},)")
        self._baseline = baseline
        try:
            return super().tell(returns, env_returns)
        finally:
            self._baseline = None

    def _step(self, fitness: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        # forward difference on the same episodes, or on each member's own datapoint
        reference = fitness[0] if self._baseline is None else self._baseline.to(fitness.dtype)
        change = fitness[1:] - reference
        ascent = (change[:, None] * (self.sigma * eps)).mean(dim=0)
        return self.lr * ascent

    def _members(self, fitness: torch.Tensor) -> torch.Tensor:
        return fitness[1:]  # row 0 is the unperturbed centre

    def _ties(self, fitness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A perturbed member whose return equals the centre's (a zero forward difference)."""
        tied = fitness[1:] == fitness[0]
        return tied, tied & (fitness[0] == fitness.min())
