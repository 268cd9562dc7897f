"""Tracker evaluation sweeps as units: one unit per tracker × sequence × start, merged by
:func:`edgecv.eval.track.evaluate` into the same results.json and plots as the local path.

A tracker travels as a *spec* (what to build: name, backend, precision, threads) plus its artifact files by
hash; a sequence as its dataset folder and name, checked on the worker against the groundtruth's sha256
(every node needs the dataset and the sample media at the same path: ``edgecv fetch-data``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecv.runtime.manifest import sha256_file

from .cas import with_manifests
from .errors import ScaleError
from .units import ResultStore, make_unit, run_units

__all__ = ["edgecv_spec", "nanotrack_spec", "baseline_spec", "sweep_runs"]


def edgecv_spec(name: str, art_dir, backend: str, precision: str, threads: int | None) -> tuple[dict, list[Path]]:
    """(spec, files) of an edgecv tracker; a baseline (no artifacts) has no files."""
    from edgecv.runtime.track.factory import artifact_model, backend_format
    from edgecv.runtime.track.registry import get_variant
    from edgecv.runtime.track.siamese_base import find_artifacts

    spec = {"kind": "edgecv", "name": name, "backend": backend, "precision": precision, "threads": threads}
    if artifact_model(name) is None:
        return spec, []
    from edgecv.runtime.track.base import TrackError

    t, s = find_artifacts(art_dir, get_variant(name).model, backend_format(backend, TrackError), precision)
    files = with_manifests([t, s])
    return spec, files


def baseline_spec(name: str) -> tuple[dict, list[Path]]:
    return {"kind": "edgecv", "name": name, "backend": None, "precision": None, "threads": None}, []


def nanotrack_spec(model, threads: int | None) -> tuple[dict, list[Path]]:
    """(spec, files) of a NanoTrack reference row (:class:`edgecv.eval.anchors.NanoTrackModel`)."""
    if model.backbone.parent != model.head.parent:
        raise ScaleError(f"{model.name}: backbone and head must be in one folder to be shipped")
    return ({"kind": "nanotrack", "name": model.name, "version": model.version, "runner": model.runner,
             "source": model.source, "backbone": model.backbone.name, "head": model.head.name,
             "threads": threads}, [model.backbone, model.head])


def sweep_runs(specs: dict[str, tuple[dict, list]], dataset_dir, inits: int, store_dir, address,
               workers: int | None = None, progress: bool = True) -> dict:
    """``{(label, sequence, init): run}`` for every tracker spec × sequence × start, as
    :func:`edgecv.eval.track.run_sequence` returns it, run as units (resumable under ``store_dir``)."""
    from edgecv.runtime.track.sequences import GROUNDTRUTH, list_sequences

    dataset_dir = Path(dataset_dir).resolve()
    seqs = list_sequences(dataset_dir)
    units, where = [], {}
    for label, (spec, files) in specs.items():
        for seq in seqs:
            gt_sha = sha256_file(seq.path / GROUNDTRUTH)
            for k in range(inits):
                u = make_unit("track.sequence", {"label": label, "tracker": spec, "dataset": str(dataset_dir),
                                                 "sequence": seq.name, "groundtruth_sha256": gt_sha, "init": k},
                              files)
                units.append(u)
                where[(label, seq.name, k)] = u.key
    results = run_units(units, ResultStore(store_dir), address, workers, progress, "eval track")
    out = {}
    for place, key in where.items():
        r = results[key]
        out[place] = {"boxes": np.asarray(r["boxes"], np.float64).reshape(-1, 4), "scores": np.asarray(r["scores"]),
                      "lost": np.asarray(r["lost"], bool), "times": np.asarray(r["times"], np.float64),
                      "init_time": float(r["init_time"])}
    return out
