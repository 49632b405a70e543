"""The smart random walk as an ask/tell optimiser.

Reference: ``seeds/free-network-random-walk.txt``. "We run the graph for each datapoint in the
batch, and then run it with slightly adjusted weights on the same datapoint. This adjustment is
different for each datapoint in the batch. Then we calculate the change in the loss, and
multiply the negative change with the adjustment [...], then update the weights using the
averages of these multiplied adjustments across the batch."

For reinforcement learning the datapoint is an episode seed and the loss is the negative
return. Two variants:

- ``seed``: the text above, as written. Row 0 of ``ask()`` is the unperturbed centre, rows
  1..P are ``centre + sigma * eps_i``; all are judged on the same episodes; the step is
  ``lr * mean_i((R_i - R_0) * sigma * eps_i)``: a forward difference and a plain average.
- ``smart`` (the default): the same estimate with the variance reductions of evolution
  strategies (Salimans et al. 2017): mirrored pairs ``centre +- sigma * eps_i`` (the centre's
  own return cancels), centred-rank fitness shaping, and an Adam (or SGD) step.

Perturbations are a pure function of (seed, generation), so the walk needs no RNG state and a
worker elsewhere could rebuild them from two integers.
"""

from __future__ import annotations

import math

import torch

from rlfree.config import WalkConfig
from rlfree.evaluate import hash_seed


def centred_ranks(fitness: torch.Tensor) -> torch.Tensor:
    """fitness: (P,) -> ranks scaled to [-0.5, 0.5]; tied values share their average rank.

    Sharing matters: CartPole returns tie often (every member that balances scores 500), and
    a mirrored pair with equal returns must then cancel instead of adding a random push.
    """
    ordered, order = fitness.sort(stable=True)
    _, group, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0)
    average_rank = (ends - counts + ends - 1).to(fitness.dtype) / 2
    ranks = torch.empty_like(fitness)
    ranks[order] = average_rank[group]
    return ranks / max(fitness.numel() - 1, 1) - 0.5


def zscore(fitness: torch.Tensor) -> torch.Tensor:
    """fitness: (P,) -> (fitness - mean) / std (0 where all are equal)."""
    std = fitness.std()
    return (fitness - fitness.mean()) / std if std > 0 else torch.zeros_like(fitness)


SHAPINGS = {"centred_ranks": centred_ranks, "zscore": zscore, "raw": lambda f: f}


class SmartRandomWalk:
    """ask() -> params (rows, D); tell(returns (rows, E)) -> step statistics."""

    def __init__(self, centre: torch.Tensor, config: WalkConfig, seed: int):
        self.config = config
        self.seed = seed
        self.centre = centre.clone()  # (D,)
        self.sigma = float(config.sigma)
        self.generation = 0
        self.adam_m = torch.zeros_like(self.centre)  # first moment, or SGD momentum buffer
        self.adam_v = torch.zeros_like(self.centre)  # second moment
        self._noise: torch.Tensor | None = None

    # -- ask / tell -----------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        """How many parameter vectors ``ask()`` returns."""
        return self.config.population + (1 if self.config.variant == "seed" else 0)

    def perturbations(self) -> torch.Tensor:
        """eps: (M, D) standard normal for this generation; M = P/2 when mirrored, else P."""
        cfg = self.config
        mirrored = cfg.mirrored and cfg.variant == "smart"
        count = cfg.population // 2 if mirrored else cfg.population
        generator = torch.Generator().manual_seed(hash_seed(self.seed, self.generation, 0x5EED))
        # drawn in float64 on the CPU: the same numbers on every device and dtype
        eps = torch.randn(count, self.centre.numel(), generator=generator, dtype=torch.float64)
        return eps.to(self.centre.device, self.centre.dtype)

    def ask(self) -> torch.Tensor:
        """The parameter vectors to evaluate this generation, (rows, D)."""
        eps = self.perturbations()
        self._noise = eps
        step = self.sigma * eps
        if self.config.variant == "seed":
            return torch.cat([self.centre[None], self.centre + step])
        if self.config.mirrored:
            return torch.cat([self.centre + step, self.centre - step])
        return self.centre + step

    def tell(self, returns: torch.Tensor) -> dict[str, float]:
        """returns: (rows, E) episode returns of the rows ``ask()`` gave. Moves the centre.

        NaN returns are ranked last (and counted), never propagated into the weights.
        """
        if self._noise is None:
            raise RuntimeError("tell() was called without ask() for this generation")
        cfg = self.config
        if returns.ndim != 2 or returns.shape[0] != self.rows:
            raise ValueError(f"returns of shape {tuple(returns.shape)} are not accepted: expected ({self.rows}, episodes)")
        eps, self._noise = self._noise, None
        fitness = returns.to(self.centre.dtype).mean(dim=1)
        nan = torch.isnan(fitness)
        n_nan = int(nan.sum())
        finite = fitness[~nan]
        worst = finite.min() if finite.numel() else torch.zeros((), dtype=fitness.dtype, device=fitness.device)
        fitness = torch.where(nan, worst - 1.0, fitness)

        if cfg.variant == "seed":
            change = fitness[1:] - fitness[0]  # forward difference on the same episodes
            ascent = (change[:, None] * (self.sigma * eps)).mean(dim=0)
            step = cfg.lr * ascent
        else:
            shaped = SHAPINGS[cfg.shaping](fitness)
            if cfg.mirrored:
                half = cfg.population // 2
                weights = shaped[:half] - shaped[half:]
            else:
                weights = shaped
            gradient = weights @ eps / (cfg.population * self.sigma)  # (D,), ascent direction
            step = self._optimiser_step(gradient)
        if cfg.weight_decay:
            step = step - cfg.weight_decay * self.centre
        self.centre += step
        self.generation += 1
        self.sigma = max(self.sigma * cfg.sigma_decay, cfg.sigma_min)
        population_fitness = fitness[1:] if cfg.variant == "seed" else fitness
        return {
            "population_mean": float(population_fitness.mean()),
            "population_max": float(population_fitness.max()),
            "population_min": float(population_fitness.min()),
            "step_norm": float(step.norm()),
            "weight_norm": float(self.centre.norm()),
            "nan_returns": n_nan,
        }

    def _optimiser_step(self, gradient: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.optimizer == "sgd":
            if cfg.momentum:
                self.adam_m.mul_(cfg.momentum).add_(gradient)
                return cfg.lr * self.adam_m
            return cfg.lr * gradient
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        t = self.generation + 1
        self.adam_m.mul_(beta1).add_(gradient, alpha=1 - beta1)
        self.adam_v.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        lr_t = cfg.lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        return lr_t * self.adam_m / (self.adam_v.sqrt() + eps)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and numbers that restore the walk exactly."""
        return {
            "centre": self.centre.clone(),
            "adam_m": self.adam_m.clone(),
            "adam_v": self.adam_v.clone(),
            "sigma": self.sigma,
            "generation": self.generation,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict) -> None:
        for name in ("centre", "adam_m", "adam_v"):
            value = torch.as_tensor(state[name])
            if value.shape != self.centre.shape:
                raise ValueError(f"walk state {name!r} has shape {tuple(value.shape)}; this network needs {tuple(self.centre.shape)}")
            setattr(self, name, value.to(self.centre.device, self.centre.dtype).clone())
        self.sigma = float(state["sigma"])
        self.generation = int(state["generation"])
        self.seed = int(state["seed"])
        self._noise = None
