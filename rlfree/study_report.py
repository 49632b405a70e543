"""A study's report: trials.csv (every trial) and report.html (history, finalists, importances).

The page is written by hand, an inline SVG and tables, so that it needs nothing beyond Optuna:
Optuna's own plots (optuna.visualization) need plotly, a large package for one page. The
importances are Optuna's PED-ANOVA (``PedAnovaImportanceEvaluator``, no scikit-learn either):
over all completed trials for the settings every trial has, and per optimiser for the settings
that belong to it, as the space is conditional on the optimiser.
"""

from __future__ import annotations

import csv
import html
import io
import math
import warnings
from pathlib import Path

import optuna

from rlfree.atomic_text import write_text_atomically
from rlfree.tuning import Recheck, Task

COLUMNS = ["number", "state", "value", "solved", "used", "best_eval", "generations", "env_steps", "seconds", "worker", "error"]


def write_trials_csv(path: Path, study: optuna.Study, task: Task) -> None:
    """One row per trial: its state, value, figures and params (a column per searched setting)."""
    trials = study.get_trials(deepcopy=False)
    params = sorted({name for trial in trials for name in trial.params})
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS + params)
    for trial in trials:
        row = [trial.number, trial.state.name.lower(), "" if trial.value is None else trial.value]
        row += [trial.user_attrs.get(name, "") for name in COLUMNS[3:]]
        row += [trial.params.get(name, "") for name in params]
        writer.writerow(row)
    write_text_atomically(path, text.getvalue())


def importances(study: optuna.Study) -> dict[str, dict[str, float]]:
    """{'all trials' or 'algo walk': {param: importance}} over the completed trials; a group with
    fewer than 4 trials or one setting is left out (no importance can be told apart there)."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    done = [t for t in done if t.value is not None and math.isfinite(t.value)]
    groups = {"all trials": done}
    for algo in sorted({t.params.get("algo.algo") for t in done} - {None}):
        groups[f"algo {algo}"] = [t for t in done if t.params.get("algo.algo") == algo]
    result = {}
    for name, trials in groups.items():
        common = set.intersection(*(set(t.params) for t in trials)) if trials else set()
        common -= {"algo.algo"} if name != "all trials" else set()
        if len(trials) < 4 or len(common) < 2:
            continue
        group = optuna.create_study(direction="minimize")
        group.add_trials(trials)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the evaluator is experimental in Optuna
            evaluator = optuna.importance.PedAnovaImportanceEvaluator()
            result[name] = optuna.importance.get_param_importances(group, evaluator=evaluator, params=sorted(common))
    return result


def history_svg(study: optuna.Study, task: Task, width: int = 720, height: int = 260) -> str:
    """Each completed trial's value (solved: green, not solved: orange) and the best so far (a line);
    pruned trials as grey ticks along the top."""
    trials = study.get_trials(deepcopy=False)
    points = [(t.number, t.value, bool(t.user_attrs.get("solved"))) for t in trials
              if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]
    pruned = [t.number for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    if not points:
        return "<p>No completed trial.</p>"
    n = max(t.number for t in trials) + 1
    top = max(v for _, v, _ in points)
    bottom = min(v for _, v, _ in points)
    log = bottom > 0 and top / bottom > 20  # seconds from 0.1 to 30: a log axis shows both ends
    def y_of(v):
        lo, hi = (math.log(bottom), math.log(top)) if log else (bottom, top)
        u = (math.log(v) if log else v) - lo
        return height - 30 - (u / (hi - lo) if hi > lo else 0.5) * (height - 60)
    def x_of(i):
        return 50 + i / max(n - 1, 1) * (width - 70)
    parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" style="background:#fff;border:1px solid #ccc">']
    for value in (bottom, top):
        parts.append(f'<text x="4" y="{y_of(value) + 4:.1f}" font-size="10">{value:.3g}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height - 6}" font-size="11" text-anchor="middle">trial (value: time to target in '
                 f'{task.measure}{", log scale" if log else ""}; above {task.budget:g}: not solved)</text>')
    if task.budget <= top:
        parts.append(f'<line x1="50" x2="{width - 20}" y1="{y_of(task.budget):.1f}" y2="{y_of(task.budget):.1f}" stroke="#999" stroke-dasharray="4"/>')
    best, line = math.inf, []
    for number, value, solved in sorted(points):
        best = min(best, value)
        line.append(f"{x_of(number):.1f},{y_of(best):.1f}")
        colour = "#2a9d4b" if solved else "#e07b24"
        parts.append(f'<circle cx="{x_of(number):.1f}" cy="{y_of(value):.1f}" r="3" fill="{colour}"><title>trial {number}: {value:.4g}</title></circle>')
    parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#1f4e9c" stroke-width="1.5"/>')
    for number in pruned:
        parts.append(f'<line x1="{x_of(number):.1f}" x2="{x_of(number):.1f}" y1="8" y2="16" stroke="#aaa"><title>trial {number}: pruned</title></line>')
    parts.append("</svg>")
    return "\n".join(parts)


def table(header: list[str], rows: list[list]) -> str:
    cells = lambda row, tag: "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row)
    return "<table>\n<tr>" + cells(header, "th") + "</tr>\n" + "\n".join("<tr>" + cells(r, "td") + "</tr>" for r in rows) + "\n</table>"


def bars(values: dict[str, float]) -> str:
    rows = "".join(f'<tr><td>{html.escape(name)}</td><td><div style="background:#1f4e9c;height:10px;width:{300 * v:.0f}px"></div></td>'
                   f"<td>{v:.3f}</td></tr>" for name, v in values.items())
    return f"<table>{rows}</table>"


def write_report(path: Path, study: optuna.Study, task: Task, rechecks: list[Recheck], best: Recheck, preset: dict) -> None:
    trials = study.get_trials(deepcopy=False)
    states = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    body = [f"<h1>rlfree tune: {html.escape(study.study_name)}</h1>",
            f"<p>env {html.escape(task.env_id)}, target {task.target:g}, budget {task.shown(task.budget)} a trial, "
            f"trial seed {task.seed}; trials: {', '.join(f'{k} {v}' for k, v in sorted(states.items()))}.</p>",
            "<h2>History</h2>", history_svg(study, task),
            "<h2>Finalists, re-checked on held-out seeds</h2>",
            table(["trial", "settings", "runs", "mean value", "chosen"],
                  [[c.trial, " ".join(f"{k}={v}" for k, v in c.values.items()), "; ".join(o.shown(task) for o in c.outcomes),
                    f"{c.score(task):.4g}", "yes" if c is best else ""] for c in rechecks]),
            "<h2>Best preset (best.toml)</h2>",
            table(["setting", "value"], [[f"{s}.{k}", v] for s, values in preset.items() for k, v in values.items()]),
            "<h2>Parameter importances (PED-ANOVA)</h2>"]
    found = importances(study)
    body += [f"<h3>{html.escape(name)}</h3>" + bars(values) for name, values in found.items()] or ["<p>Too few completed trials.</p>"]
    params = sorted({name for t in trials for name in t.params})
    rows = [[t.number, t.state.name.lower(), "" if t.value is None else f"{t.value:.4g}", t.user_attrs.get("best_eval", ""),
             *[t.params.get(p, "") for p in params]] for t in sorted(trials, key=lambda t: (t.value is None, t.value or 0.0))]
    body += ["<h2>All trials, best first</h2>", table(["trial", "state", "value", "best centre", *params], rows)]
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;font-size:12px}"
    text = f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(study.study_name)}</title><style>{style}</style></head>\n<body>\n" \
           + "\n".join(body) + "\n</body></html>\n"
    write_text_atomically(path, text)
