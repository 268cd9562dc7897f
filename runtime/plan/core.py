"""Plans: candidates from a pipeline's cost model, the budget check, the choice, the plan file."""
from __future__ import annotations

import datetime as _dt
import json
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from ..errors import EdgeCVError, explain_validation
from ..mot.params import variant_names
from ..track.registry import tracker_names
from .lookup import loop_overhead, provenance_kind

PLAN_SCHEMA = "edgecv.plan/1"


class PlanError(EdgeCVError):
    """No plan can be made (unknown device or pipeline, an impossible budget) or a plan file is bad."""


def accuracy_table() -> dict:
    """The accuracy the project measured per pipeline and setting (``devices/accuracy.json``, with sources)."""
    return json.loads(resources.files("edgecv.devices").joinpath("accuracy.json").read_text())


def with_eval_accuracy(table: dict, results_path) -> dict:
    """``table`` (:func:`accuracy_table`) with the track AUCs of an ``edgecv eval track`` run added: every row
    of its ``results.json`` that says how it ran (``settings``: tracker, backend, precision) and is not an outside
    reference. They replace the shipped figure for the same setting, so a model you brought (``nanotrack``) or
    your own dev set can drive the plan. Raises PlanError naming the file when it has no such rows."""
    import copy

    path = Path(results_path)
    try:
        res = json.loads(path.read_text())
        rows = res["trackers"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PlanError(f"--accuracy {path}: not an `edgecv eval track` results.json ({type(e).__name__}: {e})") \
            from None
    new = []
    for label, row in rows.items():
        st = row.get("settings") if isinstance(row, dict) else None
        if not st or row.get("reference") or not all(k in st for k in ("tracker", "backend", "precision")):
            continue
        new.append({"tracker": st["tracker"], "backend": st["backend"], "precision": st["precision"],
                    "value": round(float(row["overall"]["auc"]), 4), "source": f"{path} ({label})"})
    if not new:
        raise PlanError(f"--accuracy {path}: no row says how it ran (a results.json from `edgecv eval track` of this "
                        "version has a 'settings' entry per tracker row)")
    out = copy.deepcopy(table)
    track = out["track"]
    keys = {(e["tracker"], e["backend"], e["precision"]) for e in new}
    track["entries"] = new + [e for e in track.get("entries", [])
                              if (e.get("tracker"), e.get("backend"), e.get("precision")) not in keys]
    track["source"] = f"{path} for {len(new)} setting(s) ({res.get('dataset', '?')}); the rest: {track.get('source')}"
    return out


def load_device(device) -> dict:
    """A device profile by name or path (validated when ``edgecv.devices`` can validate it)."""
    if isinstance(device, dict):
        return device
    try:
        from edgecv.devices import load_profile
    except ImportError:  # pragma: no cover - the devices package always ships with the runtime
        load_profile = None
    if load_profile is not None:
        return load_profile(device)
    import yaml
    return yaml.safe_load(Path(device).read_text())


class Latencies:
    """Per-artifact latency look-ups in one device profile; remembers which figures it used and where each
    came from, and which artifacts it could not find."""

    def __init__(self, profile: dict, predictor=None):
        self.profile = profile
        self.predictor = predictor   # callable(artifact, backend, threads) -> ms | None, for missing entries
        self.index = {}
        for e in profile.get("entries", []):
            key = (e.get("artifact"), backend_id(e), e.get("threads"), e.get("precision"))
            old = self.index.get(key)
            rank = {"measured": 0, "published": 1, "predicted": 2}
            if old is None or rank.get(provenance_kind(e), 3) < rank.get(provenance_kind(old), 3):
                self.index[key] = e
        self.used: dict = {}
        self.missing: set = set()
        self.known = {a for (a, _, _, _) in self.index}

    def get(self, artifact: str, backend: str, threads, precision: str | None = None) -> float | None:
        """Median ms of ``artifact`` on ``backend`` (an id: ``litert`` or ``litert:gpu-delegate``) with ``threads``
        at ``precision`` (default: the artifact's own); None when neither the profile has it nor the predictor can
        predict it."""
        if precision is None:
            precision = _precision_of(artifact)
        e = self.index.get((artifact, backend, threads, precision))
        if e is not None and (e.get("latency_ms") or {}).get("median") is not None:
            ms = float(e["latency_ms"]["median"])
            self.used[f"{artifact} {backend} x{threads}"] = {"median_ms": ms, "p90_ms": e["latency_ms"].get("p90"),
                                                             "precision": precision, "provenance": provenance_kind(e)}
            return ms
        if self.predictor is not None:
            ms = self.predictor(artifact, backend, threads)
            if ms is not None:
                self.used[f"{artifact} {backend} x{threads}"] = {
                    "median_ms": round(float(ms), 3), "provenance": "predicted",
                    "note": "not in the device profile: predicted by the kernel-level predictor"}
                return float(ms)
        if artifact not in self.known:
            self.missing.add(artifact)
        return None

    def threads(self) -> list:
        ts = {t for (_, _, t, _) in self.index}
        return sorted(int(t) for t in ts if t is not None) + ([None] if None in ts else [])

    def backends(self) -> list[str]:
        return sorted({b for (_, b, _, _) in self.index if b})


DEFAULT_UNIT = {"ort": "cpu", "litert": "cpu", "opencv": "cpu", "ort-cuda": "cuda", "ort-trt": "tensorrt",
                "tensorrt": "tensorrt"}


def backend_id(entry: dict) -> str:
    """``backend``, or ``backend:compute_unit`` when the unit is not the backend's usual one (LiteRT's GPU
    delegate, OpenCV's CUDA target), so that the planner keeps them apart."""
    b, u = str(entry.get("backend")), entry.get("compute_unit")
    return b if u in (None, DEFAULT_UNIT.get(b)) else f"{b}:{u}"


def _precision_of(artifact: str) -> str | None:
    from ..bundle import precision_of

    return precision_of(artifact)


def choose(candidates: list[dict], fps: float, latency_ms: float | None = None, margin: float = 0.0,
           tie: float = 0.002) -> dict:
    """The feasible candidate with the best expected accuracy (ties within ``tie``: the faster one).

    Feasible: mean ms per frame ≤ (1 − margin) · 1000 / fps and, with ``latency_ms``, worst-frame ms ≤ it.
    Raises PlanError with the best reachable fps when none is feasible."""
    if not candidates:
        raise PlanError("no candidate settings have latency figures on this device (profile the artifacts with "
                        "`edgecv profile`, or predict them)")
    budget = (1.0 - margin) * 1000.0 / fps
    ok = [c for c in candidates if c["mean_ms"] <= budget and (latency_ms is None or c["worst_ms"] <= latency_ms)]
    if not ok:
        best = min(candidates, key=lambda c: c["mean_ms"])
        best_lat = min(candidates, key=lambda c: c["worst_ms"])
        msg = (f"impossible budget: {fps:g} fps needs ≤ {budget:.1f} ms per frame"
               + (f" and ≤ {latency_ms:g} ms worst frame" if latency_ms is not None else "")
               + f"; the best reachable is {1000.0 / best['mean_ms']:.1f} fps ({_describe(best['settings'])}, "
                 f"worst frame {best['worst_ms']:.1f} ms)")
        if latency_ms is not None:
            msg += (f"; the lowest worst-frame latency is {best_lat['worst_ms']:.1f} ms "
                    f"({_describe(best_lat['settings'])})")
        raise PlanError(msg)
    top = max(c["accuracy"] for c in ok)
    near = [c for c in ok if c["accuracy"] >= top - tie]
    return min(near, key=lambda c: c["mean_ms"])


def _describe(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)


def make_plan(device, pipeline: str, fps: float, latency_ms: float | None = None, margin: float = 0.0,
              predictor=None, accuracy: dict | None = None, options: dict | None = None) -> dict:
    """Plan ``pipeline`` on ``device`` (name, path or profile dict) for ``fps``; returns the plan dict.

    ``options`` narrows the search (e.g. ``{"backends": ["litert"], "threads": [1]}``)."""
    from .pipelines import CANDIDATES

    if pipeline not in CANDIDATES:   # the planner's pipelines are those with a candidate generator
        raise PlanError(f"unknown pipeline {pipeline!r}; choose from {', '.join(CANDIDATES)}")
    if fps is None or fps <= 0:
        raise PlanError(f"frame rate {fps!r}: give a positive --fps")
    if latency_ms is not None and latency_ms <= 0:
        raise PlanError(f"latency budget {latency_ms!r} ms: give a positive --latency-ms")
    profile = load_device(device)
    acc = (accuracy or accuracy_table())[pipeline]
    lat = Latencies(profile, predictor)
    cands = CANDIDATES[pipeline](profile, lat, acc, options or {})
    tie = float(acc.get("tie", 0.002))
    best = choose(cands, fps, latency_ms, margin, tie)
    ranked = sorted(cands, key=lambda c: (-c["accuracy"], c["mean_ms"]))
    budget = 1000.0 / fps
    why = [f"{len(cands)} candidate settings have latency figures on {profile['device']['name']}; "
           f"{sum(c['mean_ms'] <= budget * (1 - margin) for c in cands)} meet {fps:g} fps "
           f"(≤ {budget * (1 - margin):.1f} ms per frame)"
           + (f" and ≤ {latency_ms:g} ms worst frame" if latency_ms is not None else ""),
           f"chosen for the best expected {acc['metric']} among them: {best['accuracy']:.3f}"
           + (f" ({best['accuracy_note']})" if best.get("accuracy_note") else ""),
           best["cost_note"]]
    better = [c for c in ranked if c["accuracy"] > best["accuracy"] + tie]
    if better:
        f = better[-1]   # the least step up in accuracy
        why.append(f"the next more accurate setting ({_describe(f['settings'])}, {acc['metric']} {f['accuracy']:.3f})"
                   f" needs {f['mean_ms']:.1f} ms per frame ({1000.0 / f['mean_ms']:.1f} fps)")
    if lat.missing:
        why.append(f"{len(lat.missing)} artifacts have no figure in this profile and could not be predicted, so "
                   f"settings that need them were not considered (e.g. {sorted(lat.missing)[0]})")
    s = best["settings"]
    lkey = s.get("size") or f"{s.get('backend')}-t{s.get('threads')}"
    loop_prov = best.get("loop_provenance") or loop_overhead(profile, pipeline, str(lkey))[1]
    if loop_prov == "unknown":
        why.append("the loop's own per-frame work (resizing, crops, colour conversion) is not in this profile: the "
                   "predicted fps counts the graphs only and is an upper bound")
    prov = sorted({v['provenance'] for k, v in lat.used.items() if _uses(best, k)})
    return {
        "schema": PLAN_SCHEMA,
        "device": profile["device"]["name"],
        "device_kind": profile["device"].get("kind"),
        "pipeline": pipeline,
        "fps_target": fps,
        "latency_budget_ms": latency_ms,
        "margin": margin,
        "settings": best["settings"],
        "accuracy_tie": tie,
        "predicted_fps": round(1000.0 / best["mean_ms"], 2),
        "predicted_mean_ms": round(best["mean_ms"], 3),
        "worst_frame_ms": round(best["worst_ms"], 3),
        "parts_ms": best["parts_ms"],
        "expected_accuracy": {"metric": acc["metric"], "value": round(best["accuracy"], 4),
                              "source": acc.get("source"), "note": best.get("accuracy_note")},
        "latency_provenance": prov,
        "why": why,
        "alternatives": [{"settings": c["settings"], "fps": round(1000.0 / c["mean_ms"], 2),
                          "worst_frame_ms": round(c["worst_ms"], 2), "accuracy": round(c["accuracy"], 4),
                          "meets_budget": c["mean_ms"] <= budget * (1 - margin)
                          and (latency_ms is None or c["worst_ms"] <= latency_ms)}
                         for c in ranked[:12]],
        "figures_used": {k: v for k, v in lat.used.items() if _uses(best, k)},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _uses(cand: dict, key: str) -> bool:
    s = cand["settings"]
    bid = s.get("backend") + (f":{s['compute_unit']}" if s.get("compute_unit") else "")
    return key.split(" ")[0] in cand.get("artifacts", ()) and f" {bid} " in f" {key} " \
        and key.endswith(f"x{s.get('threads')}")


# ---- the plan file: a typed, validated schema -------------------------------------------------------------
#
# A plan is read back by the loops (``--plan``), so every field they use is checked on load: its type and
# range, the settings each pipeline needs, and ``settings.model`` confined to the artifacts folder (a plan
# is a file anyone can hand over; it must not make a loop read graphs or checkpoints from elsewhere).

MAX_PLAN_THREADS = 256      # a plan's thread count (planned for a device, perhaps not this one)
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"   # a model name, never a path

PosInt = Annotated[int, Meta(ge=1)]
PosFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
Threads = Annotated[int, Meta(ge=1, le=MAX_PLAN_THREADS)]
Precision = Literal["fp32", "fp16", "int8"]
Backend = Literal["ort", "ort-cuda", "ort-trt", "litert", "tflite", "opencv", "tensorrt"]
ModelName = Annotated[str, Meta(pattern=MODEL_NAME)]


class TrackSettings(Struct, kw_only=True):
    tracker: Literal[tuple(tracker_names(foreign=None))]  # every registered variant, a model you brought too
    backend: Backend
    precision: Precision
    threads: Threads | None
    compute_unit: str | None = None


class PropagateSettings(Struct, kw_only=True):
    model: ModelName
    backend: Backend
    precision: Precision
    threads: Threads | None
    key_interval: Annotated[int, Meta(ge=1, le=1000)] | Literal["auto"]
    part_precision: dict[Literal["feature", "flow", "head"], Precision] | None = None
    compute_unit: str | None = None


class ColorizeSettings(Struct, kw_only=True):
    size: Annotated[str, Meta(pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")]
    backend: Backend
    precision: Precision
    threads: Threads | None
    compute_unit: str | None = None


class MotSettings(Struct, kw_only=True):
    model: ModelName                                  # the person detector (its graph is looked up in --artifacts)
    variant: Literal[tuple(variant_names())]          # the association: runtime/mot/params.py
    backend: Backend
    precision: Precision
    threads: Threads | None
    compute_unit: str | None = None


SETTINGS = {"track": TrackSettings, "propagate": PropagateSettings, "colorize": ColorizeSettings, "mot": MotSettings}


class Plan(Struct, kw_only=True):
    """A plan file as ``edgecv plan`` writes it (unknown extra fields are ignored; ``settings`` is checked
    against the pipeline's own settings type)."""
    schema: Literal["edgecv.plan/1"]
    device: Annotated[str, Meta(min_length=1)]
    pipeline: Literal["propagate", "track", "colorize", "mot"]
    settings: dict[str, Any]
    fps_target: PosFloat
    predicted_fps: PosFloat
    device_kind: str | None = None
    latency_budget_ms: PosFloat | None = None
    margin: Annotated[float, Meta(ge=0, lt=1)] = 0.0
    accuracy_tie: NonNegFloat | None = None
    predicted_mean_ms: NonNegFloat | None = None
    worst_frame_ms: NonNegFloat | None = None
    parts_ms: dict[str, Any] = {}
    expected_accuracy: dict[str, Any] = {}
    latency_provenance: list[str] = []
    why: list[str] = []
    alternatives: list[dict[str, Any]] = []
    figures_used: dict[str, dict[str, Any]] = {}
    created: str | None = None


def check_plan(plan, path="plan") -> dict:
    """Validate a parsed plan: every field's type and range, the settings its pipeline needs. Returns the
    plan (a dict); raises PlanError naming ``path`` and the field."""
    if not isinstance(plan, dict):
        raise PlanError(f"plan {path}: not an edgecv plan (a JSON {type(plan).__name__}, expected an object)")
    if plan.get("schema") != PLAN_SCHEMA:
        raise PlanError(f"plan {path}: not an edgecv plan (its schema is {plan.get('schema')!r}, expected "
                        f"{PLAN_SCHEMA!r})")
    try:
        typed = msgspec.convert(plan, Plan)
    except msgspec.ValidationError as e:
        raise PlanError(f"plan {path}: {explain_validation(e, plan, top='the plan')}") from None
    if "model" in typed.settings:
        confined_model(typed.settings["model"], None, path)
    try:
        msgspec.convert(typed.settings, SETTINGS[typed.pipeline])
    except msgspec.ValidationError as e:
        raise PlanError(f"plan {path}: {explain_validation(e, typed.settings, 'settings.', 'the plan')}") from None
    return plan


def confined_model(model: str, art_dir, path="plan") -> str:
    """``model`` (a plan's ``settings.model``) if it is a model name naming graphs inside ``art_dir`` (any
    folder when None), else PlanError."""
    if not isinstance(model, str) or not re.match(MODEL_NAME, model):
        raise PlanError(f"plan {path}: settings.model must be a model name (letters, digits, '.', '_', '-'), not a "
                        f"path, got {model!r}; the graphs are looked up in --artifacts")
    root = Path(art_dir if art_dir is not None else ".").resolve()
    if root not in (root / model).resolve().parents:
        raise PlanError(f"plan {path}: settings.model {model!r} points outside the artifacts folder {art_dir}")
    return model


def plan_json_schema() -> dict:
    """JSON Schema of a plan file, ``settings`` one of the per-pipeline Structs (``docs/schemas/plan.schema.json``)."""
    kinds = (TrackSettings, PropagateSettings, ColorizeSettings, MotSettings)
    (top, *_), defs = msgspec.json.schema_components((Plan, *kinds), ref_template="#/$defs/{name}")
    defs["Plan"]["properties"]["settings"] = {
        "description": "by `pipeline`: TrackSettings, PropagateSettings, ColorizeSettings or MotSettings",
        "anyOf": [{"$ref": f"#/$defs/{t.__name__}"} for t in kinds]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "edgecv plan", **top, "$defs": defs}


def write_plan(plan: dict, path) -> Path:
    from ..outputs import check_output, write_json_atomic

    path = Path(path)
    if path.is_dir():
        raise PlanError(f"--out {path} is a folder; give a file name such as plan.json")
    check_plan(plan, path)
    check_output(path, "--out")
    return write_json_atomic(path, plan)


def load_plan(path, pipeline: str | None = None) -> dict:
    """Read and validate a plan file; with ``pipeline``, refuse a plan made for another pipeline."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"plan {path} does not exist; make one with `edgecv plan`")
    try:
        plan = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PlanError(f"plan {path} is not valid JSON ({e})") from None
    except OSError as e:
        raise PlanError(f"plan {path} cannot be read ({e.strerror or e})") from None
    check_plan(plan, path)
    if pipeline is not None and plan["pipeline"] != pipeline:
        raise PlanError(f"plan {path} is for the {plan['pipeline']!r} pipeline, not {pipeline!r}")
    return plan


def settings_for(plan_or_path, pipeline: str, art_dir=None) -> dict:
    """The loop settings of a plan (backend, precision, threads, and the pipeline's own), validated; with
    ``art_dir``, ``settings.model`` must name graphs inside that folder."""
    where = "plan" if isinstance(plan_or_path, dict) else plan_or_path
    plan = check_plan(plan_or_path) if isinstance(plan_or_path, dict) else load_plan(plan_or_path, pipeline)
    if plan["pipeline"] != pipeline:
        raise PlanError(f"the plan is for the {plan['pipeline']!r} pipeline, not {pipeline!r}")
    settings = dict(plan["settings"])
    if "model" in settings and art_dir is not None:
        confined_model(settings["model"], art_dir, where)
    return settings
