"""``edgecv batch LOOP``: one loop (track, mot, propagate, colorize) over a library of videos, one unit per
video, here or on Ray.

Each unit ships its video and the loop's artifacts by hash, runs the same loop function the single-video
command runs (``track_video``, ``mot_video``, ``propagate_video``, ``colorize_video``) into a
scratch folder on the worker, and returns the output files' bytes; the driver writes them under
``--out/<video stem>/`` (each atomically) and then the unit's record, so a rerun skips finished videos and
redoes a video whose outputs were removed or changed.
"""
from __future__ import annotations

import glob
import json
from pathlib import Path

from .cas import with_manifests
from .errors import ScaleError
from .units import ResultStore, make_unit, run_units

__all__ = ["LOOPS", "find_videos", "read_boxes_file", "batch"]

LOOPS = ("track", "mot", "propagate", "colorize")
VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")


def find_videos(spec: str) -> list[Path]:
    """The videos of ``--videos``: a folder (its video files, not recursive) or a glob pattern."""
    p = Path(spec)
    if p.is_dir():
        found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_EXTS)
        where = f"folder {p}"
    else:
        found = sorted(Path(q) for q in glob.glob(spec) if Path(q).is_file())
        where = f"pattern {spec!r}"
    if not found:
        raise ScaleError(f"--videos: no video files in {where} (extensions: {', '.join(VIDEO_EXTS)})")
    stems = [v.stem for v in found]
    if dup := sorted({s for s in stems if stems.count(s) > 1}):
        raise ScaleError(f"--videos: several videos share the name {', '.join(dup)}: outputs go to --out/<name>/")
    return found


def read_boxes_file(path, videos: list[Path]) -> dict[str, list[float]]:
    """Init boxes for ``batch track``: a JSON object ``{"video file name": [x, y, w, h]}``; each video needs
    one (a ``VIDEO.box`` file beside the video, ``x,y,w,h``, is read when the JSON does not name it)."""
    given = {}
    if path is not None:
        try:
            given = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ScaleError(f"--boxes {path}: {e}") from None
        if not isinstance(given, dict):
            raise ScaleError(f"--boxes {path}: expected {{\"video.avi\": [x, y, w, h], ...}}")
    boxes, missing = {}, []
    for v in videos:
        box = given.get(v.name)
        side = v.with_name(v.name + ".box")
        if box is None and side.is_file():
            box = side.read_text().replace(",", " ").split()
        if box is None:
            missing.append(v.name)
            continue
        try:
            box = [float(b) for b in box]
        except (TypeError, ValueError):
            raise ScaleError(f"init box of {v.name}: {box!r} is not four numbers") from None
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise ScaleError(f"init box of {v.name}: {box!r} is not x, y, w, h with w, h > 0")
        boxes[v.name] = box
    if missing:
        raise ScaleError(f"batch track: no init box for {', '.join(missing)} (give --boxes FILE.json or "
                         "VIDEO.box beside each video)")
    return boxes


def batch(loop: str, videos: list[Path], out_dir, settings: dict, artifacts: list[Path], boxes=None,
          address=False, workers: int | None = None, progress: bool = True) -> dict:
    """Run ``loop`` over ``videos`` (one unit each) and write ``out_dir/<stem>/...`` plus ``out_dir/batch.json``
    (per video: its outputs and counts). ``settings``: what the loop is built from (JSON);
    ``artifacts``: the model files it needs (their manifests are added), shipped by hash with each video."""
    if loop not in LOOPS:
        raise ScaleError(f"unknown loop {loop!r}; choose from {', '.join(LOOPS)}")
    out_dir = Path(out_dir)
    files = with_manifests(artifacts)
    units = {}
    for v in videos:
        inputs = {"video": v.name, "settings": settings}
        if loop == "track":
            inputs["box"] = boxes[v.name]
        units[v.name] = make_unit(f"batch.{loop}", inputs, files + [v])
    results = run_units(list(units.values()), ResultStore(out_dir / ".units"), address, workers, progress,
                        f"batch {loop}", files_root=out_dir)
    summary = {"loop": loop, "settings": settings,
               "videos": {v.name: {"source": str(v), **results[units[v.name].key]} for v in videos}}
    from edgecv.runtime.outputs import write_json_atomic

    write_json_atomic(out_dir / "batch.json", summary)
    return summary
