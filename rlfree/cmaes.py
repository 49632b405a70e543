"""CMA-ES, full and separable (diagonal), as an ask/tell optimiser over flat parameter vectors.

References: Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016), whose
default parameters (its Table 1, positive recombination weights) and updates are written here
as given; the separable variant is Ros & Hansen, "A Simple Modification in CMA-ES Achieving
Linear Time and Space Complexity" (PPSN 2008): the covariance is kept diagonal and its learning
rates ``c_1``, ``c_mu`` are multiplied by ``(n + 2) / 3``, so a network of thousands of weights
costs O(n) per sample instead of an O(n^2) matrix and O(n^3) eigendecompositions.

Why not a library: pycma, the reference implementation, saves its state by pickling the whole
object, and rlfree's checkpoints hold no pickle. This compact version is held against pycma on
sphere, Rosenbrock and Rastrigin (``tests/test_cmaes.py``: the same budget reaches the same
precision, within the spread over seeds). It maximises returns; rows whose mean return is NaN
or infinite rank last (:func:`rlfree.shaping.finite_fitness`).

Sampling is a function of integers, as the walk's: generation g's standard normals are
``perturbations(seed, g, lambda, n)``, then ``y = B (d * z)`` (full; ``y = d * z`` separable) and
``x = mean + sigma * y``. The state (mean, sigma, the paths, C or its diagonal, and for the full
variant the eigenbasis B and axis lengths d with the generation they were computed at) is all
float64 tensors and numbers, saved and restored exactly.
"""

from __future__ import annotations

import math

import torch

from rlfree.errors import NonFiniteRun
from rlfree.seeding import perturbations
from rlfree.shaping import finite_fitness, tell_stats, tied_members

F64 = torch.float64
COVARIANCES = ("full", "diagonal")


def default_population(dim: int) -> int:
    """lambda = 4 + floor(3 ln n), the tutorial's default."""
    return 4 + int(3 * math.log(dim))


class CMAES:
    """(mu/mu_w, lambda)-CMA-ES with cumulative step-size adaptation; ``covariance`` full or diagonal."""

    def __init__(self, centre: torch.Tensor, *, sigma: float, population: int = 0, covariance: str = "full", seed: int = 0):
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance {covariance!r} is not accepted; use {' or '.join(COVARIANCES)}")
        n = centre.numel()
        self.rows = population or default_population(n)
        if self.rows < 2:
            raise ValueError(f"a CMA-ES population of {self.rows} is not accepted: use 2 or more")
        self.diagonal = covariance == "diagonal"
        self.seed = seed
        self.generation = 0
        self.device, self.dtype = centre.device, centre.dtype
        # strategy parameters (the tutorial's Table 1)
        mu = self.rows // 2
        weights = math.log((self.rows + 1) / 2) - torch.log(torch.arange(1, mu + 1, dtype=F64))
        self.weights = weights / weights.sum()  # (mu,) positive, summing to 1
        self.mu_eff = float(1 / (self.weights**2).sum())
        mu_eff = self.mu_eff
        self.c_sigma = (mu_eff + 2) / (n + mu_eff + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_c = (4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n)
        self.c_1 = 2 / ((n + 1.3) ** 2 + mu_eff)
        self.c_mu = min(1 - self.c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + mu_eff))
        if self.diagonal:  # Ros & Hansen 2008
            self.c_1 *= (n + 2) / 3
            self.c_mu = min(1 - self.c_1, self.c_mu * (n + 2) / 3)
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        # the eigendecomposition is refreshed when C has moved enough to matter (the tutorial's lazy update)
        self.eigen_every = max(1, int(1 / ((self.c_1 + self.c_mu) * n * 10)))
        # state
        self.mean = centre.detach().to("cpu", F64).clone()  # (n,)
        self.sigma = float(sigma)
        self.p_sigma = torch.zeros(n, dtype=F64)
        self.p_c = torch.zeros(n, dtype=F64)
        if self.diagonal:
            self.cov = torch.ones(n, dtype=F64)  # the diagonal of C
        else:
            self.cov = torch.eye(n, dtype=F64)  # C
            self.basis = torch.eye(n, dtype=F64)  # B: eigenvectors of C as columns
            self.eigen_generation = 0  # the generation B and d were computed at
        self.axes = torch.ones(n, dtype=F64)  # d: sqrt of C's eigenvalues (diagonal: of its diagonal)
        self._asked: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def centre(self) -> torch.Tensor:
        """The mean (D,) in the run's dtype and device: the agent evaluated, saved and watched."""
        return self.mean.to(self.device, self.dtype)

    def axis_ratio(self) -> float:
        """sqrt(largest / smallest eigenvalue of C): how elongated the search distribution is."""
        return float(self.axes.max() / self.axes.min())

    # -- ask / tell -----------------------------------------------------------------------------
    def ask(self) -> torch.Tensor:
        """params: (lambda, D) = mean + sigma * y, y ~ N(0, C)."""
        z = perturbations(self.seed, self.generation, self.rows, self.mean.numel())  # (lambda, n) float64
        y = z * self.axes if self.diagonal else (z * self.axes) @ self.basis.T
        self._asked = (z, y)
        return (self.mean + self.sigma * y).to(self.device, self.dtype)

    def tell(self, returns: torch.Tensor, env_returns: torch.Tensor | None = None) -> dict[str, float | int]:
        """returns: (lambda, E) of ``ask()``'s rows -> the generation's figures; the tutorial's
        update of mean, paths, C and sigma from the mu best rows. ``env_returns``: the env's own
        returns when ``returns`` were shifted for training; the figures describe them."""
        if self._asked is None:
            raise RuntimeError("tell() was called without ask() for this generation")
        if returns.ndim != 2 or returns.shape[0] != self.rows:
            raise ValueError(f"returns of shape {tuple(returns.shape)} are not accepted: expected ({self.rows}, episodes)")
        z, y = self._asked
        self._asked = None
        fitness, n_nonfinite = finite_fitness(returns, F64, self.generation + 1)
        shown = fitness if env_returns is None else finite_fitness(env_returns, F64, self.generation + 1)[0]
        chosen = torch.argsort(fitness, descending=True, stable=True)[: len(self.weights)]
        state = self._updated(z[chosen], y[chosen])
        if not all(torch.isfinite(value).all() for value in state.values() if torch.is_tensor(value)) or not math.isfinite(state["sigma"]):
            raise NonFiniteRun(f"generation {self.generation + 1}: the CMA-ES update went NaN or infinite (sigma {self.sigma:g}); "
                               "use a smaller cmaes_sigma")
        step = state["mean"] - self.mean
        for name, value in state.items():
            setattr(self, name, value)
        self.generation += 1
        if not self.diagonal and self.generation - self.eigen_generation >= self.eigen_every:
            self._decompose()
        tied, at_floor = tied_members(fitness)
        return {
            **tell_stats(shown, tied, at_floor, step, self.mean, n_nonfinite),
            "elite_fitness": float(shown[chosen].mean()),  # the mu rows the mean moves toward
            "axis_ratio": self.axis_ratio(),
        }

    def _updated(self, z: torch.Tensor, y: torch.Tensor) -> dict:
        """z, y: (mu, n) of the selected rows, best first -> the new mean, paths, C and sigma."""
        n, w = self.mean.numel(), self.weights
        y_w = w @ y  # (n,)
        mean = self.mean + self.sigma * y_w
        # C^(-1/2) y_w = B z_w (full), z_w (diagonal)
        whitened = w @ z if self.diagonal else self.basis @ (w @ z)
        p_sigma = (1 - self.c_sigma) * self.p_sigma + math.sqrt(self.c_sigma * (2 - self.c_sigma) * self.mu_eff) * whitened
        norm = float(p_sigma.norm())
        h_sigma = norm / math.sqrt(1 - (1 - self.c_sigma) ** (2 * (self.generation + 1))) < (1.4 + 2 / (n + 1)) * self.chi_n
        p_c = (1 - self.c_c) * self.p_c + (math.sqrt(self.c_c * (2 - self.c_c) * self.mu_eff) * y_w if h_sigma else 0.0)
        lost = 0.0 if h_sigma else self.c_1 * self.c_c * (2 - self.c_c)  # the rank-one term's variance lost when p_c stalls
        decay = 1 - self.c_1 - self.c_mu + lost
        if self.diagonal:
            cov = decay * self.cov + self.c_1 * p_c**2 + self.c_mu * (w @ y**2)
            axes = cov.sqrt()
        else:
            cov = decay * self.cov + self.c_1 * torch.outer(p_c, p_c) + self.c_mu * (y.T * w) @ y
            axes = self.axes
        sigma = self.sigma * math.exp(self.c_sigma / self.d_sigma * (norm / self.chi_n - 1))
        return {"mean": mean, "p_sigma": p_sigma, "p_c": p_c, "cov": cov, "axes": axes, "sigma": sigma}

    def _decompose(self) -> None:
        """B and d from C (symmetrised: rounding leaves it a few ulps off)."""
        cov = (self.cov + self.cov.T) / 2
        eigenvalues, basis = torch.linalg.eigh(cov)
        self.basis = basis.contiguous()  # eigh's is column-major; a restored one is row-major, and matmul rounds by layout
        self.cov = cov
        self.axes = eigenvalues.clamp(min=0).sqrt()
        self.eigen_generation = self.generation

    # -- state ----------------------------------------------------------------------------------
    def _tensor_names(self) -> tuple[str, ...]:
        return ("mean", "p_sigma", "p_c", "cov", "axes") + (() if self.diagonal else ("basis",))

    def state_dict(self) -> dict[str, torch.Tensor | float | int]:
        """Tensors (float64: mean, paths, C, d and, full, B; ``centre`` in the run's dtype for the
        agent's W) and numbers that restore the CMA-ES exactly."""
        state = {"centre": self.centre.clone(), **{name: getattr(self, name).clone() for name in self._tensor_names()},
                 "sigma": self.sigma, "generation": self.generation, "seed": self.seed}
        if not self.diagonal:
            state["eigen_generation"] = self.eigen_generation
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``; ValueError for a state of another optimiser, variant or network."""
        like = self.state_dict()
        if "cov" in state and torch.as_tensor(state["cov"]).ndim != like["cov"].ndim:
            saved = "diagonal" if torch.as_tensor(state["cov"]).ndim == 1 else "full"
            raise ValueError(f"CMA-ES state holds a {saved} covariance; this run's cmaes_covariance is {COVARIANCES[self.diagonal]}")
        for name, value in like.items():
            if name not in state:
                raise ValueError(f"CMA-ES state has no {name!r} (it holds {', '.join(sorted(state))}); was it saved with another "
                                 "optimiser or covariance?")
            if torch.is_tensor(value) and tuple(torch.as_tensor(state[name]).shape) != tuple(value.shape):
                raise ValueError(f"CMA-ES state {name!r} has shape {tuple(torch.as_tensor(state[name]).shape)}; this network and "
                                 f"covariance need {tuple(value.shape)}")
            if isinstance(value, int) and (isinstance(state[name], bool) or not isinstance(state[name], int)):
                raise ValueError(f"CMA-ES state {name} = {state[name]!r} is not accepted; expected a whole number")
        for name in self._tensor_names():
            setattr(self, name, torch.as_tensor(state[name]).to("cpu", F64).clone())
        self.sigma, self.generation, self.seed = float(state["sigma"]), state["generation"], state["seed"]
        if not self.diagonal:
            self.eigen_generation = state["eigen_generation"]
        self._asked = None
