"""``edgecv eval mot --detector ... --ray``: the detector pass (the costly part) as one unit per sequence; the
association and scoring then run here on the ``det.txt`` files, exactly as on the local path."""
from __future__ import annotations

from pathlib import Path

from edgecv.runtime.manifest import sha256_file

from .cas import with_manifests
from .units import ResultStore, make_unit, run_units

__all__ = ["detections_on_ray"]


def detections_on_ray(dataset, artifact, backend: str, threads: int | None, score_threshold: float, det_root,
                      address, workers: int | None = None, progress: bool = True) -> dict:
    """Write ``det_root/SEQ/det/det.txt`` for every sequence of ``dataset`` with a ``gt/`` folder, one unit per
    sequence (units kept under ``det_root/.units``); returns per sequence what
    :func:`edgecv.eval.mot.write_detections` returns."""
    from edgecv.eval.mot import sequence_folders

    dataset = Path(dataset).resolve()
    artifact = Path(artifact)
    files = with_manifests([artifact])
    settings = {"artifact": artifact.name, "backend": backend, "threads": threads, "score_threshold": score_threshold}
    units = {}
    for p in sequence_folders(dataset):
        if (p / "gt").is_dir():
            units[p.name] = make_unit("mot.detections", {"dataset": str(dataset), "sequence": p.name,
                                                         "source_sha256": sha256_file(p / "source.json"),
                                                         "settings": settings}, files)
    res = run_units(list(units.values()), ResultStore(Path(det_root) / ".units"), address, workers, progress,
                    "eval mot detections", files_root=det_root)
    return {name: {**res[u.key]["stats"], "det_txt": str(Path(det_root) / name / "det" / "det.txt")}
            for name, u in units.items()}
