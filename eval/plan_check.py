"""Check plans on this machine: run each plan's loop on real frames and compare achieved with predicted fps.

Plans run one after another, each alone on the machine, as a deployed loop would (taking turns frame by
frame would make several loops' sessions evict each other's caches and threads, which no deployment sees).
Achieved fps = 1000 / mean ms of the loop's own work per frame (decoding the video is not counted, as in the
plans).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgecv.runtime.plan.core import PlanError, load_plan
from edgecv.runtime.plan.loops import loop_hooks


def build_loop(plan: dict, art_dir="artifacts"):
    """``plan``'s loop with its settings (:mod:`edgecv.runtime.plan.loops`): ``start(frame0)``, then ``step``."""
    return loop_hooks(plan["pipeline"]).build(plan["settings"], art_dir)


def fresh_prediction(plan: dict, art_dir="artifacts", runs: int = 30) -> float | None:
    """The plan's fps predicted again from its graphs re-profiled *now* (same settings, same cost model), so
    that a check can tell the cost model's error from the machine's drift since the profile was taken."""
    import copy

    from edgecv.runtime import load
    from edgecv.runtime.plan.core import load_device, make_plan
    from edgecv.runtime.profile import random_feeds, time_session

    try:
        prof = copy.deepcopy(load_device(plan["device"]))
    except Exception:
        return None
    s = plan["settings"]
    used = plan.get("figures_used") or {}
    fresh = {}
    for key in used:
        art, backend, threads = key.rsplit(" ", 2)
        path = Path(art_dir) / art
        if not path.is_file() or ":" in backend:
            return None
        sess = load(path, backend, int(threads[1:]) if threads[1:] != "None" else None)
        fresh[(art, backend)] = time_session(sess, random_feeds(sess), runs, 5)["median"]
    for e in prof["entries"]:
        if (e.get("artifact"), e.get("backend")) in fresh and e.get("threads") == s.get("threads"):
            e["latency_ms"] = dict(e["latency_ms"], median=fresh[(e["artifact"], e["backend"])])
    opts = loop_hooks(plan["pipeline"]).narrow(s)
    try:
        p = make_plan(prof, plan["pipeline"], 1e-6, options=opts)
    except PlanError:
        return None
    want = [a for a in p["alternatives"] if a["settings"] == s]
    return want[0]["fps"] if want else None


def check_plans(paths, video=None, frames: int = 150, art_dir="artifacts", echo=print) -> list[dict]:
    from edgecv.runtime.samples import heldout_frames

    plans = [load_plan(p) for p in paths]
    if video is None:
        vid = heldout_frames("vtest.avi", frames + 10)
        vname = "held-out vtest.avi"
    else:
        from edgecv.runtime.plan.overhead import _frames
        vid, vname = _frames(video, frames + 10), str(video)
    if len(vid) < 20:
        raise PlanError(f"{vname}: only {len(vid)} frames; need at least 20")
    times = []
    warm = 10
    fresh = []
    for plan in plans:   # one after another, each alone on the machine, as it would run deployed
        fr = [fresh_prediction(plan, art_dir)]
        loop = build_loop(plan, art_dir)
        loop.start(vid[0])
        step = loop.step
        t = []
        third = max(1, (len(vid) - 1) // 3)
        for i, f in enumerate(vid[1:]):
            t0 = time.perf_counter()
            step(f)
            if i >= warm:
                t.append((time.perf_counter() - t0) * 1e3)
            if i and i % third == 0:   # re-profile between thirds of the run: drift falls on both alike
                fr.append(fresh_prediction(plan, art_dir))
        times.append(t)
        fr = [v for v in fr if v]
        fresh.append(round(float(np.mean(fr)), 2) if fr else None)
        del step, loop
    rows = []
    for plan, path, t, fr in zip(plans, paths, times, fresh):
        a = np.asarray(t)
        achieved = 1000.0 / float(a.mean())
        err = achieved / plan["predicted_fps"] - 1.0
        rows.append({"plan": str(path), "device": plan["device"], "pipeline": plan["pipeline"],
                     "fps_target": plan["fps_target"], "settings": plan["settings"],
                     "predicted_fps": plan["predicted_fps"], "achieved_fps": round(achieved, 2),
                     "error": round(err, 4), "within_10pct": abs(err) <= 0.10,
                     "predicted_fps_fresh_profile": fr,
                     "error_fresh_profile": None if fr is None else round(achieved / fr - 1.0, 4),
                     "meets_target": achieved >= plan["fps_target"],
                     "achieved_mean_ms": round(float(a.mean()), 3),
                     "achieved_p90_ms": round(float(np.percentile(a, 90)), 3),
                     "achieved_max_ms": round(float(a.max()), 3), "predicted_worst_ms": plan["worst_frame_ms"],
                     "frames": len(t), "video": vname})
        desc = ", ".join(f"{k}={v}" for k, v in plan["settings"].items() if v not in (None, {}))
        echo(f"{path}: {plan['pipeline']} {desc}"
             f" — predicted {plan['predicted_fps']:.1f} fps, achieved {achieved:.1f} fps ({err:+.1%}"
             + (f"; {achieved / fr - 1:+.1%} against the graphs re-profiled just before" if fr else "") + "); "
             f"target {plan['fps_target']:g} fps {'met' if achieved >= plan['fps_target'] else 'NOT met'}")
    return rows
