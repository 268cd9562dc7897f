"""`edgecv predict` and `edgecv kernels ...`: the kernel-level latency predictor (registered on
`edgecv.cli.main` by import)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from edgecv.cli_base import MAX_THREADS, THREADS_HELP, _check_outputs, _csv_ints, _errors, main

DEFAULT_DEVICE = "desktop-xeon-2c"


def default_coefficients() -> Path:
    """The coefficients shipped as package data (``edgecv/devices/kernels/``; the repo's ``devices/kernels/``)."""
    import importlib.util

    spec = importlib.util.find_spec("edgecv.devices")
    base = Path(spec.origin).parent if spec and spec.origin else Path(__file__).resolve().parents[1] / "devices"
    return base / "kernels" / f"{DEFAULT_DEVICE}.json"


def _progress_bar(label: str):
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=None)

    def progress(i, n, what):
        bar.update(task, completed=i, total=n, description=f"{label} {what}")

    return bar, progress


def _shape_opt(values) -> dict:
    out = {}
    for v in values or ():
        if "=" not in v:
            raise click.BadParameter(f"{v!r}: expected NAME=1x3x224x224", param_hint="--input-shape")
        name, dims = v.split("=", 1)
        try:
            out[name] = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise click.BadParameter(f"{v!r}: dimensions must be integers", param_hint="--input-shape") from None
    return out


@main.command("predict")
@click.argument("artifacts", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--coefficients", "coef_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Fitted coefficients (default: devices/kernels/desktop-xeon-2c.json).")
@click.option("--threads", default="1,2", show_default=True, help="Thread counts to predict for.")
@click.option("--input-shape", "input_shapes", multiple=True,
              help="Fix a dynamic ONNX input: NAME=1x3x480x480 (repeatable).")
@click.option("--ops", "show_ops", type=int, default=0, help="Also list the N most expensive ops.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@_errors
def predict_cmd(artifacts, coef_path, threads, input_shapes, show_ops, as_json):
    """Predict the latency of ARTIFACTS (.onnx / .tflite) per configuration, with the per-kind split."""
    import warnings

    from rich.console import Console
    from rich.table import Table

    from edgecv.runtime.errors import EdgeCVError
    from edgecv.runtime.predict import load_coefficients, op_costs, predict

    path = Path(coef_path) if coef_path else default_coefficients()
    if not path.exists():
        raise EdgeCVError(f"no coefficients at {path}: fit them with `edgecv kernels build/measure/fit`, "
                          "or pass --coefficients")
    coef = load_coefficients(path)
    shapes = _shape_opt(input_shapes)
    tcounts = [int(t) for t in threads.split(",") if t.strip()]
    results = []
    for a in artifacts:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            costs = op_costs(a, shapes or None)
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        for t in tcounts:
            results.append(predict(a, coef, threads=t, costs=costs))
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "ops" or show_ops} for r in results], indent=1))
        return
    con = Console() if sys.stdout.isatty() else Console(width=200)
    kinds = sorted({k for r in results for k in r["per_kind_ms"]})
    short = {"elementwise": "eltwise", "dwconv": "dwconv", "matmul": "matmul", "reduce": "reduce"}
    stage = "kernel fit + whole-graph stage 2" if coef.stage2 else "kernel fit only"
    tab = Table(title=f"predicted latency (ms) — {coef.predictor_version}, {path.name} ({stage})")
    for col in ["artifact", "config", "total", "overhead"] + [short.get(k, k) for k in kinds]:
        tab.add_column(col, justify="left" if col in ("artifact", "config") else "right", no_wrap=True)
    for r in results:
        tab.add_row(Path(r["artifact"]).name, r["config"], f"{r['total_ms']:.3f}", f"{r['overhead_ms']:.3f}",
                    *[f"{r['per_kind_ms'].get(k, 0):.3f}" for k in kinds])
    con.print(tab)
    for r in results:
        if r["borrowed"]:
            con.print(f"[yellow]{Path(r['artifact']).name} {r['config']}: no kernel measured for "
                      + ", ".join(f"{k} (used {v})" for k, v in r["borrowed"].items()) + "[/]")
        if show_ops:
            top = sorted(r["ops"], key=lambda o: -o[3])[:show_ops]
            con.print(f"{Path(r['artifact']).name} {r['config']}: " + "; ".join(
                f"{n} {t} {ms:.3f}" for n, t, _, ms in top))


@main.group("kernels")
def kernels_grp():
    """Kernel micro-benchmarks for the latency predictor: build, measure, fit."""


@kernels_grp.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--tiny", is_flag=True, help="Three kernels only (tests).")
@click.option("--formats", default="onnx,tflite", show_default=True)
@click.option("--precisions", default="fp32,int8", show_default=True)
@click.option("--variants", is_flag=True, help="Also export the generated MobileNetV2 timing variants.")
@_errors
def kernels_build_cmd(out_dir, tiny, formats, precisions, variants):
    """Export the kernel micro-benchmark graphs into OUT (existing ones are kept)."""
    _check_outputs({"--out": out_dir}, into=["--out"])
    from edgecv.export.kernels import build_kernel_set, build_variants

    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    precs = tuple(p.strip() for p in precisions.split(",") if p.strip())
    bar, progress = _progress_bar("exporting")
    with bar:
        paths = build_kernel_set(out_dir, fmts, precs, "tiny" if tiny else "full", progress=progress)
        if variants:
            paths += build_variants(Path(out_dir) / "variants", fmts, precs, "tiny" if tiny else "full",
                                    progress=progress)
    click.echo(f"{len(paths)} kernel graphs in {out_dir}")


@kernels_grp.command("measure")
@click.argument("kernel_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
@click.option("--threads", default="1,2", show_default=True)
@click.option("--budget", type=float, default=0.3, show_default=True, help="Seconds of timed runs per graph.")
@_errors
def kernels_measure_cmd(kernel_dir, out, threads, budget):
    """Measure every kernel graph in KERNEL_DIR at each thread count → OUT (JSON)."""
    _check_outputs({"--out": out}, [kernel_dir])
    thread_counts = _csv_ints(threads)
    if not thread_counts or not all(1 <= t <= MAX_THREADS for t in thread_counts):
        raise click.BadParameter(f"{threads!r}: thread counts must be {THREADS_HELP}", param_hint="--threads")
    from edgecv.runtime.outputs import atomic_path
    from edgecv.runtime.predict import measure_kernels

    paths = sorted(p for p in Path(kernel_dir).iterdir() if p.suffix in (".onnx", ".tflite")
                   and ".tmp" not in p.name)
    if not paths:
        raise click.UsageError(f"no .onnx/.tflite files in {kernel_dir}")
    bar, progress = _progress_bar("measuring")
    with bar:
        doc = measure_kernels(paths, thread_counts, budget, progress=progress)
    doc["command"] = "edgecv kernels measure " + " ".join(sys.argv[3:])
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(doc, indent=None, separators=(",", ":")))
    click.echo(f"{len(doc['records'])} measurements → {out}")


@kernels_grp.command("fit")
@click.argument("measurements", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
@click.option("--recost", "recost_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Recompute the graphs' costs from the kernel files in this folder (keeps the latencies).")
@_errors
def kernels_fit_cmd(measurements, out, recost_dir):
    """Fit per-configuration, per-kind coefficients on MEASUREMENTS → OUT (JSON)."""
    _check_outputs({"--out": out}, [measurements, recost_dir])
    from edgecv.runtime.predict import fit_all, save_coefficients
    from edgecv.runtime.predict.model import recost

    doc = json.loads(Path(measurements).read_text())
    if recost_dir:
        doc = recost(doc, recost_dir)
    coef = fit_all(doc)
    save_coefficients(coef, out)
    for k, c in sorted(coef.configs.items()):
        click.echo(f"{k}: {c['n_kernels']} kernels, overhead {c['overhead_ms']:.4f} ms, fit within ±10% "
                   f"{c['fit_within_10']:.0%}, mean |rel err| {c['fit_mean_abs_rel_err']:.1%}")
    click.echo(f"→ {out}")
