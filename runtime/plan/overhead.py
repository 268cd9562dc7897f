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


def _profiled_ms(path, backend: str, threads) -> float:
    """Median ms of one graph timed as ``edgecv profile`` times it: a session of its own with the backend's
    defaults, random inputs."""
    from edgecv.runtime import load
    from edgecv.runtime.profile import random_feeds, time_session

    sess = load(path, backend, threads)
    return time_session(sess, random_feeds(sess), 20, 3)["median"]


def calibrate_mot_loop(profile: dict, video, art_dir="artifacts", model: str = "persondet-lite0",
                       backends=("ort", "litert"), threads=(1, 2), variants=None, frames: int = 60,
                       start: int = 560, rounds: int = 5) -> dict:
    """Per backend × threads × association variant, what a real multi-object tracking loop costs per frame
    beyond the detector graph the profile times alone. The loop is what ``edgecv mot`` runs per frame (resize,
    the graph, heatmap decoding, association; its detector built as the CLI builds it, ORT's idle threads not
    spinning) on real held-out frames; the graph alone is timed as ``edgecv profile`` times it (a session of its
    own with the backend's defaults, random inputs) before the first round and after each. ``overhead_ms`` =
    the median over rounds of (the round's median step − the mean of the graph alone just before and after it),
    so drift falls on both alike and one round another process slowed does not move it. ``parts_ms`` says what
    it is made of: the medians of the detector's own timers (``resize``, ``decode``), the tracker's
    ``association``, and the graph in the loop against alone (``graph_in_loop``, ``graph_alone``: what the
    graph gains or loses inside the loop). Configurations whose fp32 detector the profile has no figure for are
    skipped.
    Returns ``{"ort-t1-bytetrack": record, ...}`` for the profile's ``loops.mot``."""
    from edgecv.runtime.mot import MultiTracker, PersonDetector, linear_assignment, variant_names

    from .core import Latencies, PlanError
    from .pipelines import artifact_name

    vid = _frames(video, frames + 5, start)
    if len(vid) < 12:
        raise PlanError(f"video {video}: fewer than 12 readable frames from frame {start}")
    linear_assignment(np.zeros((1, 1)), 1.0)   # scipy loaded before any timing
    lat = Latencies(profile)
    out = {}
    for backend in backends:
        for nt in threads:
            if lat.get(artifact_name(model, None, backend, "fp32"), backend, nt) is None:
                continue
            det = PersonDetector.from_dir(art_dir, model, backend, "fp32", threads=nt, spin=False)
            acc = [0.0]
            det.session = _Timed(det.session, acc)
            for variant in variants or variant_names():
                params = det.fit_params(variant)
                total, graph, pre, dec, assoc, resid = [], [], [], [], [], []
                alone = [_profiled_ms(det.path, det.backend, nt)]
                for r in range(rounds):
                    tracker = MultiTracker(params)
                    steps = []
                    for i, f in enumerate(vid):
                        acc[0] = 0.0
                        t0 = time.perf_counter()
                        d = det(f)
                        t1 = time.perf_counter()
                        tracker.update(d.boxes, d.scores, d.embeddings)
                        t2 = time.perf_counter()
                        if r == 0 and i < 5:   # warm-up
                            continue
                        steps.append((t2 - t0) * 1e3)
                        graph.append(acc[0])
                        pre.append(det.last_ms["pre"])
                        dec.append(det.last_ms["decode"])
                        assoc.append((t2 - t1) * 1e3)
                    alone.append(_profiled_ms(det.path, det.backend, nt))
                    # this round's residual against the graph alone just before and after it: a round that
                    # another process slowed is one of several, and the median over rounds leaves it out
                    resid.append(float(np.median(steps)) - (alone[-2] + alone[-1]) / 2)
                    total += steps
                g_alone = float(np.median(alone))
                tot = np.asarray(total)
                med = {k: round(float(np.median(v)), 3) for k, v in
                       (("resize", pre), ("decode", dec), ("association", assoc), ("graph_in_loop", graph))}
                out[f"{backend}-t{nt}-{params.name}"] = {
                    "overhead_ms": round(float(np.median(resid)), 3),
                    "p90_ms": round(float(np.percentile(tot, 90)) - g_alone, 3),
                    "parts_ms": {**med, "graph_alone": round(g_alone, 3)},
                    "frames": len(vid),
                    "what": (f"{model} fp32 + {params.name} association on {vid[0].shape[1]}x{vid[0].shape[0]} frames "
                             f"(held-out from frame {start}, {rounds} rounds): the loop's step minus the detector "
                             "graph timed alone as `edgecv profile` times it, just before and after"),
                    "provenance": {"kind": "measured", "host": socket.gethostname(),
                                   "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                   "command": "edgecv profile-loops --pipelines mot"}}
            del det
    return out
