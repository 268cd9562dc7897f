"""Write predicted entries for every exported artifact into the profiles of the devices we cannot run on
(Jetson Orin Nano, Jetson AGX Orin, Pixel 4, NVIDIA T4), calibrated on each profile's published figures
(see ``edgecv.runtime.predict.transfer``). Published and measured entries are kept; earlier predicted
entries of the artifacts predicted now are replaced, and those of other artifacts (not in ``--artifacts``, or
left out by ``--models``) are kept as they were, so a partial artifacts folder removes nothing. Also prints how
the same model form does on this machine's measured profile.

    python bench/predict_devices.py --artifacts artifacts [--devices jetson-orin-nano,...] [--models persondet-lite0]
"""
from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from edgecv.devices import load_profile, validate_profile
from edgecv.devices.schema import profile_path, write_yaml_atomic
from edgecv.runtime.manifest import read_manifest
from edgecv.runtime.predict import op_costs, summarize
from edgecv.runtime.predict import transfer as tr

# AGX Orin borrows Orin Nano's calibration, scaled by published spec ratios (AGX / Nano)
SCALED = {"jetson-agx-orin": ("jetson-orin-nano", {
    "cpu": {"compute": (12 * 2.2) / (6 * 1.5), "dispatch": 2.2 / 1.5},
    "cuda": {"compute": (2048 * 1.3) / (1024 * 0.625), "dispatch": 1.3 / 0.625}})}
GPU_UNITS = ("cuda", "tensorrt")
BACKEND_FOR = {"cuda": "ort-cuda", "tensorrt": "ort-trt", "gpu-delegate": "litert"}


def calibrations(profile: dict, refs: dict) -> list[dict]:
    """One calibration per published reference entry: unit, precision, threads, coefficients, source."""
    bw = profile["device"].get("memory_bandwidth_gbps")
    out = []
    for e in profile.get("entries", []):
        pv = e.get("provenance") or {}
        ref = str(e.get("artifact", "")).removesuffix("_quant")   # a quantised network has the float one's graph
        if pv.get("kind") != "published" or ref not in refs:
            continue
        unit = e.get("compute_unit") or "cpu"
        terms = tr.graph_terms(refs[ref]["summary"], unit, e["precision"])
        coef = tr.calibrate(float(e["latency_ms"]["median"]), terms, unit, float(bw))
        out.append({"unit": unit, "precision": e["precision"], "threads": e.get("threads"), "coef": coef,
                    "reference": e["artifact"], "published_ms": e["latency_ms"]["median"],
                    "source": pv.get("source"), "backend_published": e.get("backend")})
    return out


def artifact_summaries(art_dir: Path, models=None) -> dict:
    out = {}
    for p in sorted(list(art_dir.glob("*.onnx")) + list(art_dir.glob("*.tflite"))):
        man = read_manifest(p)
        if not man or (man.get("parity") or {}).get("passed") is False:
            continue
        if models and man.get("model") not in models:
            continue
        out[p.name] = {"path": p, "manifest": man, "summary": summarize(op_costs(p))}
    return out


def targets(cal: dict, arts: dict):
    """(artifact name, backend) pairs a calibration predicts: GPU units build their own fp16/int8 engines from
    the fp32 ONNX graph; CPU units and the GPU delegate run artifacts of the calibrated precision."""
    unit, prec = cal["unit"], cal["precision"]
    for name, a in arts.items():
        m = a["manifest"]
        if unit in GPU_UNITS:
            if m["format"] == "onnx" and m["precision"] == "fp32" and m.get("ops_mode") == "standard":
                yield name, BACKEND_FOR[unit]
        elif unit == "gpu-delegate":
            if m["format"] == "tflite" and m["precision"] == prec:
                yield name, "litert"
        elif m["precision"] == prec:
            if m["format"] == "tflite":
                yield name, "litert"
            elif m.get("ops_mode") == "standard":
                yield name, "ort"


def predicted_entries(device: str, cals: list[dict], arts: dict, bw: float, date: str) -> list[dict]:
    entries = []
    for cal in cals:
        for name, backend in targets(cal, arts):
            a = arts[name]
            terms = tr.graph_terms(a["summary"], cal["unit"], cal["precision"])
            ms = tr.predict_terms(cal["coef"], terms)
            m = a["manifest"]
            entries.append({
                "artifact": name, "model": m.get("model"), "format": m.get("format"),
                "precision": cal["precision"], "ops_mode": m.get("ops_mode"), "sha256": m.get("sha256"),
                "backend": backend, "compute_unit": cal["unit"], "threads": cal["threads"],
                "latency_ms": {"median": round(ms, 4), "p90": None},
                "provenance": {
                    "kind": "predicted", "predictor": tr.TRANSFER_VERSION, "date": date,
                    "inputs": dict(terms, bandwidth_gbps=bw, **{k: round(v, 6) if isinstance(v, float) else v
                                                               for k, v in cal["coef"].items()}),
                    "calibrated_on": [f"{cal['reference']} {cal['backend_published']} {cal['unit']} "
                                      f"{cal['precision']}: {cal['published_ms']} ms ({cal['source']})"]},
            })
    return entries


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--devices", default="jetson-orin-nano,jetson-agx-orin,pixel-4,nvidia-t4")
    ap.add_argument("--models", default=None,
                    help="Comma list: predict only these models' artifacts (default: every artifact in --artifacts).")
    ap.add_argument("--validate-here", action="store_true",
                    help="Check the calibration on this machine's measured profile instead (see validate_here).")
    a = ap.parse_args()
    if a.validate_here:
        r = validate_here()
        for name, m, p in r["rows"]:
            print(f"{name}: measured {m:.2f} ms, predicted {p:.2f} ms ({p / m - 1:+.0%})")
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k not in ("rows", "coef")})
        return
    refs = tr.reference_models()
    arts = artifact_summaries(Path(a.artifacts), a.models.split(",") if a.models else None)
    date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for dev in a.devices.split(","):
        prof = load_profile(dev)
        bw = float(prof["device"]["memory_bandwidth_gbps"])
        if dev in SCALED:
            base_name, ratios = SCALED[dev]
            base = load_profile(base_name)
            cals = []
            for c in calibrations(base, refs):
                r = ratios.get(c["unit"])
                if r is None:
                    continue
                bw_ratio = bw / float(base["device"]["memory_bandwidth_gbps"])
                coef = tr.scale_calibration(c["coef"], r["compute"], bw_ratio, r["dispatch"])
                cals.append(dict(c, coef=coef, threads=None,
                                 source=f"{base_name}'s calibration scaled by spec ratios ({coef['note']}); "
                                        f"{c['source']}"))
        else:
            cals = calibrations(prof, refs)
        new = predicted_entries(dev, cals, arts, bw, date)
        now = set(arts)
        kept = [e for e in prof.get("entries", []) if (e.get("provenance") or {}).get("kind") != "predicted"
                or e.get("artifact") not in now]
        earlier = sum((e.get("provenance") or {}).get("kind") == "predicted" for e in kept)
        prof["entries"] = kept + new
        validate_profile(prof, dev)
        write_yaml_atomic(prof, profile_path(dev))
        units = sorted({(c["unit"], c["precision"]) for c in cals})
        print(f"{dev}: {len(new)} predicted entries from {len(cals)} calibrations {units}; {earlier} earlier "
              "predicted entries of other artifacts kept")
        for c in cals:
            print(f"  {c['unit']}/{c['precision']}: {c['coef']['note']}; τ {c['coef']['tau_ms']:.4f} ms/op, "
                  f"{c['coef']['ms_per_gflop']:.3f} ms/GFLOP, {c['coef']['ms_per_mb']:.4f} ms/MB")



def validate_here(device: str = "desktop-xeon-2c", ref_onnx: str = "out/refnets/mobilenet_v2_1.0_224.onnx",
                  threads: int = 1) -> dict:
    """The same calibration on this machine, where we can check it: measure the MobileNetV2 reference graph
    here (onnxruntime fp32), calibrate the CPU unit on that one figure as a published one would be, predict
    every ONNX fp32 artifact of the measured profile and compare with its measured median."""
    import time

    import numpy as np

    from edgecv.runtime import load
    from edgecv.runtime.profile import random_feeds, time_session

    a = np.ones(64 * 2 ** 20 // 4, np.float32)
    b = np.empty_like(a)
    t0 = time.perf_counter()
    for _ in range(10):
        np.copyto(b, a)
    bw = 2 * a.nbytes * 10 / (time.perf_counter() - t0) / 1e9       # read + write, GB/s
    sess = load(ref_onnx, "ort", threads)
    ref_ms = time_session(sess, random_feeds(sess), 50, 5)["median"]
    terms = tr.graph_terms(summarize(op_costs(ref_onnx)), "cpu", "fp32")
    coef = tr.calibrate(ref_ms, terms, "cpu", bw)
    prof = load_profile(device)
    rows = []
    for e in prof["entries"]:
        if e["backend"] != "ort" or e["threads"] != threads or e["precision"] != "fp32" \
                or e.get("ops_mode") != "standard" or (e.get("provenance") or {}).get("kind") != "measured":
            continue
        path = Path("artifacts") / e["artifact"]
        if not path.is_file():
            continue
        pred = tr.predict_terms(coef, tr.graph_terms(summarize(op_costs(path)), "cpu", "fp32"))
        rows.append((e["artifact"], e["latency_ms"]["median"], pred))
    err = np.array([p / m - 1 for _, m, p in rows])
    return {"bandwidth_gbps": round(bw, 1), "reference_ms": ref_ms, "coef": coef, "rows": rows,
            "within_10": float(np.mean(np.abs(err) <= 0.1)), "within_20": float(np.mean(np.abs(err) <= 0.2)),
            "mean_abs_rel_err": float(np.mean(np.abs(err))),
            "rmse_ms": float(np.sqrt(np.mean([(p - m) ** 2 for _, m, p in rows])))}


if __name__ == "__main__":
    main()
