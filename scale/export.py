"""``edgecv export --ray``: a matrix of models × formats × precisions as units; ``edgecv profile --ray``: every
artifact × backend × threads as units, one at a time per node."""
from __future__ import annotations

from pathlib import Path

from .cas import with_manifests
from .content import weights_digest
from .errors import ScaleError
from .units import ResultStore, make_unit, run_units

__all__ = ["export_matrix", "profile_matrix"]


def export_matrix(models, formats, precisions, out_dir, ops=None, calib=None, keep_failed=False, address=None,
                  workers=None, progress=True) -> list[Path]:
    """Export every model × format × precision (one unit each) into ``out_dir``; returns the artifact paths.
    Units are kept under ``out_dir/.units``: a rerun exports only what is missing or changed."""
    from edgecv.export import check_combination

    if calib is not None and not Path(calib).is_file():
        raise ScaleError(f"--calib {calib}: with --ray give a video file (shipped by hash), not a folder")
    digest = weights_digest()
    units = []
    for m in models:
        for f in formats:
            for p in precisions:
                check_combination(f, p, ops)
                inputs = {"model": m, "format": f, "precision": p, "ops": ops, "keep_failed": keep_failed,
                          "weights_sha256": digest, "calib": Path(calib).name if calib else None}
                units.append(make_unit("export.model", inputs, [calib] if calib else []))
    res = run_units(units, ResultStore(Path(out_dir) / ".units"), address, workers, progress, "export",
                    files_root=out_dir)
    return [Path(out_dir) / a for u in units for a in res[u.key]["artifacts"]]


def profile_matrix(artifacts, threads, backends, runs, warmup, device_name, command, store_dir, address,
                   workers=None, progress=True) -> list[dict]:
    """Profile entries for every artifact × backend × threads, measured on the cluster one unit per node at a
    time; each entry's provenance names the node (host, CPU) it ran on."""
    units = []
    for a in artifacts:
        a = Path(a)
        files = with_manifests([a])
        for b in backends:
            for t in threads:
                units.append(make_unit("profile.artifact", {"artifact": a.name, "backend": b, "threads": t,
                                                            "runs": runs, "warmup": warmup, "device": device_name,
                                                            "command": command}, files))
    res = run_units(units, ResultStore(store_dir), address, workers, progress, "profile")
    return [res[u.key] for u in units]
