"""One entry point for every tracker by name: Siamese ones over artifacts, baselines directly."""
from __future__ import annotations

from ..bundle import BACKEND_FORMAT, backend_format, runtime_backend
from .base import Tracker, TrackError
from .baselines import BASELINES
from .siamese import SIAMESE, find_artifacts, siamese_tracker

__all__ = ["TRACKERS", "BACKEND_FORMAT", "artifact_model", "make_tracker", "missing_artifacts"]

TRACKERS = tuple(SIAMESE) + tuple(BASELINES)


def artifact_model(name: str) -> str | None:
    """The exported model a tracker runs (``siambm`` runs SA-Siam's graphs), None for baselines."""
    return SIAMESE[name][0] if name in SIAMESE else None


def make_tracker(name: str, art_dir="artifacts", backend: str = "ort", precision: str = "fp32",
                 threads: int | None = None, ops: str | None = None, params=None) -> Tracker:
    """Build tracker ``name``; ``backend`` is ort | ort-cuda | ort-trt | litert (``tflite`` is an alias)."""
    if name in BASELINES:
        return BASELINES[name](params) if params is not None else BASELINES[name]()
    if name not in SIAMESE:
        raise TrackError(f"unknown tracker {name!r}; choose from {', '.join(TRACKERS)}")
    fmt = backend_format(backend, TrackError)
    return siamese_tracker(name, art_dir, fmt, precision, runtime_backend(backend, TrackError), threads, params, ops)


def missing_artifacts(name: str, art_dir, backend: str, precision: str, ops: str | None = None) -> bool:
    if name not in SIAMESE:
        return False
    try:
        find_artifacts(art_dir, SIAMESE[name][0], backend_format(backend, TrackError), precision, ops)
        return False
    except FileNotFoundError:
        return True
