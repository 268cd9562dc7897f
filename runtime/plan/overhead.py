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
