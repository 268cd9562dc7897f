"""Figures the planner looks up in a device profile, shared by the planner core and the pipelines' cost models."""
from __future__ import annotations


def provenance_kind(entry: dict) -> str:
    return str((entry.get("provenance") or {}).get("kind", "unknown"))


def loop_overhead(profile: dict, pipeline: str, key: str = "default", frame: str = "overhead_ms") -> tuple[float, str]:
    """The loop's own per-frame work on this device (ms) and where the figure came from: the record for ``key``
    (e.g. ``litert-t2``), else ``default``; ``frame`` picks a field of the record (``key_frame_ms`` /
    ``propagated_frame_ms`` where the propagation loop was calibrated per backend and threads)."""
    loops = (profile.get("loops") or {}).get(pipeline) or {}
    rec = loops.get(key) or loops.get("default")
    if rec and rec.get(frame, rec.get("overhead_ms")) is not None:
        return float(rec.get(frame, rec.get("overhead_ms"))), provenance_kind(rec)
    return 0.0, "unknown"
