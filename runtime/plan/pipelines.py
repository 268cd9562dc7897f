"""Each pipeline's candidate settings and their cost per frame, from a device profile's part latencies.

- **propagate** (Deep Feature Flow): a key frame runs feature + head, a propagated one flow + head. With a
  fixed interval K the mean frame costs ``loop + (feature + head) / K + (K − 1) / K · (flow + head)`` and the
  worst frame is a key frame (``loop + feature + head``). The adaptive policy runs the flow net on every
  frame (its check needs it), so ``loop + flow + head + feature / K_auto`` with K_auto the mean key interval it
  chose on the accuracy clips, and its worst frame ``loop + flow + feature + head``. int8 bundles run the flow
  graph in fp32 (LiteRT cannot convert it to int8; see the propagation issue).
- **track** (Siamese trackers): per frame ``passes × (search + crop)``, the trackers, their artifacts and
  passes from the tracker registry (``runtime/track/registry.py``: ``Variant.search_passes`` of each variant's
  parameters): SiamFC and SA-Siam search 3 scales, Siam-BM 5 scale/angle candidates, BoxTrack 1 (plus its
  template pass per update), spm-nano 2 on average (its pyramid every other frame). The template runs once per
  target (reported, not in fps).
- **colorize**: per frame the frame graph at the working size plus the loop's Lab conversion and merge; the
  reference encoder runs once per video.
- **mot** (multi-object tracking): per frame the person detector's graph plus the loop's own work: the frame
  resized to the graph's input, the heatmap decoded (peaks, NMS) and the association (Kalman predict, costs,
  Hungarian, update), measured per backend × threads × variant (``edgecv profile-loops``, the profile's
  ``loops: mot:`` block, key ``ort-t1-bytetrack``; else ``ort-t1``, else ``default``). Every frame costs the same,
  so the worst frame is the mean.

Accuracy comes from ``devices/accuracy.yaml`` (what the project measured on held-out material). Key
intervals between measured ones are interpolated linearly and say so; none is extrapolated.
"""
from __future__ import annotations

from .. import bundle
from ..mot.params import variant_names
from ..track.registry import get_variant, tracker_names
from .lookup import loop_overhead, provenance_kind

GPU_BACKENDS = ("ort-cuda", "ort-trt", "tensorrt")   # build their own fp16/int8 engines from the fp32 ONNX graph
PRECISIONS = ("fp32", "fp16", "int8")
PROPAGATE_KEYS = (1, 2, 3, 4, 5, 6, 8, 10)


def fmt_of(backend: str) -> str:
    return bundle.backend_format(backend)


def artifact_name(model: str, part: str, backend: str, precision: str, ops: str = "standard") -> str:
    """The artifact a profile's latency is looked up under: GPU backends build their own engines from the
    fp32 ONNX graph, so their entries name that one."""
    fmt = fmt_of(backend)
    if fmt == "onnx" and (backend.split(":")[0] in GPU_BACKENDS or ":" in backend):
        precision = "fp32"
    return bundle.artifact_name(model, part, fmt, precision, ops)


def part_ms(lat, model: str, part: str, backend: str, precision: str, threads):
    """Latency of one part at ``precision`` on ``backend`` (GPU backends: the fp32 graph built at that precision)."""
    return lat.get(artifact_name(model, part, backend, precision), backend, threads, precision)


def backend_settings(backend: str) -> dict:
    b, _, unit = backend.partition(":")
    return {"backend": b, "compute_unit": unit or None}


def with_fp16_fallback(acc: dict, want: dict, numeric=None):
    """Accuracy of ``want``; for fp16 not measured, fp32's (fp16 exports pass 1e-2 parity or come near it)."""
    a, note = _acc_lookup(acc, want, numeric)
    if a is None and want.get("precision") == "fp16":
        a, note = _acc_lookup(acc, dict(want, precision="fp32"), numeric)
        if a is not None:
            note = "fp16 accuracy not measured: fp32's" + (f"; {note}" if note else "")
    return a, note


def _acc_lookup(acc: dict, want: dict, numeric: str | None = None):
    """Accuracy for the settings ``want`` (dict of fields); with ``numeric`` (a field), interpolate linearly
    between the two nearest measured values of that field. Matches on backend when the table has that
    backend, else on any backend of the same format. Returns (value, note) or (None, None)."""
    rows = acc.get("entries", [])

    def match(r, keys):
        return all(r.get(k) == want[k] for k in keys if k in r or k != "backend")

    keys = [k for k in want if k != numeric]
    cand = [r for r in rows if match(r, keys)]
    note = None
    if not cand and "backend" in want:
        same_fmt = [r for r in rows if fmt_of(str(r.get("backend"))) == fmt_of(want["backend"])
                    and match(r, [k for k in keys if k != "backend"])]
        cand = same_fmt or [r for r in rows if match(r, [k for k in keys if k != "backend"])]
        if cand:
            note = f"accuracy measured with {cand[0].get('backend')}, not {want['backend']}"
    if not cand:
        return None, None
    if numeric is None:
        src = cand[0].get("source")  # a figure from the user's own eval run (core.with_eval_accuracy)
        return float(cand[0]["value"]), "; ".join(x for x in (note, src and f"from {src}") if x) or None
    x = want[numeric]
    exact = [r for r in cand if r.get(numeric) == x]
    if exact:
        return float(exact[0]["value"]), note
    pts = sorted((r[numeric], float(r["value"])) for r in cand if isinstance(r.get(numeric), (int, float)))
    lo = [p for p in pts if p[0] < x]
    hi = [p for p in pts if p[0] > x]
    if not lo or not hi:
        return None, None
    (x0, y0), (x1, y1) = lo[-1], hi[0]
    v = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    extra = f"{numeric}={x} interpolated between measured {x0} and {x1}"
    return v, f"{note}; {extra}" if note else extra


def propagate_candidates(profile: dict, lat, acc: dict, options: dict) -> list[dict]:
    out = []
    models = options.get("models") or sorted({r["model"] for r in acc.get("entries", [])})
    backends = options.get("backends") or lat.backends()
    threads = options.get("threads") or lat.threads()
    precisions = options.get("precisions") or PRECISIONS
    keys = list(options.get("key_intervals") or PROPAGATE_KEYS) + ["auto"]
    k_auto = float(acc.get("adaptive_mean_key_interval", 10))
    for model in models:
        for backend in backends:
            for prec in precisions:
                for nt in threads:
                    flow_prec = "fp32" if prec == "int8" else prec
                    names = {"feature": artifact_name(model, "feature", backend, prec),
                             "flow": artifact_name(model, "flow", backend, flow_prec),
                             "head": artifact_name(model, "head", backend, prec)}
                    lkey = f"{backend}-t{nt}"
                    key_loop, loop_prov = loop_overhead(profile, "propagate", lkey, "key_frame_ms")
                    prop_loop, _ = loop_overhead(profile, "propagate", lkey, "propagated_frame_ms")
                    ms = {"feature": part_ms(lat, model, "feature", backend, prec, nt),
                          "flow": part_ms(lat, model, "flow", backend, flow_prec, nt),
                          "head": part_ms(lat, model, "head", backend, prec, nt)}
                    if any(v is None for v in ms.values()):
                        continue
                    for k in keys:
                        want = {"model": model, "backend": backend, "precision": prec, "key_interval": k}
                        a, note = with_fp16_fallback(acc, want, None if k == "auto" else "key_interval")
                        if a is None:
                            continue
                        if k == "auto":
                            mean = (prop_loop + ms["flow"] + ms["head"] + (ms["feature"] + key_loop - prop_loop)
                                    / k_auto)
                            worst = key_loop + ms["flow"] + ms["feature"] + ms["head"]
                            cost = (f"adaptive: flow + head every frame, feature net on a key frame about every "
                                    f"{k_auto:g} frames (as on the accuracy clips)")
                        else:
                            mean = ((key_loop + ms["feature"] + ms["head"]) / k
                                    + (k - 1) / k * (prop_loop + ms["flow"] + ms["head"]))
                            worst = key_loop + ms["feature"] + ms["head"]
                            cost = (f"K={k}: (feature {ms['feature']:.1f} + head {ms['head']:.1f}) / {k} + "
                                    f"{k - 1}/{k} · (flow {ms['flow']:.1f} + head {ms['head']:.1f}) ms")
                        cost += (f", plus the loop's own {key_loop:.1f} ms per key / {prop_loop:.1f} ms per propagated "
                                 f"frame ({loop_prov})")
                        out.append({
                            "settings": {"model": model, **backend_settings(backend), "precision": prec,
                                         "part_precision": {"flow": "fp32"} if prec == "int8" else {},
                                         "threads": nt, "key_interval": k},
                            "mean_ms": mean, "worst_ms": worst, "accuracy": a, "accuracy_note": note,
                            "parts_ms": {**{p: round(v, 3) for p, v in ms.items()}, "loop_key": round(key_loop, 3),
                                         "loop_propagated": round(prop_loop, 3)},
                            "artifacts": tuple(names.values()), "cost_note": cost})
    return out


def track_candidates(profile: dict, lat, acc: dict, options: dict) -> list[dict]:
    out = []
    trackers = options.get("trackers") or tracker_names(siamese=True)
    backends = options.get("backends") or lat.backends()
    threads = options.get("threads") or lat.threads()
    precisions = options.get("precisions") or PRECISIONS
    crop_ms, crop_prov = loop_overhead(profile, "track")
    for tr in trackers:
        variant = get_variant(tr)
        if not variant.siamese:  # a baseline runs no graph: nothing to cost from a profile
            continue
        model, passes = variant.model, variant.search_passes()
        for backend in backends:
            for prec in precisions:
                for nt in threads:
                    search = artifact_name(model, "search", backend, prec)
                    template = artifact_name(model, "template", backend, prec)
                    s = part_ms(lat, model, "search", backend, prec, nt)
                    if s is None:
                        continue
                    t = part_ms(lat, model, "template", backend, prec, nt)
                    a, note = with_fp16_fallback(acc, {"tracker": tr, "backend": backend, "precision": prec})
                    if a is None:
                        continue
                    mean = passes * (s + crop_ms)
                    out.append({
                        "settings": {"tracker": tr, **backend_settings(backend), "precision": prec, "threads": nt},
                        "mean_ms": mean, "worst_ms": mean, "accuracy": a, "accuracy_note": note,
                        "parts_ms": {"search": round(s, 3), "passes": passes, "crop": round(crop_ms, 3),
                                     "template_once": None if t is None else round(t, 3)},
                        "artifacts": (search, template),
                        "cost_note": f"{passes:g} search pass(es) of {s:.1f} ms + {crop_ms:.1f} ms crop each "
                                     f"({crop_prov}); the template runs once per target"})
    return out


def colorize_candidates(profile: dict, lat, acc: dict, options: dict) -> list[dict]:
    out = []
    sizes = options.get("sizes") or ("320x240", "640x480")
    backends = options.get("backends") or lat.backends()
    threads = options.get("threads") or lat.threads()
    precisions = options.get("precisions") or PRECISIONS
    for size in sizes:
        loop_ms, loop_prov = loop_overhead(profile, "colorize", size)
        for backend in backends:
            for prec in precisions:
                for nt in threads:
                    frame = artifact_name("excolor", f"frame-{size}", backend, prec)
                    ref = artifact_name("excolor", "ref", backend, prec)
                    f = part_ms(lat, "excolor", f"frame-{size}", backend, prec, nt)
                    if f is None:
                        continue
                    r = part_ms(lat, "excolor", "ref", backend, prec, nt)
                    a, note = with_fp16_fallback(acc, {"size": size, "backend": backend, "precision": prec})
                    if a is None:
                        continue
                    out.append({
                        "settings": {"size": size, **backend_settings(backend), "precision": prec, "threads": nt},
                        "mean_ms": f + loop_ms, "worst_ms": f + loop_ms + (r or 0.0), "accuracy": a,
                        "accuracy_note": note,
                        "parts_ms": {"frame": round(f, 3), "loop": round(loop_ms, 3),
                                     "reference_once": None if r is None else round(r, 3)},
                        "artifacts": (frame, ref),
                        "cost_note": f"frame graph {f:.1f} ms + the loop's Lab conversion and merge {loop_ms:.1f} ms "
                                     f"({loop_prov}); worst frame = the first, which also encodes the reference"})
    return out


def mot_loop(profile: dict, backend: str, threads, variant: str) -> tuple[float, str, dict, str]:
    """The mot loop's own ms per frame on this device for ``backend`` × ``threads`` × ``variant``: the record
    ``{backend}-t{threads}-{variant}`` of the profile's ``loops: mot:``, else ``{backend}-t{threads}``, else
    ``default``. Returns (ms, provenance kind, the record's ``parts_ms``, the key used); (0, "unknown", {}, "")
    when the profile has none."""
    loops = (profile.get("loops") or {}).get("mot") or {}
    for key in (f"{backend}-t{threads}-{variant}", f"{backend}-t{threads}", "default"):
        rec = loops.get(key)
        if rec and rec.get("overhead_ms") is not None:
            return float(rec["overhead_ms"]), provenance_kind(rec), dict(rec.get("parts_ms") or {}), key
    return 0.0, "unknown", {}, ""


def mot_candidates(profile: dict, lat, acc: dict, options: dict) -> list[dict]:
    out = []
    models = options.get("models") or sorted({r["model"] for r in acc.get("entries", [])})
    variants = options.get("variants") or variant_names()
    backends = options.get("backends") or lat.backends()
    threads = options.get("threads") or lat.threads()
    precisions = options.get("precisions") or PRECISIONS
    for model in models:
        for backend in backends:
            for prec in precisions:
                for nt in threads:
                    graph = artifact_name(model, None, backend, prec)
                    d = part_ms(lat, model, None, backend, prec, nt)
                    if d is None:
                        continue
                    for variant in variants:
                        a, note = with_fp16_fallback(acc, {"model": model, "variant": variant, "backend": backend,
                                                           "precision": prec})
                        if a is None:
                            continue
                        loop_ms, loop_prov, parts, key = mot_loop(profile, backend, nt, variant)
                        mean = d + loop_ms
                        split = {k: v for k, v in parts.items() if k in ("resize", "decode", "association")}
                        if "graph_in_loop" in parts and "graph_alone" in parts:   # calibrated on the fp32 graph
                            split["graph_in_loop_vs_alone"] = round(parts["graph_in_loop"] - parts["graph_alone"], 3)
                        said = ", ".join(f"{k.replace('_', ' ')} {v:+.2f}" if k.startswith("graph") else f"{k} {v:.2f}"
                                         for k, v in split.items())
                        loop_note = (f"the loop's own {loop_ms:.2f} ms ({said}; {loop_prov}, loops.mot.{key})"
                                     if key else "the loop's own work (resize, decode, association): not in this "
                                                 "profile")
                        out.append({
                            "settings": {"model": model, "variant": variant, **backend_settings(backend),
                                         "precision": prec, "threads": nt},
                            "mean_ms": mean, "worst_ms": mean, "accuracy": a, "accuracy_note": note,
                            "parts_ms": {"detector": round(d, 3), "loop": round(loop_ms, 3),
                                         **{f"loop_{k}": v for k, v in split.items()}},
                            "artifacts": (graph,), "loop_provenance": loop_prov,
                            "cost_note": f"per frame: detector graph {graph} {d:.2f} ms + {loop_note}"})
    return out


CANDIDATES = {"propagate": propagate_candidates, "track": track_candidates, "colorize": colorize_candidates,
              "mot": mot_candidates}
