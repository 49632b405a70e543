"""Weight-agnostic search on free networks against the reference's numbers and a dense walk.

    python scripts/wann_report.py                                  # the README's table (about 7 minutes on 2 quiet cores)
    python scripts/wann_report.py --envs CartPole-v1 --scale 0.1   # a quick look
    python scripts/wann_report.py --markdown wann.md --json wann.json

For each task (``rlfree/CartPoleSwingUp-v0``, ``CartPole-v1``), three runs of ``rlfree train`` in
this process, with the settings of :data:`SETTINGS`:

1. ``--algo wann`` for the search's generations only: the wiring found. Its agent (the run's
   last centre) plays ``--episodes`` (100) episodes of gymnasium's own env at each of the six
   shared weights: the mean over the six, and the best weight's mean.
2. the same run resumed (bitwise as if never stopped) through the tuning generations: the
   mask-respecting walk (or CMA-ES over the existing weights) from that best shared weight, each
   member playing ``tune_episodes`` episodes where the settings give some. Its best checkpoint
   (chosen on the run's held-out evaluation episodes, not these) plays the same 100 episodes.
3. ``--algo walk`` on a dense free network of the same size (the same hidden neurons and ticks,
   tanh everywhere, every weight present) with the walk settings of :data:`SETTINGS`, for its
   ``dense`` generations (its episodes and time are in the table beside the WANN's); its best
   checkpoint plays the same 100 episodes.

Reported: the returns (mean +- std over the 100 episodes; for "mean over weights", the mean of
the six means +- their std), the connections (weights that exist) of each network, and the wall
time and episodes each run took (every episode played: the members', the centre's evaluations).
Beside them, the reference's published numbers (Gaier and Ha 2019, Table 1) where it has some.
The 100 episodes use seeds 2^31 + i, which no training or evaluation episode uses. The machine's
load changes the times: they are measured on whatever else runs there.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rlfree.envs  # noqa: F401  registers rlfree/CartPoleSwingUp-v0
from rlfree.atomic_text import write_text_atomically
from rlfree.agent import Agent, load_agent
from rlfree.commands import train as train_command
from rlfree.markdown_table import markdown_table
from rlfree.wann import SHARED_WEIGHTS

SCORE_SEED = 2**31  # the 100 episodes' seeds: SCORE_SEED + i, outside training's and evaluation's ranges

# Per task: the network, the search and the tuning walk (every other setting: rlfree's default).
# tuner: what tunes the wiring (--wann-tuner); dense: the dense walk's generations (its episodes are
# reported beside the WANN's: at these sizes the same episodes as search and tuning would take hours).
SETTINGS = {
    "rlfree/CartPoleSwingUp-v0": dict(hidden=12, ticks=3, wann_population=64, search=150, tune=400, tune_episodes=8, tuner="cmaes", cmaes_population=24,
                                      cmaes_sigma=0.2, walk_population=64, sigma=0.1, lr=0.05, dense=300, episodes=1, eval_freq=10,
                                      eval_episodes=10),
    "CartPole-v1": dict(hidden=4, ticks=3, wann_population=32, search=20, tune=20, tune_episodes=0, tuner="walk", cmaes_population=0, cmaes_sigma=0.2,
                        walk_population=32, sigma=0.1, lr=0.05, dense=40, episodes=1, eval_freq=5, eval_episodes=10),
}

# The reference's Table 1 (Gaier and Ha 2019), swing-up: a WANN at random shared weights, at the
# best shared weight, with tuned weights; a fixed dense topology with tuned weights.
REFERENCE = {
    "rlfree/CartPoleSwingUp-v0": {"mean over weights": "515 ± 58", "best shared weight": "723 ± 16", "after tuning": "932 ± 6",
                                  "dense, tuned": "918 ± 7"},
}


def train(arguments: list[str]) -> Path:
    """One ``rlfree train`` in this process (its console output kept out of the report); the run folder."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = train_command.main(arguments)
    if code != 0:
        raise RuntimeError(f"rlfree train {' '.join(arguments)} exited with {code}")
    if "--resume" in arguments:
        return Path(arguments[arguments.index("--resume") + 1])
    logdir = Path(arguments[arguments.index("--logdir") + 1])
    return max(logdir.iterdir(), key=lambda p: p.stat().st_mtime)


def progress(run: Path) -> dict:
    """The last row of the run's progress.csv: generation, episodes, elapsed."""
    with open(run / "progress.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return {"generation": int(last["generation"]), "episodes": int(last["episodes"]), "elapsed": float(last["elapsed"])}


def score(agent: Agent, episodes: int) -> np.ndarray:
    """(episodes,) returns of gymnasium's own env, seeds SCORE_SEED + i."""
    return agent.score([SCORE_SEED + i for i in range(episodes)])


def connections(agent: Agent) -> int:
    W = agent.policy.spec.matrix(agent.params[0].numpy())
    return int((W != 0).sum())


def common_args(env_id: str, s: dict, logdir: Path, seed: int) -> list[str]:
    empty = logdir / "empty.toml"  # no preset: the settings are these alone
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("")
    return ["--config", str(empty), "--env", env_id, "--hidden", str(s["hidden"]), "--ticks", str(s["ticks"]),
            "--population", str(s["walk_population"]), "--sigma", str(s["sigma"]), "--lr", str(s["lr"]),
            "--episodes", str(s["episodes"]), "--eval-freq", str(s["eval_freq"]), "--eval-episodes", str(s["eval_episodes"]),
            "--target", "1e9", "--seed", str(seed), "--logdir", str(logdir)]


def report_env(env_id: str, s: dict, scale: float, episodes: int, workdir: Path, seed: int) -> dict:
    search = max(1, round(s["search"] * scale))
    tune = max(1, round(s["tune"] * scale))
    wann_args = common_args(env_id, s, workdir / "wann", seed) + [
        "--algo", "wann", "--wann-population", str(s["wann_population"]), "--wann-generations", str(search),
        "--wann-tuner", s["tuner"], "--cmaes-population", str(s["cmaes_population"]), "--cmaes-sigma", str(s["cmaes_sigma"]),
        "--wann-tune-episodes", str(s["tune_episodes"])]
    run = train(wann_args + ["-n", str(search)])
    searched = progress(run)
    found = load_agent(run / "checkpoints" / "latest")
    by_weight = {w: score(found.with_shared_weight(w), episodes) for w in SHARED_WEIGHTS}
    means = np.array([r.mean() for r in by_weight.values()])
    best_weight = SHARED_WEIGHTS[int(means.argmax())]

    train(["--resume", str(run), "-n", str(search + tune)])
    tuned_progress = progress(run)
    tuned = load_agent(run)
    tuned_returns = score(tuned, episodes)

    dense_generations = max(1, round(s["dense"] * scale))
    dense_run = train(common_args(env_id, s, workdir / "dense", seed) + ["--activation", "tanh", "-n", str(dense_generations)])
    dense_progress = progress(dense_run)
    dense = load_agent(dense_run)
    dense_returns = score(dense, episodes)
    return {
        "env": env_id, "tuner": s["tuner"], "search_generations": search, "tune_generations": tune, "tune_episodes": s["tune_episodes"],
        "episodes_scored": episodes,
        "by_weight": {str(w): [float(r.mean()), float(r.std())] for w, r in by_weight.items()},
        "mean_over_weights": [float(means.mean()), float(means.std())],
        "best_weight": best_weight, "at_best_weight": [float(by_weight[best_weight].mean()), float(by_weight[best_weight].std())],
        "after_tuning": [float(tuned_returns.mean()), float(tuned_returns.std())],
        "dense": [float(dense_returns.mean()), float(dense_returns.std())],
        "connections": {"wann": connections(found), "tuned": connections(tuned), "dense": connections(dense)},
        "search": searched, "tuning": tuned_progress, "dense_run": dense_progress,
        "neurons": found.policy.spec.neurons(found.params[0].numpy()),
        "runs": {"wann": str(run), "dense": str(dense_run)},
    }


def markdown(results: list[dict]) -> str:
    def pm(pair):
        return f"{pair[0]:.1f} ± {pair[1]:.1f}"

    header = ["task", "network", f"return over {results[0]['episodes_scored']} episodes", "reference (Table 1)", "connections",
              "wall time", "episodes"]
    rows = []
    for r in results:
        ref = REFERENCE.get(r["env"], {})
        s, t, d = r["search"], r["tuning"], r["dense_run"]
        rows += [
            [r["env"], "WANN, mean over the six shared weights", pm(r["mean_over_weights"]), ref.get("mean over weights", "—"),
             str(r["connections"]["wann"]), f"{s['elapsed']:.0f} s (search)", f"{s['episodes']:,}"],
            ["", f"WANN at its best shared weight ({r['best_weight']:g})", pm(r["at_best_weight"]), ref.get("best shared weight", "—"),
             str(r["connections"]["wann"]), "(same search)", ""],
            ["", f"WANN after tuning ({r['tuner']} over its weights, {r['tune_generations']} generations"
                 + (f", {r['tune_episodes']} episodes a member)" if r.get("tune_episodes") else ")"), pm(r["after_tuning"]),
             ref.get("after tuning", "—"), str(r["connections"]["tuned"]), f"{t['elapsed']:.0f} s (search + tuning)", f"{t['episodes']:,}"],
            ["", "dense free network, walk", pm(r["dense"]), ref.get("dense, tuned", "—"), str(r["connections"]["dense"]),
             f"{d['elapsed']:.0f} s", f"{d['episodes']:,}"],
        ]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default=",".join(SETTINGS), help=f"comma-separated, of {', '.join(SETTINGS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the search's and the tuning's generations (a quick look: 0.1)")
    parser.add_argument("--episodes", type=int, default=100, help="episodes each agent plays for the table (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the runs go (default: a temporary folder, removed after)")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args(argv)
    envs = args.envs.split(",")
    unknown = [e for e in envs if e not in SETTINGS]
    if unknown or args.scale <= 0 or args.episodes < 1:
        bad = f"--envs {','.join(unknown)}: use {', '.join(SETTINGS)}" if unknown else f"--scale {args.scale} / --episodes {args.episodes}: use positive numbers"
        print(f"wann_report: error: {bad}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        results = []
        for env_id in envs:
            started = time.perf_counter()
            results.append(report_env(env_id, SETTINGS[env_id], args.scale, args.episodes, workdir / env_id.replace("/", "-"), args.seed))
            print(f"{env_id}: {time.perf_counter() - started:.0f} s in all", file=sys.stderr, flush=True)
    table = markdown(results)
    print(table)
    if args.markdown:
        write_text_atomically(args.markdown, table + "\n")
    if args.json:
        write_text_atomically(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
