"""Predicted latencies for devices we cannot run on, calibrated on their published reference figures.

The kernel-level predictor (:mod:`.model`) needs micro-benchmarks measured on the device itself. For a
device we do not have, this module uses a three-term model per compute unit and precision,

    t(graph) = τ · ops + c · GFLOP + bytes / (η · bandwidth)

- ``ops``, ``GFLOP`` and ``bytes`` come from the graph (:func:`.graph.summarize`; ops that are folded away
  do not count; on CPUs only the bytes of ops that overflow a 1 MiB cache count, on GPUs all bytes);
- ``bandwidth`` is the device's published memory bandwidth, ``η = 0.6`` the share of it kernels reach;
- ``τ`` (per-op dispatch cost) is a prior per kind of compute unit (:data:`TAU_PRIOR`);
- ``c`` (ms per GFLOP: the unit's achieved compute rate) is **fitted** so that the reference network of each
  published figure (MobileNetV1/V2, ResNet-50; ``devices/reference_models.json``) comes out exactly at the
  published latency. When the figure is smaller than the τ and bandwidth terms alone, both are scaled down
  to meet it and ``c`` is 0 (the unit is dispatch-bound), and the calibration says so.

fp16 and int8 move 1/2 and 1/4 of the fp32 bytes. A device without figures of its own (Jetson AGX Orin)
takes another device's calibration scaled by published spec ratios (cores × clock for CPUs, CUDA cores ×
clock for GPUs) and its own bandwidth. Every predicted entry records its inputs and what it was calibrated
on. These are predictions, not measurements: the error on this machine of the same model form is in
BENCHMARKS.md ("Predicted device profiles").
"""
from __future__ import annotations

import json
from importlib import resources

TRANSFER_VERSION = "edgecv-transfer/1"
ETA_BW = 0.6
TAU_PRIOR = {"cpu": 0.004, "cuda": 0.025, "tensorrt": 0.008, "gpu-delegate": 0.02}   # ms per op
BYTES_SCALE = {"fp32": 1.0, "fp16": 0.5, "int8": 0.25}


def reference_models() -> dict:
    return json.loads(resources.files("edgecv.devices").joinpath("reference_models.json").read_text())["models"]


def graph_terms(summary: dict, unit: str, precision: str) -> dict:
    """ops, GFLOP and MB moved (fp32-equivalent bytes scaled to ``precision``) of a cost summary."""
    ops = sum(v["ops"] for k, v in summary.items() if k != "io")
    gflop = sum(v["flops"] for v in summary.values()) / 1e9
    key = "bytes_big" if unit == "cpu" else "bytes"
    mb = sum(v[key] for v in summary.values()) / 1e6 * BYTES_SCALE.get(precision, 1.0)
    return {"ops": int(ops), "gflop": round(gflop, 5), "mb": round(mb, 4)}


def calibrate(published_ms: float, terms: dict, unit: str, bandwidth_gbps: float) -> dict:
    """The unit's coefficients that make ``terms`` (the reference network) cost ``published_ms``."""
    tau = TAU_PRIOR[unit]
    ms_per_mb = 1.0 / (ETA_BW * bandwidth_gbps)      # 1 MB at B GB/s = 1/B ms
    fixed = tau * terms["ops"] + ms_per_mb * terms["mb"]
    if fixed < published_ms and terms["gflop"] > 0:
        return {"tau_ms": tau, "ms_per_gflop": (published_ms - fixed) / terms["gflop"], "ms_per_mb": ms_per_mb,
                "note": "compute rate fitted; dispatch and bandwidth terms from priors and the spec"}
    s = published_ms / fixed
    return {"tau_ms": tau * s, "ms_per_gflop": 0.0, "ms_per_mb": ms_per_mb * s,
            "note": f"dispatch-bound: the priors alone exceed the figure, so they were scaled by {s:.2f}"}


def predict_terms(coef: dict, terms: dict) -> float:
    return coef["tau_ms"] * terms["ops"] + coef["ms_per_gflop"] * terms["gflop"] + coef["ms_per_mb"] * terms["mb"]


def scale_calibration(coef: dict, compute_ratio: float, bandwidth_ratio: float, dispatch_ratio: float) -> dict:
    """Another device's coefficients moved to this one: ``*_ratio`` = this device / the calibrated one."""
    return {"tau_ms": coef["tau_ms"] / dispatch_ratio, "ms_per_gflop": coef["ms_per_gflop"] / compute_ratio,
            "ms_per_mb": coef["ms_per_mb"] / bandwidth_ratio,
            "note": f"scaled: compute ×{compute_ratio:.2f}, bandwidth ×{bandwidth_ratio:.2f}, "
                    f"dispatch ×{dispatch_ratio:.2f}"}
