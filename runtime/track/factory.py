"""Build any tracker by name from the registry (:mod:`.registry`): Siamese ones over artifacts, baselines directly."""
from __future__ import annotations

from ..bundle import BACKEND_FORMAT, backend_format, runtime_backend
from .base import Tracker, TrackError
from .registry import get_variant, tracker_names
from .siamese_base import SiameseNet, find_artifacts

__all__ = ["TRACKERS", "BACKEND_FORMAT", "artifact_model", "make_tracker", "missing_artifacts", "siamese_tracker"]

TRACKERS = tracker_names()  # the registry's names, in its order


def artifact_model(name: str) -> str | None:
    """The exported model a tracker runs (``siambm`` runs SA-Siam's graphs), None for baselines."""
    return get_variant(name).model


def siamese_tracker(name: str, art_dir="artifacts", fmt: str = "onnx", precision: str = "fp32",
                    backend: str = "auto", threads: int | None = None, params=None, ops: str | None = None):
    """Build Siamese tracker ``name`` from exported artifacts in ``art_dir`` (``fmt``: onnx | tflite;
    ``backend``: an :func:`edgecv.runtime.load` backend)."""
    v = get_variant(name)
    if not v.siamese:
        raise TrackError(f"unknown Siamese tracker {name!r}; choose from {', '.join(tracker_names(siamese=True))}")
    t, s = find_artifacts(art_dir, v.model, fmt, precision, ops)
    net = SiameseNet(t, s, v.model, backend, threads)
    tracker = v.tracker_class()(net, params if params is not None else v.params())
    tracker.name = name  # the variant's name (siambm-lite0 runs the Siam-BM class over siamfc-lite0's graphs)
    return tracker


def make_tracker(name: str, art_dir="artifacts", backend: str = "ort", precision: str = "fp32",
                 threads: int | None = None, ops: str | None = None, params=None) -> Tracker:
    """Build tracker ``name``; ``backend`` is ort | ort-cuda | ort-trt | litert (``tflite`` is an alias)."""
    v = get_variant(name)
    if not v.siamese:
        return v.tracker_class()(params if params is not None else v.params())
    fmt = backend_format(backend, TrackError)
    return siamese_tracker(name, art_dir, fmt, precision, runtime_backend(backend, TrackError), threads, params, ops)


def missing_artifacts(name: str, art_dir, backend: str, precision: str, ops: str | None = None) -> bool:
    v = get_variant(name)
    if not v.siamese:
        return False
    try:
        find_artifacts(art_dir, v.model, backend_format(backend, TrackError), precision, ops)
        return False
    except FileNotFoundError:
        return True
