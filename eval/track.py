"""Benchmark trackers on an OTB-layout dataset: one-pass evaluation (OPE), side by side.

Each tracker is created fresh for each sequence, initialised on frame 0 with the groundtruth box and
updated on every later frame (no re-initialisation after a failure, as OTB's OPE). Scores follow
:mod:`.metrics` (frame 0 and absent-target frames not scored). Speed is frames per second of ``update``
alone: decoding and ``init`` are not timed.

Outputs in ``out_dir``: ``results.json``, ``success.png``, ``precision.png`` (when matplotlib is
installed), and ``boxes/TRACKER/SEQ.txt`` (``x,y,w,h,score`` per frame, frame 0 = the init box).

Outside reference trackers (``references``, e.g. NanoTrack from :mod:`.anchors`) run like any other row; their
results carry ``"reference": {...}`` (where the model came from, what ran it) and the table and plots label
them ``NAME (ref)`` (dashed curves).
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgecv.runtime.engine import Progress
from edgecv.runtime.track.base import Tracker, TrackError
from edgecv.runtime.track.sequences import list_sequences, write_boxes

from . import track_metrics as metrics

__all__ = ["evaluate", "run_sequence", "compare", "precision_deltas", "plot_curves", "print_table", "row_label"]


# OTB's spatial robustness evaluation (SRE) perturbs the init box: shifts by 10% of the target's
# size and scalings about its centre. (dx, dy) in target widths/heights, s a scale; run 0 is plain OPE.
INIT_PERTURBATIONS = [(0.0, 0.0, 1.0), (0.1, 0.0, 1.0), (-0.1, 0.0, 1.0), (0.0, 0.1, 1.0), (0.0, -0.1, 1.0),
                      (0.0, 0.0, 0.9), (0.0, 0.0, 1.1), (0.1, 0.1, 1.0), (-0.1, -0.1, 1.0), (0.1, -0.1, 1.0),
                      (-0.1, 0.1, 1.0), (0.0, 0.0, 0.8), (0.0, 0.0, 1.2)]


def perturbed_box(box, k: int):
    """The init box of run ``k`` (``INIT_PERTURBATIONS[k]``); run 0 is the box itself."""
    dx, dy, s = INIT_PERTURBATIONS[k]
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2 + dx * w, y + h / 2 + dy * h
    return (cx - s * w / 2, cy - s * h / 2, s * w, s * h)


def run_sequence(tracker: Tracker, seq, bar: Progress | None = None, init_box=None) -> dict:
    """Run one tracker over one sequence: per-frame ``boxes`` (N, 4), ``scores``, ``lost``, ``times``
    (seconds per update; frame 0 = init, timed separately as ``init_time``). ``init_box`` replaces the
    groundtruth's first box (robustness runs)."""
    boxes, scores, lost, times = [], [], [], []
    init_time = 0.0
    first = seq.groundtruth[0] if init_box is None else init_box
    for i, frame in enumerate(seq.frames()):
        t0 = time.perf_counter()
        res = tracker.init(frame, first) if i == 0 else tracker.update(frame)
        dt = time.perf_counter() - t0
        if i == 0:
            init_time = dt
        else:
            times.append(dt)
        boxes.append(res.box)
        scores.append(res.score)
        lost.append(bool(res.lost))
        if bar is not None:
            bar.advance()
    if len(boxes) != len(seq):
        raise TrackError(f"sequence {seq.name}: {seq.source} gave {len(boxes)} frames, groundtruth has {len(seq)}")
    return {"boxes": np.asarray(boxes, dtype=np.float64).reshape(-1, 4), "scores": np.asarray(scores),
            "lost": np.asarray(lost), "times": np.asarray(times), "init_time": init_time}


def row_label(name: str, result: dict | None = None) -> str:
    """A row's name in the table and plots: ``NAME (ref)`` for an outside reference (``"reference"`` set)."""
    return f"{name} (ref)" if result and result.get("reference") else name


def _fps(frames: int, seconds: float) -> float:
    return float(frames / seconds) if seconds > 0 else 0.0


def _public(summary: dict) -> dict:
    """A metrics summary without per-frame arrays, curves as lists (JSON-ready)."""
    out = {k: v for k, v in summary.items() if k not in ("ious", "center_errors")}
    out["success_curve"] = [round(float(v), 6) for v in summary["success_curve"]]
    out["precision_curve"] = [round(float(v), 6) for v in summary["precision_curve"]]
    return out


def evaluate(trackers: dict[str, Callable[[], Tracker]], dataset_dir, out_dir, progress: bool = True,
             table: bool | None = None, inits: int = 1, references: dict[str, dict] | None = None,
             settings: dict[str, dict] | None = None, precomputed: dict | None = None) -> dict:
    """Run every tracker on every sequence of ``dataset_dir``; write results to ``out_dir``; return them.

    ``trackers`` maps a display name to a factory (a class or a ``lambda: Tracker(...)``), called once
    per sequence. Per tracker the results hold ``sequences`` (per-sequence scores), ``overall`` (every
    scored frame of every sequence pooled, OTB's convention) and ``mean_of_sequences`` (each sequence
    weighs the same). ``progress``: a progress bar on stderr. ``table`` (default: same as ``progress``):
    print the side-by-side table. ``inits`` > 1 adds SRE-style runs from perturbed init boxes
    (``INIT_PERTURBATIONS[1:inits]``), pooled with the plain run: one-pass results on a small dev set
    turn on single drift events, and several starts say how much a difference is worth. ``references``:
    tracker name → what it is (a dict, stored as the row's ``"reference"``) for the rows that are outside
    references, not ours. ``settings``: tracker name → how it ran (``{"tracker", "backend", "precision"}``),
    stored as the row's ``"settings"``, which ``edgecv plan --accuracy`` reads. ``precomputed``: the runs already
    made elsewhere (``{(tracker, sequence, start): run}``, e.g. by :func:`edgecv.scale.track.sweep_runs` on
    Ray); then ``trackers``' factories are not called and only the scoring and writing happen here.
    """
    if not 1 <= inits <= len(INIT_PERTURBATIONS):
        raise TrackError(f"evaluate: inits must be 1..{len(INIT_PERTURBATIONS)}, got {inits}")
    if not trackers:
        raise TrackError("evaluate: no trackers given")
    references = references or {}
    if unknown := [n for n in references if n not in trackers]:
        raise TrackError(f"evaluate: references {', '.join(unknown)} are not among the trackers")
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    seqs = list_sequences(dataset_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "dataset": str(dataset_dir),
        "protocol": {
            "mode": "OPE: init on frame 0 with groundtruth, no re-initialisation" + (
                f"; plus {inits - 1} SRE-style runs per sequence from perturbed init boxes, pooled"
                if inits > 1 else ""),
            "init_perturbations": [list(p) for p in INIT_PERTURBATIONS[:inits]],
            "scored_frames": "all but frame 0 (init) and frames whose groundtruth is absent (w<=0, h<=0, NaN)",
            "success": "fraction of frames with IoU > t; AUC = mean over t in linspace(0, 1, 21)",
            "precision": "fraction of frames with centre error <= d px, d = 0..50; headline d = 20",
            "fps": "updated frames / summed update() time (init and decoding not timed)",
            "success_thresholds": [round(float(t), 4) for t in metrics.SUCCESS_THRESHOLDS],
            "precision_thresholds": [float(t) for t in metrics.PRECISION_THRESHOLDS],
        },
        "sequences": {s.name: {"frames": len(s), "source": s.source, **({"note": s.note} if s.note else {})}
                      for s in seqs},
        "trackers": {},
    }
    total = sum(len(s) for s in seqs) * len(trackers) * inits
    with Progress(progress, total, "evaluate") as bar:
        for tname, factory in trackers.items():
            per_seq, scored, scored_ope, frames_timed, seconds = {}, [], [], 0, 0.0
            for seq in seqs:
                runs, seq_scored = [], []
                for k in range(inits):
                    bar.describe(f"{tname} · {seq.name}" + (f" · init {k}" if inits > 1 else ""))
                    if precomputed is not None:
                        run = dict(precomputed[(tname, seq.name, k)])
                        bar.advance(len(seq))
                    else:
                        try:
                            run = run_sequence(factory(), seq, bar,
                                               perturbed_box(seq.groundtruth[0], k) if k else None)
                        except TrackError as e:
                            raise TrackError(f"{tname} on sequence {seq.name}: {e}") from e
                    stem = seq.name if k == 0 else f"{seq.name}.init{k}"
                    run["path"] = write_boxes(out_dir / "boxes" / tname / f"{stem}.txt", run["boxes"], run["scores"])
                    runs.append(run)
                    seq_scored.append(metrics.score_sequence(run["boxes"], seq.groundtruth))
                scored.extend(seq_scored)
                scored_ope.append(seq_scored[0])
                sc = metrics.pool_scores(seq_scored) if inits > 1 else seq_scored[0]
                n_upd = sum(len(r["times"]) for r in runs)
                t_upd = float(sum(r["times"].sum() for r in runs))
                frames_timed += n_upd
                seconds += t_upd
                per_seq[seq.name] = {
                    "auc": sc["auc"], "precision20": sc["precision20"], "mean_iou": sc["mean_iou"],
                    "fps": _fps(n_upd, t_upd), "frames": len(seq), "scored_frames": sc["frames"],
                    "lost_frames": int(sum(r["lost"].sum() for r in runs)),
                    "init_ms": 1000 * float(np.mean([r["init_time"] for r in runs])),
                    "boxes": str(runs[0]["path"].relative_to(out_dir)),
                }
                if inits > 1:
                    per_seq[seq.name]["auc_per_init"] = [float(x["auc"]) for x in seq_scored]
            pooled = metrics.pool_scores(scored)
            results["trackers"][tname] = {
                "overall": {**_public(pooled), "fps": _fps(frames_timed, seconds),
                            "lost_frames": int(sum(s["lost_frames"] for s in per_seq.values()))},
                "mean_of_sequences": {k: float(np.mean([s[k] for s in per_seq.values()]))
                                      for k in ("auc", "precision20", "mean_iou", "fps")},
                "sequences": per_seq,
            }
            if tname in references:
                results["trackers"][tname]["reference"] = references[tname]
            if settings and tname in settings:
                results["trackers"][tname]["settings"] = dict(settings[tname])
            if inits > 1:  # the plain one-pass figures as well
                ope = metrics.pool_scores(scored_ope)
                results["trackers"][tname]["ope"] = {"auc": ope["auc"], "precision20": ope["precision20"]}
    results["precision_deltas"] = precision_deltas(results)
    results["plots"] = plot_curves(results, out_dir)
    _write_json(out_dir / "results.json", results)
    if progress if table is None else table:
        print_table(results)
    return results


def _run_aucs(res: dict) -> dict:
    """(sequence, start) → (AUC, scored frames) of one tracker's results. Every start of a sequence
    scores the same frames, so each run's share is the sequence's scored frames / starts."""
    out = {}
    for seq, v in res["sequences"].items():
        aucs = v.get("auc_per_init") or [v["auc"]]
        for k, a in enumerate(aucs):
            out[(seq, k)] = (a, v["scored_frames"] / len(aucs))
    return out


def compare(res_a: dict, res_b: dict) -> dict | None:
    """Pooled-AUC difference B − A of two trackers' results on the runs they share, with a paired
    bootstrap 95% interval (:func:`.metrics.paired_delta`); None when they share no run."""
    ra, rb = _run_aucs(res_a), _run_aucs(res_b)
    keys = [k for k in ra if k in rb]
    if not keys:
        return None
    return metrics.paired_delta([ra[k][0] for k in keys], [rb[k][0] for k in keys], [ra[k][1] for k in keys])


def precision_deltas(results: dict) -> dict:
    """For every ``NAME/BACKEND/int8`` (or fp16) with a ``NAME/BACKEND/fp32`` beside it in ``results``:
    :func:`compare` against fp32. Said with the interval, "int8 is within 1 point" can be told apart
    from "this dev set cannot tell"."""
    trk = results["trackers"]
    out = {}
    for name, res in trk.items():
        head, _, prec = name.rpartition("/")
        ref = trk.get(f"{head}/fp32")
        if head and prec in ("int8", "fp16") and ref is not None and (d := compare(ref, res)) is not None:
            out[name] = {"reference": f"{head}/fp32", **d}
    return out


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def plot_curves(results: dict, out_dir) -> dict | None:
    """Write ``success.png`` and ``precision.png`` (pooled curves, OTB style: legend sorted by AUC /
    precision@20 with the value in brackets). Returns their file names, or None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib is not installed: skipping success.png / precision.png", file=sys.stderr)
        return None
    out_dir = Path(out_dir)
    trk = results["trackers"]
    n_seq = len(results["sequences"])
    n_seq = f"{n_seq} sequence{'s' if n_seq != 1 else ''}"
    specs = [
        ("success.png", "success_curve", "auc", metrics.SUCCESS_THRESHOLDS, "Overlap threshold (IoU >)",
         "Success rate", f"Success plots of OPE ({n_seq})", "AUC"),
        ("precision.png", "precision_curve", "precision20", metrics.PRECISION_THRESHOLDS,
         "Location error threshold (px)", "Precision", f"Precision plots of OPE ({n_seq})", "@20px"),
    ]
    written = {}
    for fname, curve, key, xs, xlabel, ylabel, title, tag in specs:
        fig = Figure(figsize=(6.4, 4.8))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for name in sorted(trk, key=lambda n: -trk[n]["overall"][key]):
            o = trk[name]["overall"]
            ax.plot(xs, o[curve], linewidth=2, linestyle="--" if trk[name].get("reference") else "-",
                    label=f"{row_label(name, trk[name])} [{tag} {o[key]:.3f}]")
        if key == "precision20":
            ax.axvline(metrics.PRECISION_AT, color="0.6", linestyle=":", linewidth=1)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(xs[0], xs[-1]), ylim=(0, 1.02))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left" if key == "auc" else "lower right", fontsize=9)
        fig.tight_layout()
        path = out_dir / fname
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
        try:
            fig.savefig(tmp, dpi=110)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        written[key] = fname
    return {"success": written["auc"], "precision": written["precision20"]}


def print_table(results: dict, file=None) -> None:
    """Print AUC, precision@20 and fps per sequence, pooled and averaged, trackers side by side."""
    trk = results["trackers"]
    names = list(trk)
    labels = [row_label(t, trk[t]) for t in names]
    rows = [(s, [trk[t]["sequences"][s] for t in names]) for s in results["sequences"]]
    rows += [("all frames (pooled)", [trk[t]["overall"] for t in names]),
             ("mean of sequences", [trk[t]["mean_of_sequences"] for t in names])]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        head = "sequence".ljust(22) + "".join(f"{t + ' AUC':>12}{'P@20':>8}{'fps':>8}" for t in labels)
        print(head, file=file or sys.stdout)
        for label, cells in rows:
            print(label.ljust(22) + "".join(f"{c['auc']:12.3f}{c['precision20']:8.3f}{c['fps']:8.1f}" for c in cells),
                  file=file or sys.stdout)
        _print_deltas(results, file)
        return
    table = Table(title=f"OPE on {results['dataset']}  (AUC: success-curve area, P@20: precision at 20 px)")
    table.add_column("sequence", no_wrap=True)
    for t in labels:
        table.add_column(f"{t}\nAUC", justify="right")
        table.add_column("P@20", justify="right")
        table.add_column("fps", justify="right")
    best = {k: [max(c[k] for c in cells) for _, cells in rows] for k in ("auc", "precision20")}
    for r, (label, cells) in enumerate(rows):
        row = [f"[bold]{label}[/bold]" if r >= len(rows) - 2 else label]
        for c in cells:
            for k in ("auc", "precision20"):
                v = f"{c[k]:.3f}"
                row.append(f"[bold green]{v}[/bold green]" if len(names) > 1 and c[k] == best[k][r] else v)
            row.append(f"{c['fps']:.0f}")
        if r == len(rows) - 2:
            table.add_section()
        table.add_row(*row)
    console = Console(file=file)
    # Never squeeze numbers or names into "…" on a narrow (or non-tty, 80-column) console: widen instead
    # (a header wraps at spaces, so its longest word sets the AUC column's width).
    need = max(len(r[0]) for r in rows) + 4 + sum(max(22, max(map(len, t.split())) + 18) for t in labels)
    if console.width < need:
        console = Console(file=file, width=need)
    console.print(table)
    _print_deltas(results, file)


def _print_deltas(results: dict, file=None) -> None:
    deltas = results.get("precision_deltas") or {}
    for name, d in deltas.items():
        lo, hi = d["ci95"]
        print(f"{name} − {d['reference']}: ΔAUC {100 * d['delta']:+.1f} pt (paired bootstrap 95% "
              f"[{100 * lo:+.1f}, {100 * hi:+.1f}] over {d['runs']} runs; {d['drifts']} run(s) with |Δ| > 0.05, "
              f"{100 * d['delta_without_drifts']:+.1f} pt without them)", file=file or sys.stdout)
