"""What runs one unit on a worker (or in this process): the job's function over the unit's inputs and files."""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from .errors import ScaleError
from .jobs import JOBS

__all__ = ["execute", "ENV_TRACE"]

ENV_TRACE = "EDGECV_SCALE_TRACE"  # a folder where each unit's start and end are logged (pid, host): tests, debugging


def _trace(unit, event: str) -> None:
    folder = os.environ.get(ENV_TRACE)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    rec = {"key": unit.key, "job": unit.job, "event": event, "pid": os.getpid(), "host": socket.gethostname(),
           "t": time.time()}
    (Path(folder) / f"{unit.key}.{event}.{os.getpid()}").write_text(json.dumps(rec) + "\n")


def execute(unit, files_dir: Path | None) -> dict:
    """Run one :class:`~.units.Unit` here (``files_dir``: the folder holding its files by name)."""
    if unit.job not in JOBS:
        raise ScaleError(f"unknown job {unit.job!r}; known: {', '.join(sorted(JOBS))}")
    _trace(unit, "start")
    result = JOBS[unit.job](unit.inputs, files_dir)
    _trace(unit, "done")
    return result
