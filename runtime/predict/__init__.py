"""Kernel-level latency predictor (nn-Meter style): per-op costs from an artifact's graph, per-device
op-kind efficiencies fitted on kernel micro-benchmarks. Torch-free.

>>> from edgecv.runtime.predict import op_costs, load_coefficients, predict
>>> predict("artifacts/mnv2-dcn-portable-fp32.onnx", load_coefficients("devices/kernels/desktop-xeon-2c.json"))
"""
from .graph import KINDS, OpCost, graph_precision, op_costs, summarize
from .model import (
                    PREDICTOR_VERSION,
                    Coefficients,
                    config_key,
                    fit,
                    fit_all,
                    fit_stage2_loglinear,
                    load_coefficients,
                    measure_kernels,
                    predict,
                    save_coefficients,
                    validation_stats,
)

__all__ = ["KINDS", "OpCost", "op_costs", "graph_precision", "summarize", "PREDICTOR_VERSION", "Coefficients",
           "config_key", "fit", "fit_all",
           "fit_stage2_loglinear", "predict", "load_coefficients", "save_coefficients", "measure_kernels",
           "validation_stats"]


def predict_for_profile(device, art_dir="artifacts"):
    """A ``callable(artifact_name, backend, threads) -> ms | None`` that predicts artifacts missing from
    ``device``'s profile with the kernel coefficients fitted on that device (``devices/kernels/NAME.json``),
    for the planner; None when the device has no fitted coefficients (devices we only predict)."""
    from importlib import resources
    from pathlib import Path

    from ..errors import EdgeCVError

    name = Path(str(device)).stem if isinstance(device, (str, Path)) else str(device.get("device", {}).get("name"))
    ref = resources.files("edgecv.devices").joinpath("kernels", f"{name}.json")
    if not ref.is_file():
        return None
    coef = load_coefficients(Path(str(ref)))

    def predict_one(artifact: str, backend: str, threads):
        path = Path(art_dir) / artifact
        b = str(backend).split(":")[0]
        if b not in ("ort", "litert") or not path.is_file():
            return None
        try:
            return float(predict(path, coef, threads=int(threads or 1), backend=b)["total_ms"])
        except (EdgeCVError, KeyError, ValueError):
            return None

    return predict_one
