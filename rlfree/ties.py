"""When the walk's returns tie it learns nothing: search wider, take what the search finds, or
play more episodes.

The walk's step is a weighted sum of its members' perturbations, weighted by their shaped
returns: when every member scores the same (a sparse reward that no member reaches), every
weight is zero and the centre does not move at all; generation after generation the walk is a
random search around one point, with radius sigma. :class:`TieAdaptation` watches the members'
returns and changes three things, each printed and logged when it happens:

1. **Search wider.** After ``patience`` generations in a row in which every member's return
   tied, sigma doubles (up to ``max_sigma``): members further from the centre differ more, so
   one of them is more likely to reach the reward. Measured on the initial centre of
   FrozenLake 8x8 (deterministic), 2,560 members each: sigma 0.2 reached the goal 0 times, 0.5
   3 times, 1 five times; MountainCar-v0's flag 3, 9, 7 times (``scripts/ties_report.py``).
2. **Take what it finds.** In the first generation after a tied one in which some member
   scores above the rest, sigma goes back to what it was before step 1 widened it (a step of
   the walk is ``lr / sigma`` times the perturbations, so a wide sigma would move the centre
   only a little toward what it found), and that member plays ``eval_episodes`` held-out
   episodes: if it scores above the generation's median return on every one, the centre moves
   to it. A member of a deterministic task that reached the goal once reaches it every time,
   and the centre then does too; a member that was lucky once (MountainCar-v0, whose start is
   random, reaches the flag from one start but not from most) is not taken, and the walk goes
   on from its own step.
3. **Play more episodes.** When, over ``patience`` generations, ``threshold`` of the walk's
   comparisons tied at the worst return on average although some members scored above it, and
   one policy's returns were seen to differ between episodes (the centre's evaluation, or a
   member's episodes), the episodes per member double (up to ``max_episodes``): the reward is
   there but too rare for one episode to rank members by (slippery FrozenLake). A
   deterministic task gains nothing from more episodes of the same policy and never gets them.

Ties at the top (every CartPole member that balances scores 500) are not at the floor and do
not count; the adaptation only widens sigma when every return ties. ``--no-adapt-ties`` keeps
the settings as given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Adaptation:
    """One setting changed: ``setting`` went from ``before`` to ``after``."""

    setting: str  # "sigma" or "episodes"
    before: float
    after: float

    def __str__(self) -> str:
        return f"{self.setting} {self.before:g} -> {self.after:g}"


@dataclass(frozen=True)
class TieState:
    """What the adaptation remembers between generations (saved with every checkpoint)."""

    tied: int = 0  # generations in a row in which every member's return tied (RunState.tie_streak)
    window: int = 0  # generations looked at since the last look at the episodes (rule 3)
    floor_tied: float = 0.0  # the sum of their shares of comparisons tied at the worst return
    varied: bool = False  # whether one policy's returns differed between episodes in them
    base_sigma: float | None = None  # sigma before rule 1 widened it; None: not widened


@dataclass(frozen=True)
class Decision:
    """What to change after a generation; None or False: nothing."""

    sigma: Adaptation | None = None
    episodes: Adaptation | None = None
    take_best: bool = False  # re-play the best member on held-out episodes; move the centre to it if it beats the median on each
    reason: str = ""


@dataclass(frozen=True)
class TieAdaptation:
    patience: int = 10  # generations looked at before a change
    max_sigma: float = 1.0  # members found the reward no more often at 2 than at 0.5-1 (FrozenLake 8x8, MountainCar-v0)
    threshold: float = 0.8  # mean share of comparisons tied at the worst return that calls for more episodes
    max_episodes: int = 4  # MountainCar-v0 from the defaults: 8 or 32 solved no more seeds than 4, and took more env steps

    def observe(self, state: TieState, *, all_tied: bool, floor_tied_share: float, varied: bool,
                sigma: float, episodes: int) -> tuple[TieState, Decision | None]:
        """One generation's returns -> (the new state, what to change now or None).

        all_tied: every member's return was the same (the walk's step was zero);
        floor_tied_share: of the walk's comparisons, those tied at the generation's worst return;
        varied: some policy (the centre in its evaluation, or a member) scored differently on
        different episodes of this generation.
        """
        sigma_change = episodes_change = None
        take_best, reasons = False, []
        if all_tied:
            tied = state.tied + 1
            base = state.base_sigma
            if tied % self.patience == 0 and sigma < self.max_sigma:
                base = sigma if base is None else base
                sigma_change = Adaptation("sigma", sigma, min(2 * sigma, self.max_sigma))
                reasons.append(f"every member's return tied for {tied} generations")
            state = replace(state, tied=tied, base_sigma=base)
        elif state.tied >= self.patience:
            take_best = True
            if state.base_sigma is not None and state.base_sigma != sigma:
                sigma_change = Adaptation("sigma", sigma, state.base_sigma)
            reasons.append(f"a member scored above the others after {state.tied} tied generations")
            state = replace(state, tied=0, base_sigma=None)
        else:
            state = replace(state, tied=0)
        state = replace(state, window=state.window + 1, floor_tied=state.floor_tied + floor_tied_share, varied=state.varied or varied)
        if state.window >= self.patience:
            share = state.floor_tied / state.window
            if self.threshold <= share < 1.0 and state.varied and episodes < self.max_episodes:  # < 1: some member scored above the worst
                episodes_change = Adaptation("episodes", episodes, min(2 * episodes, self.max_episodes))
                reasons.append(f"{share:.0%} of comparisons tied at the worst return over {state.window} generations, "
                               "and returns differ between episodes")
            state = replace(state, window=0, floor_tied=0.0, varied=False)
        if sigma_change is None and episodes_change is None and not take_best:
            return state, None
        return state, Decision(sigma_change, episodes_change, take_best, "; ".join(reasons))


# -- state.json: the run state holds ``tied`` (tie_streak); the rest are flat numbers beside the optimiser's
def to_numbers(state: TieState) -> dict[str, float | int]:
    return {"ties_window": state.window, "ties_floor_tied": state.floor_tied, "ties_varied": int(state.varied),
            "ties_base_sigma": state.base_sigma or 0.0}


def from_numbers(numbers: dict) -> TieState:
    """A checkpoint's state.json -> TieState, ``tied`` left to the run state (a checkpoint written
    before these numbers existed starts a new window, unwidened)."""
    base = float(numbers.get("ties_base_sigma", 0.0))
    return TieState(0, int(numbers.get("ties_window", 0)), float(numbers.get("ties_floor_tied", 0.0)),
                    bool(numbers.get("ties_varied", 0)), base if base > 0 else None)
