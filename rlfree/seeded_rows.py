"""A generation's parameter rows as a handful of integers, for workers that rebuild them.

The walk's rows are the centre moved by ``+- sigma * eps_i``, where ``eps`` is a pure function
of (run seed, generation) (:func:`rlfree.seeding.perturbations`). A distributed evaluator
therefore sends the centre once and, per block of rows, only this description; a worker
rebuilds the block's rows by the same floating-point operations the walk made, so they are the
walk's rows bit for bit, in any dtype: ``centre + step`` and ``centre - step`` with
``step = sigma * eps``, each an elementwise, correctly rounded operation whose result does not
depend on which other rows are computed beside it.

A :class:`SeededRows` lists its rows as parts, in order: ``(+1, n)`` is ``centre + step[:n]``,
``(-1, n)`` is ``centre - step[:n]`` and ``(0, n)`` is ``n`` rows of the centre itself (the
seed-faithful walk's reference row, the trainer's evaluation rows).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import torch

from rlfree.seeding import perturbations


@dataclass(frozen=True)
class SeededRows:
    """The rows (R, D) of one generation: parts of ``centre +- sigma * eps[:n]`` and of the centre.

    Everything but ``centre`` is a few integers and a float; a distributed evaluator sends the
    centre once per generation and :meth:`without_centre` with every block.
    """

    centre: torch.Tensor | None  # (D,) the centre the rows were asked around; None while travelling
    seed: int  # the walk's seed
    generation: int  # the walk's generation when it asked
    count: int  # perturbations drawn: eps is (count, D)
    sigma: float  # the sigma the rows were asked with
    parts: tuple[tuple[int, int], ...]  # (sign, rows): +1 / -1: centre +- sigma * eps[:rows]; 0: rows of the centre

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.parts)

    def with_centre_rows(self, rows: int) -> "SeededRows":
        """These rows followed by ``rows`` rows of the centre (the trainer's evaluation rows)."""
        return replace(self, parts=self.parts + ((0, rows),)) if rows else self

    def without_centre(self) -> "SeededRows":
        """What travels with a block: the integers; the receiver puts the centre back with :meth:`around`."""
        return replace(self, centre=None)

    def around(self, centre: torch.Tensor) -> "SeededRows":
        """These rows built around ``centre`` (D,), as it arrived."""
        return replace(self, centre=centre)

    def noise(self) -> torch.Tensor:
        """eps: (count, D) on the centre's device and dtype, as the walk drew it (the whole matrix:
        a smaller draw is not a slice of a larger one)."""
        return perturbations(self.seed, self.generation, self.count, self.centre.numel(), self.centre.device, self.centre.dtype)

    def params(self, start: int = 0, stop: int | None = None, eps: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``start:stop`` of the generation: (stop - start, D).

        eps: :meth:`noise`, when the caller keeps it between blocks of the same generation.
        """
        stop = self.rows if stop is None else stop
        if not 0 <= start <= stop <= self.rows:
            raise ValueError(f"rows {start}:{stop} are not rows of a generation of {self.rows}")
        centre = self.centre
        eps = self.noise() if eps is None else eps
        pieces, first = [], 0
        for sign, n in self.parts:
            lo, hi = max(start, first) - first, min(stop, first + n) - first
            if lo < hi:
                step = self.sigma * eps[lo:hi]  # the walk's own product (elementwise), so that the rows are its rows bitwise
                pieces.append(centre.expand(hi - lo, -1) if sign == 0 else centre + step if sign > 0 else centre - step)
            first += n
        return torch.cat(pieces) if pieces else centre.new_empty(0, centre.numel())


@runtime_checkable
class SeedsItsRows(Protocol):
    """An optimiser whose rows a worker can rebuild from integers (the walk's variants)."""

    def seeded_rows(self) -> SeededRows:
        """The rows the last ``ask()`` gave, as a :class:`SeededRows`."""
