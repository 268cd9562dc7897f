"""edgecv.scale: sweeps, exports, profiles and video jobs as idempotent units, run here or on Ray.

Without ``--ray`` nothing here imports Ray and the commands run as they always have. With ``--ray`` a local
Ray cluster starts on this machine (``--workers`` processes), or ``--ray ADDRESS`` / ``EDGECV_RAY_ADDRESS``
joins a running one. Units are keyed by their inputs (artifact sha256, sequence, params) and written under
the output folder atomically, so a rerun skips finished work and a killed worker's unit is retried
(:mod:`.units`); artifacts travel by content hash (:mod:`.cas`). Ray is the optional extra ``edgecv[scale]``.
"""
from __future__ import annotations

from .errors import ScaleError
from .units import ResultStore, Unit, make_unit, ray_address, run_units

__all__ = ["ResultStore", "ScaleError", "Unit", "make_unit", "ray_address", "run_units"]
