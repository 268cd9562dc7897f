"""The loops' own per-frame work (resizing, crops, colour conversion, masks), measured on real frames.

It is measured the honest way: run the real loop on real frames and subtract the time spent inside the
graph sessions (each session's ``run`` is timed), so what is left is what the planner must add to the
profile's per-artifact latencies."""
from __future__ import annotations

import datetime as _dt
import socket
import time

import numpy as np


class _Timed:
    """Wraps a session; adds the wall time of every ``run`` to a shared counter."""

    def __init__(self, sess, acc: list):
        self._s, self._acc = sess, acc

    def run(self, *a, **k):
        t0 = time.perf_counter()
        out = self._s.run(*a, **k)
        self._acc[0] += (time.perf_counter() - t0) * 1e3
        return out

    def __getattr__(self, name):
        return getattr(self._s, name)


def _frames(video, n: int, start: int = 0):
    from edgecv.runtime.engine import open_source

    out = []
    for i, frame, _ in open_source(video).frames:
        if i < start or frame is None:
            continue
        out.append(frame)
        if len(out) >= n:
            break
    return out


def _outside(step, frames, acc: list, warm: int = 5) -> list[float]:
    """ms per frame of ``step`` minus the time its timed sessions added to ``acc`` (after ``warm`` frames)."""
    per = []
    for i, f in enumerate(frames):
        acc[0] = 0.0
        t0 = time.perf_counter()
        step(f)
        if i >= warm:
            per.append((time.perf_counter() - t0) * 1e3 - acc[0])
    return per


def measure_loop_overhead(pipeline: str, video, art_dir="artifacts", backend: str = "ort", threads: int = 1,
                          frames: int = 60, start: int = 0, size: str = "320x240") -> dict:
    """Median ms per frame that ``pipeline``'s loop spends outside its graphs on ``video`` (``track``: per
    search pass). Returns a ``loops`` record for a device profile (``provenance: measured``)."""
    from .core import PlanError

    vid = _frames(video, frames + 5, start)
    if len(vid) < 6:
        raise PlanError(f"video {video}: fewer than 6 readable frames from frame {start}")
    acc = [0.0]
    if pipeline == "propagate":
        from edgecv.runtime.propagate import Propagator

        p = Propagator.from_dir(art_dir, "dff-seg", backend, "fp32", policy=5, threads=threads)
        p.feature_sess, p.flow_sess, p.head_sess = (_Timed(s, acc) for s in (p.feature_sess, p.flow_sess,
                                                                             p.head_sess))
        per = _outside(p.step, vid, acc)
        what = f"Propagator.step outside the three graphs, {vid[0].shape[1]}x{vid[0].shape[0]} input"
    elif pipeline == "colorize":
        from edgecv.runtime.colorize import Colorizer

        c = Colorizer.from_dir(art_dir, "excolor", backend, "fp32", size=size, threads=threads)
        c.set_reference(vid[0])
        c.frame_sess = _Timed(c.frame_sess, acc)
        per = _outside(c.step, vid, acc)
        what = f"Colorizer.step at {size} outside the frame graph, {vid[0].shape[1]}x{vid[0].shape[0]} input"
    elif pipeline == "track":
        from edgecv.runtime.track.factory import make_tracker

        t = make_tracker("siamfc", art_dir, backend, "fp32", threads)
        h, w = vid[0].shape[:2]
        t.init(vid[0], (w / 2 - 20, h / 2 - 40, 40, 80))
        t.net.search_sess = _Timed(t.net.search_sess, acc)
        passes = getattr(t.p, "num_scales", 1)
        per = [ms / passes for ms in _outside(t.update, vid[1:], acc)]
        what = "SiamFC step outside the search graph, per search pass (crop, colour conversion, response)"
    else:
        raise PlanError(f"unknown pipeline {pipeline!r}; choose from propagate, track, colorize")
    a = np.asarray(per)
    return {"overhead_ms": round(float(np.median(a)), 3), "p90_ms": round(float(np.percentile(a, 90)), 3),
            "frames": len(per), "what": what,
            "provenance": {"kind": "measured", "host": socket.gethostname(),
                           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                           "command": f"measure_loop_overhead({pipeline!r}, {str(video)!r}, backend={backend!r}, "
                                      f"threads={threads})"}}


def calibrate_propagation_loop(profile: dict, video, art_dir="artifacts", model: str = "dff-seg",
                               backends=("ort", "litert"), threads=(1, 2), frames: int = 40, start: int = 560,
                               rounds: int = 3) -> dict:
    """Per backend × threads, what a real propagation loop costs beyond the profile's own part latencies:
    ``key_frame_ms`` = median key-frame step − (feature + head) and ``propagated_frame_ms`` = median
    propagated step − (flow + head), the graphs (fp32) timed alone just before and after the loop. This takes in
    the resizing and mask work *and* what the graphs lose inside a loop (three sessions taking turns: their
    threads go idle and caches go cold between runs), which a graph profiled alone does not show.
    Returns ``{"ort-t1": record, ...}`` for the profile's ``loops.propagate``."""
    from edgecv.runtime.profile import random_feeds, time_session
    from edgecv.runtime.propagate import Propagator

    from .core import Latencies, PlanError
    from .pipelines import artifact_name

    vid = _frames(video, frames + 5, start)
    if len(vid) < 12:
        raise PlanError(f"video {video}: fewer than 12 readable frames from frame {start}")
    lat = Latencies(profile)
    out = {}
    for backend in backends:
        for nt in threads:
            part = {p: lat.get(artifact_name(model, p, backend, "fp32"), backend, nt)
                    for p in ("feature", "flow", "head")}
            if any(v is None for v in part.values()):
                continue
            rec = {}
            for label, policy in (("key_frame_ms", 1), ("propagated_frame_ms", 10 ** 6)):
                p = Propagator.from_dir(art_dir, model, backend, "fp32", policy=policy, threads=nt)
                sess = [p.feature_sess, p.head_sess] if policy == 1 else [p.flow_sess, p.head_sess]
                # the same sessions timed alone right before and after the loop, as a profile times them:
                # the residual is then the loop's cost, not the machine's drift since the profile was taken
                # in rounds (alone, loop, alone, loop, ...) so that drift falls on both alike
                alone, totals = [], []
                for r in range(rounds):
                    alone.append(sum(time_session(s, random_feeds(s), 20, 3)["median"] for s in sess))
                    chunk = vid if r == 0 else vid[5:]
                    steps = [p.step(f) for f in chunk]
                    totals += [x.ms["total"] for x in steps[5 if r == 0 else 0:] if x.is_key == (policy == 1)]
                alone.append(sum(time_session(s, random_feeds(s), 20, 3)["median"] for s in sess))
                rec[label] = round(float(np.median(totals)) - float(np.mean(alone)), 3)
            rec.update(frames=len(vid), what=f"{model} fp32 loop on {vid[0].shape[1]}x{vid[0].shape[0]} frames minus "
                                              "its graphs timed alone just before and after",
                       provenance={"kind": "measured", "host": socket.gethostname(),
                                   "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                   "command": "edgecv profile-loops"})
            out[f"{backend}-t{nt}"] = rec
    return out
