"""The random walk against backpropagation on supervised sequences: test MSE against seconds.

    python scripts/fit_report.py                        # the README's table and plot (every task, 5 seeds)
    python scripts/fit_report.py --seeds 0 --seconds 5  # a quick look
    python scripts/fit_report.py --report-only          # tables and plot from the runs already in --out
    python scripts/fit_report.py --tasks adding-10 --methods walk_smart,bptt_free --redo   # those runs again, the rest kept

Every method of ``rlfree fit`` (walk_reference, walk_smart, bptt_free, rnn, gru, lstm) on every
task and length: reference-4, memory-10, memory-50, adding-10/50/100/200, each for ``--seconds``
of training on one torch thread, per seed. The runs go seed-major (every task and method of seed
0, then seed 1, ...), ``--workers`` processes at a time, and each (task, seed) is saved to
``--out`` as it finishes, so an interrupted report resumes where it stopped and a partial one
still reports every task on the seeds done. A (task, seed) runs the chosen methods its file lacks,
or with ``--redo`` all of them again (after a change to how they learn); the file keeps the curves
of its other methods, so one method can be re-measured without re-running the rest.

Seconds are CPU seconds of the run's process (``--clock cpu``; test evaluations not counted): the
2 cores of the machine this was measured on are shared with other jobs, and CPU time charges a
run for what it computed, not for what it waited. With one thread it is the wall clock of an
idle core; the wall-clock seconds each run took on the shared cores are printed beside it.

Printed (and written to ``--markdown``): per task, the median and range over seeds of the test
loss (MSE) at a third, two thirds and all of the budget, the best constant answer's loss beside
it, and the steps each method took; then the backprop methods' gradient norms against sequence
length. ``--plot`` draws test MSE against seconds, median and range, one panel per task (Pillow).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from rlfree.atomic_text import write_text_atomically

TASKS = [("reference", 4), ("memory", 10), ("memory", 50), ("adding", 10), ("adding", 50), ("adding", 100), ("adding", 200)]
METHODS = ["walk_reference", "walk_smart", "bptt_free", "rnn", "gru", "lstm"]
COLOURS = {"walk_reference": (214, 39, 40), "walk_smart": (255, 127, 14), "bptt_free": (31, 119, 180), "rnn": (148, 103, 189),
           "gru": (44, 160, 44), "lstm": (23, 190, 207)}


def run_one(task_name: str, length: int, seed: int, seconds: float, evaluations: int, out: str, methods: tuple[str, ...] = tuple(METHODS),
            settings: tuple[tuple[str, float], ...] = ()) -> str:
    """Every method on one task and seed, in this (worker) process on one thread; saved to ``out``."""
    import torch

    torch.set_num_threads(1)
    from rlfree.commands.fit import fit, task_label
    from rlfree.fit import FitConfig, network_spec, output_map
    from rlfree.sequence_tasks import make_task, mean_prediction_loss

    task = make_task(task_name, length)
    config = FitConfig(**dict(settings))
    start = time.perf_counter()
    curves = {m: asdict(c) for m, c in fit(task, list(methods), config, seconds, seed, evaluations=evaluations, clock="cpu").items()}
    floor = mean_prediction_loss(task, task.test_set(seed, config.test_size)[1])
    path = Path(out) / f"{task_label(task)}__{seed}.json"
    kept = json.loads(path.read_text())["curves"] if path.exists() else {}  # main checked that its seconds and config match
    write_text_atomically(path, json.dumps({"task": task_label(task), "seed": seed, "seconds": seconds, "mean_prediction_loss": floor,
                                            "config": asdict(config), "output_map": asdict(output_map(task, network_spec(task, config))),
                                            "curves": {**kept, **curves}}))
    return f"{task_label(task)} seed {seed}: {time.perf_counter() - start:.0f} s wall for {len(methods)} x {seconds:g} CPU s"


def pending_runs(out: Path, labels: list[str], seeds: list[int], methods: tuple[str, ...], seconds: float, config: dict,
                 redo: bool) -> list[tuple[str, int, tuple[str, ...]]]:
    """(label, seed, the methods to run) for each (task, seed), seed-major: the chosen ``methods``
    its file in ``out`` lacks, or all of them with ``redo``; none where it holds them all.
    ValueError where a file holds runs of other ``seconds`` or another ``config`` (asdict of a
    FitConfig): their curves would not belong in one table."""
    runs = []
    for seed in seeds:
        for label in labels:
            path = out / f"{label}__{seed}.json"
            saved = json.loads(path.read_text()) if path.exists() else None
            if saved is not None and (saved["seconds"] != seconds or saved["config"] != config):
                raise ValueError(f"{path} holds a run of {saved['seconds']:g} s with other settings")
            missing = methods if saved is None or redo else tuple(m for m in methods if m not in saved["curves"])
            if missing:
                runs.append((label, seed, missing))
    return runs


def load_runs(out: Path, seconds: float) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for path in sorted(out.glob("*.json")):
        data = json.loads(path.read_text())
        if data["seconds"] == seconds:
            runs.setdefault(data["task"], []).append(data)
    return runs


def loss_at(curve: dict, seconds: float) -> float:
    """The test loss of the last point at or before ``seconds`` of training."""
    best = curve["test_loss"][0]
    for t, loss in zip(curve["seconds"], curve["test_loss"]):
        if t <= seconds + 1e-9:
            best = loss
    return best


def spread(values: list[float]) -> str:
    """median [min-max], 3 significant digits"""
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


def tables(runs: dict[str, list[dict]], seconds: float) -> str:
    labels = [f"{n}-{l}" for n, l in TASKS if f"{n}-{l}" in runs]
    seeds = sorted({r["seed"] for rs in runs.values() for r in rs})
    from rlfree.fit import FitConfig

    default = asdict(FitConfig())
    changed = sorted({f"{k}={v:g}" for rs in runs.values() for r in rs for k, v in r["config"].items() if v != default[k]})
    lines = [f"rlfree fit's defaults{', but ' + ', '.join(changed) if changed else ''}. Test loss (MSE) after {seconds / 3:.3g}, {2 * seconds / 3:.3g} and {seconds:.3g} CPU seconds of training, median [min, max] "
             f"over seeds {','.join(map(str, seeds))}; floor: predicting the mean.", "",
             f"| task | seeds | floor | method | params | steps | MSE @ {seconds / 3:.3g} s | MSE @ {2 * seconds / 3:.3g} s | MSE @ {seconds:.3g} s | wall s |",
             "|-|-|-|-|-|-|-|-|-|-|"]
    for label in labels:
        group = runs[label]
        floor = statistics.median(r["mean_prediction_loss"] for r in group)
        for method in METHODS:
            curves = [r["curves"][method] for r in group if method in r["curves"]]
            if not curves:
                continue
            at = [spread([loss_at(c, seconds * k / 3) for c in curves]) for k in (1, 2, 3)]
            steps = statistics.median(c["steps"][-1] for c in curves)
            wall = statistics.median(c["wall_seconds"][-1] for c in curves)
            params = _params(label, method)
            lines.append(f"| {label} | {len(curves)} | {floor:.3f} | {method} | {params} | {steps:.0f} | {at[0]} | {at[1]} | {at[2]} | {wall:.0f} |")
    lines += ["", "Backprop: median over seeds and over each run's points of the whole gradient's norm, and of the ratio of the "
                  "loss's gradient at the first input tick to that at the last (small: the start of the sequence gets no error signal).", "",
              "| method | " + " | ".join(labels) + " |", "|-|" + "-|" * len(labels)]
    for method in ("bptt_free", "rnn", "gru", "lstm"):
        cells = []
        for label in labels:
            norms, ratios = [], []
            for r in runs[label]:
                extras = r["curves"].get(method, {}).get("extras", {})
                points = [(g, f, l) for g, f, l in zip(extras.get("grad_norm", []), extras.get("first_input_grad", []), extras.get("last_input_grad", []))
                          if not math.isnan(g)]
                if points:
                    norms.append(statistics.median(p[0] for p in points))
                    ratios.append(statistics.median(p[1] / p[2] if p[2] > 0 else math.inf for p in points))
            cells.append(f"{statistics.median(norms):.3g} / {statistics.median(ratios):.2g}" if norms else "-")
        lines.append(f"| {method} (norm / first:last) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def initial_gradients(seeds: list[int]) -> str:
    """The backprop methods' first step on the adding problem at every length: the whole gradient's
    norm and the first:last input-tick ratio at the initial weights, median over ``seeds``."""
    import torch

    from rlfree.commands.fit import METHODS as BUILDERS
    from rlfree.fit import FitConfig
    from rlfree.sequence_tasks import make_task

    torch.set_num_threads(1)
    lengths = [l for n, l in TASKS if n == "adding"]
    lines = ["At the initial weights (the first step's gradient, batch 100, median over seeds "
             f"{','.join(map(str, seeds))}), adding problem: the gradient's norm / first:last input-tick ratio.", "",
             "| method | " + " | ".join(f"adding-{l}" for l in lengths) + " |", "|-|" + "-|" * len(lengths)]
    # bptt_free also at larger initial weights (torch's cells keep their own initialisation): where
    # the repeated matrix stops being contractive, gradients explode instead of vanishing
    rows = [("bptt_free", 0.5), ("bptt_free", 2.0), ("bptt_free", 4.0), ("rnn", 0.5), ("gru", 0.5), ("lstm", 0.5)]
    for method, scale in rows:
        cells = []
        for length in lengths:
            config = FitConfig(test_size=1, init_scale=scale)
            figures = [BUILDERS[method](make_task("adding", length), config, seed).step(0) for seed in seeds]
            norm = statistics.median(f["grad_norm"] for f in figures)
            ratio = statistics.median(f["first_input_grad"] / f["last_input_grad"] for f in figures)
            cells.append(f"{norm:.3g} / {ratio:.2g}")
        shown = f"{method} (init_scale {scale:g})" if method == "bptt_free" else method
        lines.append(f"| {shown} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _params(label: str, method: str) -> int:
    from rlfree.commands.fit import METHODS as BUILDERS
    from rlfree.fit import FitConfig
    from rlfree.sequence_tasks import make_task

    name, length = label.rsplit("-", 1)
    return BUILDERS[method](make_task(name, int(length)), FitConfig(test_size=1), 0).n_params


def plot(runs: dict[str, list[dict]], seconds: float, path: Path) -> None:
    """Test MSE (log scale) against CPU seconds: per task a panel, per method the median and its range."""
    from PIL import Image, ImageDraw

    labels = [f"{n}-{l}" for n, l in TASKS if f"{n}-{l}" in runs]
    cols, panel_w, panel_h, margin = 4, 330, 250, 48
    rows = math.ceil((len(labels) + 1) / cols)
    image = Image.new("RGB", (cols * panel_w, rows * panel_h), "white")
    draw = ImageDraw.Draw(image)
    low, high = 1e-6, 10.0
    for i, label in enumerate(labels):
        x0, y0 = (i % cols) * panel_w + margin, (i // cols) * panel_h + 24
        w, h = panel_w - margin - 12, panel_h - 24 - 36
        draw.rectangle([x0, y0, x0 + w, y0 + h], outline=(120, 120, 120))
        draw.text((x0 + 4, y0 - 18), f"{label} (test MSE, log)", fill="black")
        for exponent in range(-6, 2):
            y = y0 + h * (math.log10(high) - exponent) / (math.log10(high) - math.log10(low))
            draw.line([x0 - 4, y, x0, y], fill="black")
            draw.text((x0 - 40, y - 6), f"1e{exponent}", fill="black")
        for k in range(0, 4):
            x = x0 + w * k / 3
            draw.text((x - 8, y0 + h + 4), f"{seconds * k / 3:.3g} s", fill="black")

        def point(t: float, loss: float) -> tuple[float, float]:
            loss = min(max(loss, low), high) if math.isfinite(loss) else high
            return x0 + w * t / seconds, y0 + h * (math.log10(high) - math.log10(loss)) / (math.log10(high) - math.log10(low))

        grid = [seconds * k / 30 for k in range(31)]
        floor = statistics.median(r["mean_prediction_loss"] for r in runs[label])
        draw.line([point(0, floor), point(seconds, floor)], fill=(160, 160, 160), width=1)
        medians = {}
        for method in METHODS:  # every range first, so that no band hides a median line
            curves = [r["curves"][method] for r in runs[label] if method in r["curves"]]
            if not curves:
                continue
            losses = [[loss_at(c, t) for c in curves] for t in grid]
            pale = tuple(int(c + (255 - c) * 0.75) for c in COLOURS[method])
            for t, values in zip(grid, losses):
                draw.line([point(t, min(values)), point(t, max(values))], fill=pale, width=3)
            medians[method] = [point(t, statistics.median(v)) for t, v in zip(grid, losses)]
        for method, line in medians.items():
            draw.line(line, fill=COLOURS[method], width=2)
    # the legend in the last panel's place
    x0, y0 = (len(labels) % cols) * panel_w + margin, (len(labels) // cols) * panel_h + 30
    for j, method in enumerate(METHODS):
        draw.line([x0, y0 + 20 * j + 6, x0 + 30, y0 + 20 * j + 6], fill=COLOURS[method], width=3)
        draw.text((x0 + 38, y0 + 20 * j), method, fill="black")
    draw.text((x0, y0 + 20 * len(METHODS) + 6), "grey: predicting the mean", fill=(120, 120, 120))
    draw.text((x0, y0 + 20 * len(METHODS) + 24), "line: median, band: range over seeds", fill="black")
    draw.text((x0, y0 + 20 * len(METHODS) + 42), "x: CPU seconds of training (tests not counted)", fill="black")
    image.save(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated (default 0,1,2,3,4)")
    parser.add_argument("--seconds", type=float, default=12.0, help="CPU seconds of training per method and run (default 12)")
    parser.add_argument("--evaluations", type=int, default=12, help="test points per run (default 12)")
    parser.add_argument("--tasks", default=",".join(f"{n}-{l}" for n, l in TASKS), help="comma-separated task-length labels (default all)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated (default all)")
    parser.add_argument("--set", dest="settings", metavar="FIELD=NUMBER", action="append", default=[],
                        help="a FitConfig number other than rlfree fit's default (repeatable): init_scale=2 makes the free network's "
                             "gradients explode, reference_lr=300 is the reference's step tuned; use another --out")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time, each on one thread (default 2)")
    parser.add_argument("--out", default="runs/fit_report", help="where each (task, seed) is saved; runs already there are kept")
    parser.add_argument("--redo", action="store_true", help="run the chosen methods again where --out holds them, replacing their curves")
    parser.add_argument("--report-only", action="store_true", help="no new runs: report what --out holds")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--plot", help="draw test MSE against seconds to this PNG")
    args = parser.parse_args(argv)
    known = {f"{n}-{l}": (n, l) for n, l in TASKS}
    chosen = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for label in chosen:
        if label not in known:
            parser.error(f"task {label!r} is not accepted; use any of {', '.join(known)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            parser.error(f"method {unknown[0]!r} is not accepted; use any of {', '.join(METHODS)}")
        from rlfree.fit import FitConfig

        defaults = asdict(FitConfig())
        pairs = [item.split("=", 1) for item in args.settings]
        for pair in pairs:
            if len(pair) != 2 or pair[0] not in defaults or isinstance(defaults[pair[0]], (bool, str)):
                parser.error(f"--set {'='.join(pair)!r} is not accepted; use FIELD=NUMBER, a number field of {', '.join(defaults)}")
        settings = tuple((key, type(defaults[key])(float(value))) for key, value in pairs)
        try:
            runs = pending_runs(out, chosen, [int(seed) for seed in args.seeds.split(",")], methods, args.seconds,
                                asdict(FitConfig(**dict(settings))), args.redo)
        except ValueError as error:
            parser.error(f"{error}; use another --out for --seconds {args.seconds:g}{''.join(' --set ' + item for item in args.settings)}")
        jobs = [(*known[label], seed, args.seconds, args.evaluations, str(out), missing, settings) for label, seed, missing in runs]
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            for line in pool.map(run_one, *zip(*jobs)) if jobs else []:
                print(line, flush=True)
    runs = load_runs(out, args.seconds)
    wanted = {int(seed) for seed in args.seeds.split(",")}
    runs = {label: [r for r in rs if r["seed"] in wanted] for label, rs in runs.items() if label in chosen}
    runs = {label: rs for label, rs in runs.items() if rs}
    if not runs:
        print(f"no runs of {args.seconds:g} s in {out}", file=sys.stderr)
        return 1
    seeds = sorted({r["seed"] for rs in runs.values() for r in rs})
    text = tables(runs, args.seconds) + "\n\n" + initial_gradients(seeds)
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text + "\n")
    if args.plot:
        plot(runs, args.seconds, Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
