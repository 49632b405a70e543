#!/usr/bin/env python
"""The cat-and-mouse figures, three ways of learning, each over 1000 games of gymnasium's own envs.

    python scripts/catmouse_report.py                       # the agents shipped in agents/
    python scripts/catmouse_report.py --chase runs/rlfree-CatMouseChase-v0__... \\
        --teacher runs/rlfree-CatMouseTeacher-v0__... --duel runs/rlfree-CatMouseDuel-v0__...

1. By reward: the mouse of ``rlfree/CatMouseChase-v0`` against the blog's teacher, on the same
   games: mean return and games survived.
2. By imitation: the mouse of ``rlfree/CatMouseTeacher-v0``: mistakes per game on held-out
   games (10 - return, and the blog's own grading :func:`rlfree.envs.catmouse.mistakes_per_game`),
   with the games played and the seconds of training its run took, beside the blog's LSTM.
3. Cat versus mouse: the final cat and mouse of a ``--coevolve`` run and those of generation 10,
   every mouse against every cat: capture rate and the mouse's mean return.

Game seeds come from the held-out range (never a training episode); every row of a table
plays the same games.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlfree.envs.catmouse import GAME_LENGTH, evader_action, mistakes_per_game, teacher_action
from rlfree.agent import Agent, load_agent
from rlfree.checkpoint import load_checkpoint
from rlfree.cli import shown_path, user_errors
from rlfree.coevolve import YARDSTICK, find_duel, load_duel_agent
from rlfree.errors import UserError
from rlfree.shipped import agents_dir

FIRST_SEED = 1_600_000_000  # held-out range [2^30, 2^31)
BLOG_LSTM = {"games": 3_000_000, "minutes": 40}  # the blog's LSTM (learning-ml-blog-cat-and-mouse): 1.0 mistakes per game
CHASE_ID, TEACHER_ID = "rlfree/CatMouseChase-v0", "rlfree/CatMouseTeacher-v0"


def parse_args(argv=None) -> argparse.Namespace:
    agents = agents_dir()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chase", type=Path, default=agents / "rlfree-CatMouseChase-v0", help="mouse trained by reward (run or checkpoint folder)")
    parser.add_argument("--teacher", type=Path, default=agents / "rlfree-CatMouseTeacher-v0", help="mouse trained by imitation (run or checkpoint folder)")
    parser.add_argument("--duel", type=Path, default=agents / "rlfree-CatMouseDuel-v0", help="a --coevolve run, or a folder with mouse/, cat/ and gen10/")
    parser.add_argument("--games", type=int, default=1000, help="games per figure (default: 1000)")
    parser.add_argument("--seed", type=int, default=FIRST_SEED, help=f"seed of the first game; game i uses seed+i (default: {FIRST_SEED})")
    parser.add_argument("--only", choices=["reward", "imitation", "duel"], action="append", help="print only these parts (repeatable)")
    return parser.parse_args(argv)


def scripted_returns(env_id: str, policy, seeds: list[int]) -> np.ndarray:
    """(games,) returns of a scripted mouse ``policy(observation) -> action`` in gymnasium's env."""
    env = gym.make(env_id)
    returns = np.zeros(len(seeds))
    for game, seed in enumerate(seeds):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            returns[game] += reward
            done = terminated or truncated
    env.close()
    return returns


class AgentMouse:
    """A saved agent as the ``policy(observation) -> action`` (with ``reset()``) that
    :func:`rlfree.envs.catmouse.mistakes_per_game` grades."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.network = agent.policy.network(agent.params)
        self.reset()

    def reset(self) -> None:
        self.activations = self.network.initial_activations(1)

    def __call__(self, observation) -> int:
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float64)[None])
        actions, self.activations = self.agent.policy.act(self.network, obs, self.activations)
        return int(actions[0])


def by_reward(path: Path, seeds: list[int]) -> None:
    agent = load_agent(path)
    rows = {
        f"free network ({shown_path(agent.source)})": agent.score(seeds),
        "blog's teacher": scripted_returns(CHASE_ID, teacher_action, seeds),
        "evader (hand-written, for scale)": scripted_returns(CHASE_ID, evader_action, seeds),
    }
    print(f"1. By reward: {CHASE_ID}, {len(seeds)} games of gymnasium's env (the same games for every mouse)")
    print(f"   {'mouse':<60} {'mean return':>11} {'survived':>9}")
    for name, returns in rows.items():
        # a caught mouse's return is below 0, a surviving one's above (see rlfree.coevolve.captured)
        print(f"   {name:<60} {returns.mean():>+11.2f} {np.mean(returns > 0):>9.1%}")
    mouse, teacher = rows[next(iter(rows))], rows["blog's teacher"]
    verdict = "beats" if mouse.mean() > teacher.mean() else "does NOT beat"
    print(f"   the free network {verdict} the teacher by {mouse.mean() - teacher.mean():+.2f} return per game")


def by_imitation(path: Path, seeds: list[int]) -> None:
    agent = load_agent(path)
    mistakes = GAME_LENGTH - agent.score(seeds)
    graded = mistakes_per_game(AgentMouse(agent), n_games=len(seeds), seed=seeds[0])
    state = load_checkpoint(path).state
    print(f"\n2. By imitation: {TEACHER_ID} (reward 1 per move equal to the teacher's), mouse {shown_path(agent.source)}")
    print(f"   mistakes per game, {len(seeds)} held-out games of gymnasium's env (10 - return):  {mistakes.mean():.3f}")
    print(f"   mistakes per game, rlfree.envs.catmouse.mistakes_per_game ({len(seeds)} games):  {graded:.3f}")
    if "episodes" in state:
        games, seconds = int(state["episodes"]), float(state["elapsed"])
        print(f"   to reach it: {games:,} games played (evaluations included), {seconds:.1f} s of training (generation {state['generation']})")
    print(f"   the blog's LSTM, 1.0 mistakes per game: {BLOG_LSTM['games']:,} games, {BLOG_LSTM['minutes']} CPU minutes")
    if "episodes" in state:
        print(f"   ratio: {BLOG_LSTM['games'] / games:.0f}x fewer games, {BLOG_LSTM['minutes'] * 60 / seconds:.0f}x less time")


def cat_versus_mouse(path: Path, seeds: list[int]) -> None:
    final = find_duel(path, "latest")
    early = path / f"gen{YARDSTICK}" if (path / f"gen{YARDSTICK}" / "mouse").is_dir() else find_duel(path, f"gen{YARDSTICK}")
    versions = {f"gen {YARDSTICK}": early, "final": final}
    generation = load_checkpoint(final / "mouse").state.get("generation", "?")
    print(f"\n3. Cat versus mouse: rlfree/CatMouseDuel-v0, {shown_path(final)} (final = generation {generation})")
    print(f"   {len(seeds)} games of gymnasium's env per match: capture rate / mouse's mean return")
    print(f"   {'':<14}" + "".join(f"{'cat ' + name:>22}" for name in versions))
    table = {}
    for mouse_name, mouse in versions.items():
        cells = []
        for cat_name, cat in versions.items():
            returns = load_duel_agent(mouse, cat).score(seeds)
            table[mouse_name, cat_name] = (float(np.mean(returns < 0)), float(returns.mean()))
            cells.append(f"{table[mouse_name, cat_name][0]:>12.1%} / {table[mouse_name, cat_name][1]:+6.2f}")
        print(f"   {'mouse ' + mouse_name:<14}" + "".join(f"{c:>22}" for c in cells))
    e, f = f"gen {YARDSTICK}", "final"
    cat_gain = table[e, f][0] - table[e, e][0]
    mouse_gain = table[f, e][1] - table[e, e][1]
    print(f"   the final cat against the gen-{YARDSTICK} mouse catches {cat_gain:+.1%} more often than the gen-{YARDSTICK} cat did")
    print(f"   the final mouse against the gen-{YARDSTICK} cat earns {mouse_gain:+.2f} more per game than the gen-{YARDSTICK} mouse did")


def main(argv=None) -> int:
    args = parse_args(argv)
    parts = args.only or ["reward", "imitation", "duel"]
    with user_errors("catmouse_report.py"):
        if args.games < 1:
            raise UserError(f"--games {args.games} is not accepted: use 1 or more")
        seeds = [args.seed + i for i in range(args.games)]
        if "reward" in parts:
            by_reward(args.chase, seeds)
        if "imitation" in parts:
            by_imitation(args.teacher, seeds)
        if "duel" in parts:
            cat_versus_mouse(args.duel, seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
