"""Each pipeline's loop as the planner's tools need it: built from a plan's settings, narrowed to them, and
probed for its own per-frame work. One entry per pipeline, so ``plan-check``, ``profile-loops`` and the
overhead measurement keep no ``if pipeline == ...`` chain of their own.

A pipeline's cost model (which artifacts a frame runs) lives in :mod:`.pipelines`; its artifacts in
:mod:`edgecv.runtime.bundle`.
"""
from __future__ import annotations

import datetime as _dt
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EdgeCVError
from .overhead import _frames, _outside, _Timed, calibrate_mot_loop, calibrate_propagation_loop

__all__ = ["Loop", "LoopHooks", "LOOPS", "loop_hooks", "measure_loop_overhead"]


@dataclass
class Loop:
    """A ready loop: ``start(frame0)`` once, then ``step(frame)`` per frame.

    ``timed``: the object and the attribute names of the sessions whose time is the graphs' (the rest of a
    step is the loop's own work); ``first_is_start``: frame 0 only starts the loop (a tracker's init);
    ``passes``: graph passes per step, to give the loop's work per pass; ``what``: what the figure covers."""
    step: Callable[[Any], Any]
    start: Callable[[Any], None] = lambda frame: None
    timed: tuple[Any, tuple[str, ...]] = (None, ())
    first_is_start: bool = False
    passes: int = 1
    what: str = ""


@dataclass(frozen=True)
class LoopHooks:
    build: Callable[[Mapping, str], Loop]          # (plan settings, artifacts folder) -> the plan's loop
    narrow: Callable[[Mapping], dict]              # plan settings -> make_plan options that select just them
    probe: Callable[[str, str, int, str], Loop]    # (artifacts, backend, threads, key) -> fp32 loop to measure
    overhead_keys: tuple[str, ...] = ("default",)  # loops-block records `profile-loops` writes
    unit: str = "frame"                            # what one overhead figure is per
    calibrate: Callable | None = field(default=None)  # extra per-backend calibration (propagation, mot)


def _centre_box(frame) -> tuple[float, float, float, float]:
    h, w = frame.shape[:2]
    return (w / 2 - 20, h / 2 - 40, 40, 80)


# --- propagate ------------------------------------------------------------------------------------------------

def _propagator(art_dir, model, backend, precision, policy, threads, part_precision=None) -> Loop:
    from ..propagate import Propagator

    p = Propagator.from_dir(art_dir, model, backend, precision, policy=policy, threads=threads,
                            part_precision=part_precision)
    return Loop(p.step, timed=(p, ("feature_sess", "flow_sess", "head_sess")),
                what="Propagator.step outside the three graphs")


def _propagate_calibrate(profile, video, art_dir, frames):
    return calibrate_propagation_loop(profile, video, art_dir, frames=frames)


PROPAGATE = LoopHooks(
    build=lambda s, art: _propagator(art, s["model"], s["backend"], s["precision"], s["key_interval"], s["threads"],
                                     s.get("part_precision") or None),
    narrow=lambda s: {"backends": [s["backend"]], "threads": [s["threads"]], "precisions": [s["precision"]],
                      "models": [s["model"]],
                      "key_intervals": [s["key_interval"]] if s["key_interval"] != "auto" else [1]},
    probe=lambda art, backend, threads, key: _propagator(art, "dff-seg", backend, "fp32", 5, threads),
    calibrate=_propagate_calibrate)


# --- colorize -------------------------------------------------------------------------------------------------

def _colorizer(art_dir, backend, precision, size, threads) -> Loop:
    from ..colorize import Colorizer

    c = Colorizer.from_dir(art_dir, "excolor", backend, precision, size=size, threads=threads)
    return Loop(c.step, c.set_reference, (c, ("frame_sess",)),
                what=f"Colorizer.step at {size} outside the frame graph")


COLORIZE = LoopHooks(
    build=lambda s, art: _colorizer(art, s["backend"], s["precision"], s["size"], s["threads"]),
    narrow=lambda s: {"backends": [s["backend"]], "threads": [s["threads"]], "precisions": [s["precision"]],
                      "sizes": [s["size"]]},
    probe=lambda art, backend, threads, key: _colorizer(art, backend, "fp32", key, threads),
    overhead_keys=("320x240", "640x480"))


# --- track ----------------------------------------------------------------------------------------------------

def _tracker(art_dir, name, backend, precision, threads) -> Loop:
    from ..track.factory import make_tracker
    from ..track.registry import get_variant

    t = make_tracker(name, art_dir, backend, precision, threads)
    loop = Loop(t.update, lambda frame: t.init(frame, _centre_box(frame)), first_is_start=True,
                what="SiamFC step outside the search graph, per search pass (crop, colour conversion, response)")
    net = getattr(t, "net", None)
    if net is not None:
        loop.timed = (net, ("search_sess",))
        loop.passes = get_variant(name).search_passes(t.p)
    return loop


TRACK = LoopHooks(
    build=lambda s, art: _tracker(art, s["tracker"], s["backend"], s["precision"], s["threads"]),
    narrow=lambda s: {"backends": [s["backend"]], "threads": [s["threads"]], "precisions": [s["precision"]],
                      "trackers": [s["tracker"]]},
    probe=lambda art, backend, threads, key: _tracker(art, "siamfc", backend, "fp32", threads),
    unit="search pass")


# --- mot -------------------------------------------------------------------------------------------------------

def _mot(art_dir, model, variant, backend, precision, threads) -> Loop:
    """What ``edgecv mot`` runs per frame: the detector (built as the CLI builds it, decoding from the variant's
    lowest score) and the variant's association on its boxes, scores and embeddings."""
    from ..mot import MultiTracker, PersonDetector, linear_assignment

    det = PersonDetector.from_dir(art_dir, model, backend, precision, threads=threads, spin=False)
    params = det.fit_params(variant)
    tracker = MultiTracker(params)
    linear_assignment(np.zeros((1, 1)), 1.0)   # scipy loaded now, not in the first frame's time

    def step(frame):
        d = det(frame)
        return tracker.update(d.boxes, d.scores, d.embeddings)

    return Loop(step, timed=(det, ("session",)),
                what=f"mot {params.name}: resize, heatmap decoding and association outside the detector graph")


def _mot_calibrate(profile, video, art_dir, frames):
    return calibrate_mot_loop(profile, video, art_dir, frames=frames)


MOT = LoopHooks(
    build=lambda s, art: _mot(art, s["model"], s["variant"], s["backend"], s["precision"], s["threads"]),
    narrow=lambda s: {"backends": [s["backend"] + (f":{s['compute_unit']}" if s.get("compute_unit") else "")],
                      "threads": [s["threads"]], "precisions": [s["precision"]], "models": [s["model"]],
                      "variants": [s["variant"]]},
    probe=lambda art, backend, threads, key: _mot(art, "persondet-lite0", "bytetrack", backend, "fp32", threads),
    calibrate=_mot_calibrate)


LOOPS: dict[str, LoopHooks] = {"propagate": PROPAGATE, "track": TRACK, "colorize": COLORIZE, "mot": MOT}


def loop_hooks(pipeline: str) -> LoopHooks:
    if pipeline not in LOOPS:
        raise EdgeCVError(f"unknown pipeline {pipeline!r}; choose from {', '.join(LOOPS)}")
    return LOOPS[pipeline]


def measure_loop_overhead(pipeline: str, video, art_dir="artifacts", backend: str = "ort", threads: int = 1,
                          frames: int = 60, start: int = 0, size: str = "320x240") -> dict:
    """Median ms per frame that ``pipeline``'s loop spends outside its graphs on ``video`` (``track``: per
    search pass). Returns a ``loops`` record for a device profile (``provenance: measured``)."""
    from .core import PlanError

    hooks = loop_hooks(pipeline)
    vid = _frames(video, frames + 5, start)
    if len(vid) < 6:
        raise PlanError(f"video {video}: fewer than 6 readable frames from frame {start}")
    loop = hooks.probe(art_dir, backend, threads, size)
    owner, names = loop.timed
    acc = [0.0]
    for name in names:
        setattr(owner, name, _Timed(getattr(owner, name), acc))
    loop.start(vid[0])
    if loop.first_is_start:
        vid = vid[1:]
    per = [ms / loop.passes for ms in _outside(loop.step, vid, acc)]
    what = f"{loop.what}, {vid[0].shape[1]}x{vid[0].shape[0]} input"
    a = np.asarray(per)
    return {"overhead_ms": round(float(np.median(a)), 3), "p90_ms": round(float(np.percentile(a, 90)), 3),
            "frames": len(per), "what": what,
            "provenance": {"kind": "measured", "host": socket.gethostname(),
                           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                           "command": f"measure_loop_overhead({pipeline!r}, {str(video)!r}, backend={backend!r}, "
                                      f"threads={threads})"}}
