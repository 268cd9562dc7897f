"""``edgecv eval colorize --ray``: one unit per method × clip. A unit returns its clip's per-frame error values,
temporal differences and milliseconds, and the contact-sheet frames (PNG); :func:`edgecv.eval.colorize.evaluate`
adds them frame by frame in the local path's order, so the table is the same."""
from __future__ import annotations

from pathlib import Path

from .cas import with_manifests
from .content import colorize_clip_digest, decode_png
from .units import ResultStore, make_unit, run_units

__all__ = ["model_spec", "GLOBAL_SPEC", "colorize_runs", "SHEET_FRAMES"]

GLOBAL_SPEC = {"kind": "global"}
SHEET_FRAMES = (0, 29)   # eval.colorize.evaluate's default


def model_spec(art_dir, model, backend, precision, size, threads, recurrent: bool) -> tuple[dict, list]:
    """(spec, files) of a colorizer method: what the worker builds and the two graphs it needs."""
    from edgecv.runtime.colorize.loop import BACKEND_FORMAT, find_artifacts

    arts = find_artifacts(art_dir, model, BACKEND_FORMAT[backend], precision, None, size)
    files = with_manifests([arts.ref, arts.frame])
    return ({"kind": "model", "model": model, "backend": backend, "precision": precision, "size": size,
             "threads": threads, "recurrent": recurrent}, files)


def colorize_runs(methods: dict, dataset, reference: str, store_dir, address, workers=None,
                  progress: bool = True) -> dict:
    """``{(clip, method): {...}}`` for :func:`edgecv.eval.colorize.evaluate`'s ``precomputed``; ``methods``:
    name → (spec, files)."""
    dataset = Path(dataset).resolve()
    clips = sorted(p for p in dataset.iterdir() if p.is_dir() and (p / "reference.png").is_file()
                   and any((p / "frames").glob("*.png")))
    units, where = [], {}
    for d in clips:
        digest = colorize_clip_digest(d)
        for name, (spec, files) in methods.items():
            u = make_unit("colorize.clip", {"method": spec, "label": name, "dataset": str(dataset), "clip": d.name,
                                            "clip_sha256": digest, "reference": reference,
                                            "sheet_frames": list(SHEET_FRAMES)}, files)
            units.append(u)
            where[(d.name, name)] = u.key
    res = run_units(units, ResultStore(store_dir), address, workers, progress, "eval colorize")
    out = {}
    for place, key in where.items():
        r = dict(res[key])
        r["values"] = [tuple(v) for v in r["values"]]
        r["sheet"] = {int(t): decode_png(b) for t, b in r["sheet"].items()}
        out[place] = r
    return out
