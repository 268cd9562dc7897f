"""Check plans on this machine: run each plan's loop on real frames and compare achieved with predicted fps.

All plans take turns frame by frame (interleaved), so machine noise falls on all of them alike. Achieved
fps = 1000 / mean ms of the loop's own work per frame (decoding the video is not counted, as in the plans).
"""
from __future__ import annotations

import time

import numpy as np

from .core import PlanError, load_plan


def build_loop(plan: dict, art_dir="artifacts"):
    """A callable ``step(frame)`` running ``plan``'s pipeline with its settings (and a reset for the start)."""
    s = plan["settings"]
    if plan["pipeline"] == "propagate":
        from edgecv.runtime.propagate import Propagator

        p = Propagator.from_dir(art_dir, s["model"], s["backend"], s["precision"], policy=s["key_interval"],
                                threads=s["threads"], part_precision=s.get("part_precision") or None)
        return p.step, p.reset
    if plan["pipeline"] == "colorize":
        from edgecv.runtime.colorize import Colorizer

        c = Colorizer.from_dir(art_dir, "excolor", s["backend"], s["precision"], size=s["size"], threads=s["threads"])
        return c.step, None
    if plan["pipeline"] == "track":
        from edgecv.runtime.track.factory import make_tracker

        t = make_tracker(s["tracker"], art_dir, s["backend"], s["precision"], s["threads"])
        return t.update, t
    raise PlanError(f"plan for unknown pipeline {plan['pipeline']!r}")


def check_plans(paths, video=None, frames: int = 150, art_dir="artifacts", echo=print) -> list[dict]:
    from edgecv import data

    plans = [load_plan(p) for p in paths]
    if video is None:
        vid = data.video_part("vtest.avi", "heldout")[: frames + 10]
        vname = "held-out vtest.avi"
    else:
        from .overhead import _frames
        vid, vname = _frames(video, frames + 10), str(video)
    if len(vid) < 20:
        raise PlanError(f"{vname}: only {len(vid)} frames; need at least 20")
    loops = []
    for plan in plans:
        step, extra = build_loop(plan, art_dir)
        if plan["pipeline"] == "track":
            h, w = vid[0].shape[:2]
            extra.init(vid[0], (w / 2 - 20, h / 2 - 40, 40, 80))
        elif plan["pipeline"] == "colorize":
            step.__self__.set_reference(vid[0])
        loops.append(step)
    times = [[] for _ in plans]
    warm = 10
    for i, f in enumerate(vid[1:]):
        for j, step in enumerate(loops):
            t0 = time.perf_counter()
            step(f)
            if i >= warm:
                times[j].append((time.perf_counter() - t0) * 1e3)
    rows = []
    for plan, path, t in zip(plans, paths, times):
        a = np.asarray(t)
        achieved = 1000.0 / float(a.mean())
        err = achieved / plan["predicted_fps"] - 1.0
        rows.append({"plan": str(path), "device": plan["device"], "pipeline": plan["pipeline"],
                     "fps_target": plan["fps_target"], "settings": plan["settings"],
                     "predicted_fps": plan["predicted_fps"], "achieved_fps": round(achieved, 2),
                     "error": round(err, 4), "within_10pct": abs(err) <= 0.10,
                     "meets_target": achieved >= plan["fps_target"],
                     "achieved_mean_ms": round(float(a.mean()), 3),
                     "achieved_p90_ms": round(float(np.percentile(a, 90)), 3),
                     "achieved_max_ms": round(float(a.max()), 3), "predicted_worst_ms": plan["worst_frame_ms"],
                     "frames": len(t), "video": vname})
        desc = ", ".join(f"{k}={v}" for k, v in plan["settings"].items() if v not in (None, {}))
        echo(f"{path}: {plan['pipeline']} {desc}"
             f" — predicted {plan['predicted_fps']:.1f} fps, achieved {achieved:.1f} fps ({err:+.1%}); "
             f"target {plan['fps_target']:g} fps {'met' if achieved >= plan['fps_target'] else 'NOT met'}")
    return rows
