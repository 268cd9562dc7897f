"""Latency model: per configuration (backend × precision × threads) and per fit group,

    latency(op) = a + flops/b + bytes/c + max(0, bytes - L2)/d + [narrow] flops/e     (per group; all >= 0)
    latency(graph) = overhead + sum over the ops that run

where the fit group is the op kind, with conv split into 1x1 / kxk and data into transpose / (de)quantise /
other moves (``graph.GROUPS``), fitted by non-negative least squares on relative error over kernel
micro-benchmarks only. Version 2: the terms of some groups (``TERM_CHOICES``: the transposes LiteRT kernels
carry at their edges) are chosen per configuration by leave-one-kernel-out cross-validation on the kernels, and
in an int8 graph the ops that stay float are costed with the fp32 configuration's coefficients.

``L2`` is ``graph.CACHE_BYTES`` (bytes beyond it stream from L3/DRAM); ``narrow``
marks convs/matmuls with fewer than 16 input or output channels. Coefficients are stored as ``op_ms`` (a),
``ms_per_mflop`` (1/b), ``ms_per_mb`` (1/c), ``ms_per_mb_big`` (1/d) and ``ms_per_mflop_narrow`` (1/e). A
group that no kernel of a configuration exercised borrows another group's coefficients (``FALLBACK``); the
prediction says so (``borrowed``).

An optional second stage (``stage2``, per configuration) corrects what kernels in isolation miss (cache reuse,
layout changes, fusions inside whole graphs, contention); it must be validated leave-one-out
(``bench/bench_predictor.py``, ``--stored`` re-evaluates on stored whole-graph latencies). Two forms:

- ``kinds`` (version 1): one non-negative scale per op kind, NNLS on relative error, ridge pull towards 1;
- ``loglinear`` (version 2): log(measured / stage 1) = b0 + b1·(log stage 1 − centre), ridge towards 0 (no
  correction), i.e. a per-configuration size-dependent calibration in log (relative-error) space. Stored as
  {form: loglinear, intercept, slope, centre}; every op's cost is scaled by the same factor.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bundle import SUFFIX_BACKEND
from ..errors import EdgeCVError
from .graph import CACHE_BYTES, GROUPS, KINDS, graph_precision, op_costs, summarize

PREDICTOR_VERSION = "edgecv-kernel-nnls/2"  # /2: stage 2 may be ``loglinear``
FALLBACK = {"grid": "gather", "io": "data", "conv1x1": "conv", "transpose": "data", "quant": "data",
            "other": "elementwise",
            "gather": "elementwise", "resize": "elementwise", "reduce": "elementwise", "pool": "elementwise",
            "data": "elementwise", "dwconv": "conv", "matmul": "conv", "conv": "matmul", "elementwise": "data"}
BACKEND_OF = SUFFIX_BACKEND   # an artifact suffix → the backend its entries are measured on
# kinds whose float ops in an int8 graph take the fp32 coefficients (data moves keep the int8 ones)
FLOAT_KINDS = ("conv", "dwconv", "matmul", "gather", "elementwise", "pool", "resize", "reduce")
MFLOP, MB = 1e6, 1e6


def config_key(backend: str, precision: str, threads: int) -> str:
    return f"{backend}-{precision}-t{int(threads)}"


def parse_config(key: str) -> tuple[str, str, int]:
    backend, precision, t = key.rsplit("-", 2)
    return backend, precision, int(t[1:])


TERMS = ("op_ms", "ms_per_mflop", "ms_per_mb", "ms_per_mb_big", "ms_per_mflop_narrow")
NT = len(TERMS)
# terms each group may use (the others are held at 0): few kernels per group cannot pin five terms, and
# "narrow" only means something for convs and matmuls
_ALL = set(TERMS)
_NO_NARROW = _ALL - {"ms_per_mflop_narrow"}
_BASIC = {"op_ms", "ms_per_mflop", "ms_per_mb"}
GROUP_TERMS = {"conv": _ALL, "conv1x1": _ALL, "matmul": _ALL, "dwconv": _NO_NARROW, "elementwise": _NO_NARROW,
               "gather": _NO_NARROW, "transpose": _NO_NARROW, "grid": {"op_ms", "ms_per_mflop"}}


def _terms(s: dict) -> list[float]:
    return [float(s.get("ops", 0)), float(s.get("flops", 0.0)) / MFLOP, float(s.get("bytes", 0.0)) / MB,
            float(s.get("bytes_big", 0.0)) / MB, float(s.get("flops_narrow", 0.0)) / MFLOP]


def _features(summary: dict) -> np.ndarray:
    row = [1.0]
    for k in GROUPS:
        row += _terms(summary.get(k, {}))
    return np.array(row)


@dataclass
class Coefficients:
    predictor_version: str = PREDICTOR_VERSION
    fitted_on: str = ""
    # key -> {overhead_ms, kinds: {kind: {op_ms, ms_per_mflop, ms_per_mb, fitted}}, fit figures}
    configs: dict = field(default_factory=dict)
    stage2: dict = field(default_factory=dict)    # key -> {kind_scale: {kind: s}, overhead_scale, fitted_on}

    def as_dict(self) -> dict:
        return {"predictor_version": self.predictor_version, "fitted_on": self.fitted_on, "configs": self.configs,
                "stage2": self.stage2}

    @classmethod
    def from_dict(cls, d: dict) -> Coefficients:
        if not isinstance(d, dict) or "configs" not in d:
            raise EdgeCVError("not a predictor coefficients file (no 'configs')")
        return cls(d.get("predictor_version", "?"), d.get("fitted_on", ""), d["configs"], d.get("stage2") or {})


def save_coefficients(coef: Coefficients, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(coef.as_dict(), indent=1))
    os.replace(tmp, path)
    return path


def load_coefficients(path) -> Coefficients:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise EdgeCVError(f"cannot read coefficients {path}: {e.strerror}") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError:
        import yaml
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise EdgeCVError(f"{path}: neither JSON nor YAML ({str(e)[:200]})") from None
    try:
        return Coefficients.from_dict(d)
    except EdgeCVError as e:
        raise EdgeCVError(f"{path}: {e}") from None


# ---------------------------------------------------------------- measuring

def _target_runs(sess, feeds, budget_s: float, lo: int = 10, hi: int = 300) -> int:
    import time

    sess.run(feeds)
    t0 = time.perf_counter()
    sess.run(feeds)
    dt = max(time.perf_counter() - t0, 1e-5)
    return int(min(hi, max(lo, budget_s / dt)))


def measure_artifact(path, backend: str, threads: int, budget_s: float = 0.3) -> dict:
    """Median latency (ms) of one artifact on this machine, runs sized to about ``budget_s``."""
    from .. import load
    from ..profile import random_feeds, time_session

    sess = load(path, backend=backend, threads=threads, verify=False)
    feeds = random_feeds(sess)
    runs = _target_runs(sess, feeds, budget_s)
    return time_session(sess, feeds, runs=runs, warmup=3)


def measure_kernels(paths, threads=(1, 2), budget_s: float = 0.3, progress=None) -> dict:
    """Measure every kernel graph at every thread count; returns a measurement document (JSON-able).

    Each record keeps the graph's per-kind cost summary, so fitting needs only this document.
    """
    from ..profile import cpu_model, runtime_versions, this_device

    records = []
    paths = [Path(p) for p in paths]
    jobs = [(p, t) for p in paths for t in threads]
    summaries = {}
    for i, (p, t) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), f"{p.name} x{t}")
        backend = BACKEND_OF.get(p.suffix.lower())
        if backend is None:
            continue
        if p not in summaries:
            costs = op_costs(p)
            summaries[p] = ({k: {n: round(x) for n, x in v.items()}
                             for k, v in summarize(costs, by="group").items() if v["ops"]}, graph_precision(costs))
        summary, precision = summaries[p]
        meta = {}
        mp = p.with_name(p.name + ".kernel.json")
        if mp.exists():
            meta = json.loads(mp.read_text())
        lat = measure_artifact(p, backend, t, budget_s)
        records.append({"file": p.name, "kernel": meta.get("kernel") or meta.get("variant") or p.stem,
                        "kind": meta.get("kind"), "params": meta.get("params"), "backend": backend,
                        "precision": meta.get("precision", precision), "threads": t,
                        "config": config_key(backend, meta.get("precision", precision), t),
                        "latency_ms": lat["median"], "min_ms": lat["min"], "p90_ms": lat["p90"], "runs": lat["runs"],
                        "summary": summary})
    if progress:
        progress(len(jobs), len(jobs), "done")
    date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {"schema": "edgecv.kernel-measurements/1", "device": this_device(), "cpu": cpu_model(), "date": date,
            "tools": runtime_versions(), "records": records}


# ---------------------------------------------------------------- fitting

STATS = {"median": "latency_ms", "min": "min_ms"}


# Terms a group may use, alternatives chosen per configuration by leave-one-kernel-out cross-validation on the
# kernels (``fit_all(select_terms=True)``; whole graphs play no part). LiteRT kernels carry NCHW<->NHWC
# transposes at their edges, and how much of a kernel's time the NNLS gives them rather than the op itself is
# unstable: "bytes" lets transposes cost only a rate per MB moved (plus a fixed cost).
TERM_CHOICES = {"transpose": {"default": _NO_NARROW, "bytes": {"op_ms", "ms_per_mb"}}}


def _kernel_predict(cfg: dict, summary: dict) -> float:
    p = cfg["overhead_ms"]
    for g in GROUPS:
        s = summary.get(g)
        if s:
            kc, _ = _kind_coef(cfg, g)
            p += sum(kc.get(t, 0.0) * v for t, v in zip(TERMS, _terms(s)))
    return p


def fit(records: list[dict], key: str, stat: str = "min", group_terms: dict | None = None) -> dict:
    """NNLS fit of one configuration on its kernel records (relative-error weighting).

    ``stat``: which latency to fit, ``min`` (default: the least disturbed by other processes on a shared
    machine) or ``median``. ``group_terms`` overrides ``GROUP_TERMS`` for some groups.
    """
    from scipy.optimize import nnls

    terms_of = dict(GROUP_TERMS, **(group_terms or {}))
    rows = [r for r in records if r["config"] == key]
    if not rows:
        raise EdgeCVError(f"no kernel measurements for configuration {key}")
    X = np.stack([_features(r["summary"]) for r in rows])
    for j, k in enumerate(GROUPS):
        for t, term in enumerate(TERMS):
            if term not in terms_of.get(k, _BASIC):
                X[:, 1 + NT * j + t] = 0.0
    y = np.array([r.get(STATS[stat], r["latency_ms"]) for r in rows], dtype=float)
    w = 1.0 / np.maximum(y, 1e-3)
    scale = np.abs(X).max(0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    coef, _ = nnls(Xs * w[:, None], y * w, maxiter=50 * X.shape[1])
    coef = coef / scale
    pred = X @ coef
    kinds = {}
    seen = {}
    for j, k in enumerate(GROUPS):
        cols = X[:, 1 + NT * j: 1 + NT * (j + 1)]
        seen[k] = bool(cols.any())
        kinds[k] = dict(zip(TERMS, (float(v) for v in coef[1 + NT * j: 1 + NT * (j + 1)])), fitted=seen[k])
    rel = np.abs(pred - y) / y
    return {"overhead_ms": float(coef[0]), "kinds": kinds, "n_kernels": len(rows),
            "fit_rmse_ms": float(np.sqrt(np.mean((pred - y) ** 2))), "fit_within_10": float(np.mean(rel <= 0.1)),
            "fit_mean_abs_rel_err": float(rel.mean()), "stat": stat}


def recost(measurements: dict, kernel_dir) -> dict:
    """Recompute the cost summaries of stored kernel measurements from the kernel files (after a change of
    the cost rules; the latencies are kept)."""
    kernel_dir = Path(kernel_dir)
    cache = {}
    for r in measurements["records"]:
        p = kernel_dir / r["file"]
        if not p.exists():
            raise EdgeCVError(f"{p}: kernel file of a stored measurement is missing; cannot recost")
        if p not in cache:
            cache[p] = {k: {n: round(x) for n, x in v.items()}
                        for k, v in summarize(op_costs(p), by="group").items() if v["ops"]}
        r["summary"] = cache[p]
    return measurements


def select_terms(records: list[dict], key: str, stat: str = "min", min_kernels: int = 12) -> tuple[dict, dict]:
    """Per group of ``TERM_CHOICES`` (greedily, in order, the other groups at their choice so far), the
    alternative with the best leave-one-kernel-out figures on this configuration's kernels (share within ±10%,
    then median relative error; ties keep the earlier alternative, the default first). Returns ({group: name},
    {group: {name: [within_10, median_rel_err]}}). Fewer than ``min_kernels`` kernels: the defaults."""
    rows = [r for r in records if r["config"] == key]
    col = STATS[stat]
    chosen = {g: "default" for g in TERM_CHOICES}
    scores = {}
    if len(rows) < min_kernels:
        return chosen, scores
    y = np.array([r.get(col, r["latency_ms"]) for r in rows], dtype=float)
    for group, alts in TERM_CHOICES.items():
        if not any(group in r["summary"] for r in rows):
            continue
        best = None
        for name in alts:
            terms = {g: TERM_CHOICES[g][chosen[g]] for g in TERM_CHOICES}
            terms[group] = alts[name]
            rel = np.array([abs(_kernel_predict(fit(rows[:i] + rows[i + 1:], key, stat, terms), r["summary"])
                                / y[i] - 1.0) for i, r in enumerate(rows)])
            score = (float(np.mean(rel <= 0.1)), -float(np.median(rel)))
            scores.setdefault(group, {})[name] = [score[0], -score[1]]
            if best is None or score > best[0]:  # ties keep the earlier (the default)
                best = (score, name)
        chosen[group] = best[1]
    return chosen, scores


def fit_all(measurements: dict, fitted_on: str | None = None, stat: str = "min",
            choose_terms: bool = True) -> Coefficients:
    """Fit every configuration of a measurement document. ``choose_terms`` (version 2): pick the terms of the
    groups in ``TERM_CHOICES`` per configuration by leave-one-kernel-out cross-validation (stored as
    ``term_choice`` / ``term_cv``)."""
    recs = measurements["records"]
    keys = sorted({r["config"] for r in recs})
    desc = fitted_on or (f"{len(recs)} kernel measurements ({stat} latency) on {measurements.get('cpu', '?')} "
                         f"({measurements.get('date', '?')})")
    configs = {}
    for k in keys:
        if choose_terms:
            chosen, scores = select_terms(recs, k, stat)
            cfg = fit(recs, k, stat, {g: TERM_CHOICES[g][n] for g, n in chosen.items()})
            cfg["term_choice"], cfg["term_cv"] = chosen, scores
        else:
            cfg = fit(recs, k, stat)
        configs[k] = cfg
    return Coefficients(fitted_on=desc, configs=configs)


# ---------------------------------------------------------------- predicting

def _kind_coef(cfg: dict, kind: str) -> tuple[dict, str]:
    seen = []
    k = kind
    while k not in seen:
        c = cfg["kinds"].get(k)
        if c is not None and c.get("fitted", True):
            return c, k
        seen.append(k)
        k = FALLBACK.get(k, "elementwise")
    return dict.fromkeys(TERMS, 0.0), "none"


def _choose_config(coef: Coefficients, backend: str, precision: str, threads: int) -> str:
    key = config_key(backend, precision, threads)
    if key in coef.configs:
        return key
    same = [k for k in coef.configs if parse_config(k)[0] == backend and parse_config(k)[1] == precision]
    if not same:
        raise EdgeCVError(f"the coefficients have no configuration for {backend} {precision} (no {precision} "
                          f"kernels were measured; have {', '.join(sorted(coef.configs)) or 'none'})")
    return min(same, key=lambda k: abs(parse_config(k)[2] - threads))


def predict(path, coefficients: Coefficients, threads: int = 1, backend: str | None = None, costs=None,
            stage2: bool = True, float_ops_fp32: bool = True) -> dict:
    """Predicted latency of an artifact: {config, total_ms, overhead_ms, per_kind_ms, ops, borrowed}.

    ``ops`` lists (name, op_type, kind, ms) of every op that runs; ``borrowed`` names kinds whose
    coefficients came from another kind (no kernel of that kind was measured for the configuration).
    ``float_ops_fp32`` (default, version 2): in an int8 graph, compute ops that do not run in int8 are costed
    with the fp32 configuration's coefficients (``float_ops_ms`` is their share).
    """
    path = Path(path)
    if costs is None:
        costs = op_costs(path)
    backend = backend or BACKEND_OF.get(path.suffix.lower())
    if backend is None:
        raise EdgeCVError(f"{path}: cannot tell the backend from the suffix; pass backend=")
    backend = "ort" if backend.startswith("ort") else backend
    precision = graph_precision(costs)
    key = _choose_config(coefficients, backend, precision, threads)
    cfg = coefficients.configs[key]
    # float ops left in an int8 graph (DeformConv, GridSample, float Resize/Add, ...) run float kernels: cost
    # them with the fp32 coefficients of the same backend and threads (int8 kernels measured int8 ops only)
    fcfg = None
    if precision == "int8" and float_ops_fp32:
        try:
            fcfg = coefficients.configs[_choose_config(coefficients, backend, "fp32", threads)]
        except EdgeCVError:
            fcfg = None
    per_kind = {k: 0.0 for k in KINDS}
    ops = []
    borrowed = {}
    float_ms = 0.0
    for c in costs:
        if c.fused:
            continue
        grp = c.group or c.kind
        as_float = fcfg is not None and not c.int8 and c.kind in FLOAT_KINDS
        kc, used = _kind_coef(fcfg if as_float else cfg, grp)
        if used != grp:
            borrowed[grp] = used
        ms = (kc["op_ms"] + c.flops / MFLOP * kc["ms_per_mflop"] + c.bytes / MB * kc["ms_per_mb"]
              + max(0.0, c.bytes - CACHE_BYTES) / MB * kc.get("ms_per_mb_big", 0.0)
              + (c.flops / MFLOP * kc.get("ms_per_mflop_narrow", 0.0) if c.narrow else 0.0))
        per_kind[c.kind] += ms
        float_ms += ms if as_float else 0.0
        ops.append((c.name, c.op_type, c.kind, ms))
    kernel_only = cfg["overhead_ms"] + sum(per_kind.values())
    overhead = cfg["overhead_ms"]
    s2 = coefficients.stage2.get(key) if stage2 else None
    if s2:
        overhead, per_kind = apply_stage2(s2, overhead, per_kind)
    total = overhead + sum(per_kind.values())
    return {"artifact": str(path), "config": key, "precision": precision, "total_ms": float(total),
            "kernel_only_ms": float(kernel_only), "stage2": bool(s2), "overhead_ms": float(overhead),
            "per_kind_ms": {k: v for k, v in per_kind.items() if v > 0}, "ops": ops, "borrowed": borrowed,
            "float_ops_ms": float(float_ms)}


def apply_stage2(s2: dict, overhead: float, per_kind: dict) -> tuple[float, dict]:
    if s2.get("form") == "loglinear":
        total = overhead + sum(per_kind.values())
        if total <= 0:
            return overhead, dict(per_kind)
        f = math.exp(s2.get("intercept", 0.0) + s2.get("slope", 0.0) * (math.log(total) - s2.get("centre", 0.0)))
        return overhead * f, {k: v * f for k, v in per_kind.items()}
    ks = s2.get("kind_scale", {})
    return overhead * s2.get("overhead_scale", 1.0), {k: v * ks.get(k, 1.0) for k, v in per_kind.items()}


def fit_stage2(rows, ridge: float = 0.3) -> dict:
    """Second stage on whole graphs: measured ≈ s0·overhead + Σ_kind s_kind·predicted_kind (s >= 0), NNLS on
    relative error with ``ridge`` rows pulling every s towards 1 (few graphs per configuration).

    ``rows``: dicts with ``measured_ms``, ``overhead_ms`` and ``per_kind_ms`` (stage-1 figures).
    """
    from scipy.optimize import nnls

    rows = list(rows)
    if not rows:
        return {"kind_scale": {}, "overhead_scale": 1.0, "n": 0}
    X = np.array([[r["overhead_ms"]] + [r["per_kind_ms"].get(k, 0.0) for k in KINDS] for r in rows])
    y = np.array([r["measured_ms"] for r in rows])
    w = 1.0 / y
    A = np.vstack([X * w[:, None], ridge * np.eye(X.shape[1])])
    b = np.concatenate([y * w, ridge * np.ones(X.shape[1])])
    s, _ = nnls(A, b)
    return {"overhead_scale": float(s[0]), "kind_scale": {k: float(v) for k, v in zip(KINDS, s[1:])},
            "n": len(rows), "ridge": ridge}


def fit_stage2_loglinear(rows, ridge: tuple[float, float] = (3.0, 3.0)) -> dict:
    """Second stage, ``loglinear`` form: log(measured / stage 1) = b0 + b1·(log stage 1 − centre), ridge
    ``(on b0, on b1)`` towards 0 (no correction); least squares in log space = relative error.

    ``rows``: dicts with ``measured_ms`` and ``predicted_ms`` (stage 1, the same as overhead + Σ per kind).
    """
    rows = [r for r in rows if r["measured_ms"] > 0 and r["predicted_ms"] > 0]
    if not rows:
        return {"form": "loglinear", "intercept": 0.0, "slope": 0.0, "centre": 0.0, "n": 0}
    lp = np.log([r["predicted_ms"] for r in rows])
    centre = float(lp.mean())
    X = np.c_[np.ones(len(rows)), lp - centre]
    y = np.log([r["measured_ms"] for r in rows]) - lp
    w = np.linalg.solve(X.T @ X + np.diag([float(ridge[0]), float(ridge[1])]), X.T @ y)
    return {"form": "loglinear", "intercept": float(w[0]), "slope": float(w[1]), "centre": centre, "n": len(rows),
            "ridge": [float(ridge[0]), float(ridge[1])]}


STAGE2_FORMS = {"kinds": fit_stage2, "loglinear": fit_stage2_loglinear}


# ---------------------------------------------------------------- validation

def validation_stats(pairs) -> dict:
    """pairs of (measured_ms, predicted_ms) → n, RMSE (ms), mean |rel err|, share within ±10% / ±20%."""
    pairs = [(float(m), float(p)) for m, p in pairs if m and m > 0 and p is not None and math.isfinite(p)]
    if not pairs:
        return {"n": 0, "rmse_ms": None, "mean_abs_rel_err": None, "within_10": None, "within_20": None}
    m = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    rel = np.abs(p - m) / m
    return {"n": len(pairs), "rmse_ms": float(np.sqrt(np.mean((p - m) ** 2))), "mean_abs_rel_err": float(rel.mean()),
            "within_10": float(np.mean(rel <= 0.10)), "within_20": float(np.mean(rel <= 0.20))}
