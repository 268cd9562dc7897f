"""``edgecv eval propagate --ray``: one unit per bundle × key-frame policy × clip (and per bundle × policy on the
real video); each returns its confusion matrix (or, on the real video, its masks), its milliseconds and key
frames, and :func:`edgecv.eval.propagate.evaluate` scores them here exactly as on the local path."""
from __future__ import annotations

from pathlib import Path

from .cas import with_manifests
from .content import propagation_clip_digest, unpack_masks
from .units import ResultStore, make_unit, run_units

__all__ = ["bundle_spec", "propagate_runs"]


def bundle_spec(art_dir, model, backend, precision, ops, threads, part_precision, aggregate) -> tuple[dict, list]:
    """(spec, files) of a propagation bundle: what the worker builds and the artifacts it needs."""
    from edgecv.runtime.bundle import backend_format
    from edgecv.runtime.propagate.artifacts import find_artifacts

    arts = find_artifacts(art_dir, model, backend_format(backend), precision, ops, part_precision)
    files = with_manifests(arts.paths().values())
    spec = {"model": model, "backend": backend, "precision": precision, "ops": ops, "threads": threads,
            "part_precision": part_precision or None, "aggregate": aggregate}
    return spec, files


def propagate_runs(specs: dict, dataset, policies, real_video, real_range, store_dir, address, workers=None,
                   progress: bool = True) -> dict:
    """The runs :func:`edgecv.eval.propagate.evaluate` takes as ``precomputed``; ``specs``: bundle label →
    (spec, files); ``real_range``: (first frame, count) of ``real_video``."""
    from edgecv.eval.propagate import clip_folders

    dataset = Path(dataset).resolve()
    clips = clip_folders(dataset)
    units, where = [], {}
    for d in clips:
        digest = propagation_clip_digest(d)
        for p in policies:
            for b, (spec, files) in specs.items():
                u = make_unit("propagate.clip", {"bundle": spec, "dataset": str(dataset), "clip": d.name,
                                                 "clip_sha256": digest, "policy": p}, files)
                units.append(u)
                where[(d.name, p, b)] = u.key
    if real_video is not None:
        for p in policies:
            for b, (spec, files) in specs.items():
                u = make_unit("propagate.real", {"bundle": spec, "video": Path(real_video).name,
                                                 "start": int(real_range[0]), "count": int(real_range[1]),
                                                 "policy": p}, list(files) + [Path(real_video)])
                units.append(u)
                where[("real", p, b)] = u.key
    res = run_units(units, ResultStore(store_dir), address, workers, progress, "eval propagate")
    out = {}
    for place, key in where.items():
        r = res[key]
        out[place] = ({"masks": unpack_masks(r["masks"]), "ms": r["ms"]} if place[0] == "real" and
                      "masks" in r else r)
    return out
