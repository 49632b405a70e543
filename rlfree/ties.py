"""When most returns tie at the floor the walk learns nothing: a larger sigma, or more episodes.

With one episode per member, a sparse or noisy reward gives mostly tied returns: every member
that never reaches the goal scores the same, a mirrored pair with equal returns adds nothing to
the step, and the walk can stay at its floor for a thousand generations. More episodes per
member separate members that differ a little (one reaches the goal once in four tries, the
other never); a larger sigma makes members differ more, so that one of them finds the reward
at all. :class:`TieAdaptation` watches the share of the walk's comparisons that tie at the
generation's worst return (``floor_tied_share`` of :meth:`rlfree.optimiser.Optimiser.tell`):
when it is at least ``threshold`` for ``patience`` generations in a row, it doubles sigma (up to
``max_sigma``) if no member of the generation scored above the floor — nothing was found, so
look further — and doubles the episodes per member (up to ``max_episodes``) if some did: a
reward is there but too rare to rank members by. Either one takes over when the other is at its
cap. Ties at the top (every CartPole member that balances scores 500) are success, not a floor,
and change nothing.

Measured by ``scripts/ties_report.py`` (README, "Sparse rewards"), this did not help on
MountainCar-v0, FrozenLake 8x8 or the slippery FrozenLake from the library defaults, and
hurt the first two; so it is an option (``--adapt-ties``), not a default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Adaptation:
    """One change: ``setting`` went from ``before`` to ``after``."""

    setting: str  # "episodes" or "sigma"
    before: float
    after: float

    def __str__(self) -> str:
        return f"{self.setting} {self.before:g} -> {self.after:g}"


@dataclass(frozen=True)
class TieAdaptation:
    threshold: float = 0.9  # share of comparisons tied at the floor that counts as "learning nothing"
    patience: int = 10  # generations in a row before anything changes
    max_episodes: int = 32  # 32 episodes already tell 1-in-32 differences apart
    max_sigma: float = 2.0  # beyond this a tanh network's outputs are mostly saturated noise

    def observe(self, floor_tied_share: float, found: bool, streak: int, episodes: int, sigma: float) -> tuple[int, Adaptation | None]:
        """-> (the new streak of floor-tied generations, the change to make now or None).

        ``found``: some member of this generation scored above the floor.
        """
        streak = streak + 1 if floor_tied_share >= self.threshold else 0
        if streak < self.patience:
            return streak, None
        more_episodes = Adaptation("episodes", episodes, min(2 * episodes, self.max_episodes)) if episodes < self.max_episodes else None
        larger_sigma = Adaptation("sigma", sigma, min(2 * sigma, self.max_sigma)) if sigma < self.max_sigma else None
        change = (more_episodes or larger_sigma) if found else (larger_sigma or more_episodes)
        return (0, change) if change is not None else (streak, None)
