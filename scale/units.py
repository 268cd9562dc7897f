"""Work units: idempotent, resumable jobs keyed by their inputs, run in this process or as Ray tasks.

A :class:`Unit` is one job (a registered function, :data:`JOBS`) with JSON inputs and the files it reads,
each named by its sha256. Its key is the sha256 of all of that, so the same work has the same key on every
machine and every rerun. Results go to ``<store>/<job>/<key>.json``, written whole or not at all: a rerun
skips every unit whose result is there, and a unit that died half-way left nothing, so it runs again.

Without an address Ray starts a local cluster on this machine (``ray.init(num_cpus=workers)``); with one
(``--ray ADDRESS`` or ``EDGECV_RAY_ADDRESS``) it joins that cluster. Ray retries a task whose worker
process died (``max_retries``); the driver alone writes results, one file per key, as each task returns,
so a killed worker's unit is neither lost nor written twice. Files travel by content hash
(:mod:`.cas`), never by a path that only this machine has.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgecv.runtime.manifest import sha256_file
from edgecv.runtime.outputs import atomic_path, write_json_atomic

from .cas import FileRef, file_ref
from .errors import ScaleError
from .worker import execute

__all__ = ["Unit", "ScaleError", "ResultStore", "make_unit", "run_units", "ray_address", "local_folder"]

ENV_ADDRESS = "EDGECV_RAY_ADDRESS"


@dataclass(frozen=True)
class Unit:
    job: str
    key: str
    inputs: dict
    files: tuple[FileRef, ...] = field(default_factory=tuple)
    local_paths: tuple[tuple[str, str], ...] = ()   # (name, path) of each file on the driver's machine


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def make_unit(job: str, inputs: dict, files=()) -> Unit:
    """A unit of ``job`` over ``inputs`` (JSON) and ``files`` (paths; their names must differ): its key is the
    hash of the job, the inputs and each file's name and sha256, not of any path."""
    refs = tuple(file_ref(p) for p in files)
    names = [r.name for r in refs]
    if len(set(names)) != len(names):
        raise ScaleError(f"{job}: two files share a name ({', '.join(sorted(n for n in names if names.count(n) > 1))})")
    body = {"job": job, "inputs": inputs, "files": [[r.name, r.sha256] for r in refs]}
    key = hashlib.sha256(_canonical(body).encode()).hexdigest()[:32]
    return Unit(job, key, inputs, refs, tuple((r.name, str(Path(p).absolute())) for r, p in zip(refs, files)))


def local_folder(unit: Unit) -> Path | None:
    """A folder holding the unit's files by name on this machine: their own folder when they share one, else
    links in the content store."""
    if not unit.files:
        return None
    dirs = {str(Path(p).parent) for _, p in unit.local_paths}
    if len(dirs) == 1:
        return Path(dirs.pop())
    from .cas import materialise

    by_sha = {r.sha256: p for r, (_, p) in zip(unit.files, unit.local_paths)}
    return materialise(unit.files, lambda sha: Path(by_sha[sha]).read_bytes())


class ResultStore:
    """``<root>/<job>/<key>.json``: one file per finished unit, written atomically."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, unit: Unit) -> Path:
        return self.root / unit.job.replace(".", "-") / f"{unit.key}.json"

    def get(self, unit: Unit, files_root=None) -> dict | None:
        """The stored result, or None when the unit must run (no result, or an output file it wrote under
        ``files_root`` is missing or changed)."""
        p = self.path(unit)
        if not p.is_file():
            return None
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # unreadable: run it again (the rename makes this rare: a disk error, a hand edit)
        result = rec.get("result") if rec.get("key") == unit.key else None
        if result and files_root is not None:
            for rel, sha in result.get("files", {}).items():
                f = Path(files_root) / rel
                if not f.is_file() or sha256_file(f) != sha:
                    return None
        return result

    def put(self, unit: Unit, result: dict) -> Path:
        return write_json_atomic(self.path(unit), {"job": unit.job, "key": unit.key, "inputs": unit.inputs,
                                                   "files": [[r.name, r.sha256] for r in unit.files],
                                                   "result": result}, indent=None)


def ray_address(option) -> str | None | bool:
    """The ``--ray`` option's value → False (no Ray), None (a local cluster) or an address. ``--ray`` given
    without a value (click's ``flag_value`` ``"local"``) joins ``EDGECV_RAY_ADDRESS`` when it is set."""
    if option is None or option is False:
        return False
    if option in ("", "local", True):
        return os.environ.get(ENV_ADDRESS) or None
    return str(option)


def _keep_files(result: dict, files_root) -> dict:
    """A job's output files (``result["files"]``: relative path → bytes) written under ``files_root``, each
    atomically; the stored result names them by sha256 instead."""
    files = result.get("files")
    if not files:
        return result
    if files_root is None:
        raise ScaleError("a job returned files but the sweep has no output folder")
    kept = {}
    for rel, data in files.items():
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            raise ScaleError(f"a job returned a file outside the output folder: {rel}")
        with atomic_path(Path(files_root) / rel_path) as tmp:
            tmp.write_bytes(data)
        kept[rel] = hashlib.sha256(data).hexdigest()
    return {**result, "files": kept}


def run_units(units: list[Unit], store: ResultStore, address=False, workers: int | None = None,
              progress: bool = True, label: str = "units", files_root=None) -> dict[str, dict]:
    """Results of ``units`` by key: finished ones read from ``store``, the rest run (here when ``address`` is
    False, else on Ray: ``None`` = a local cluster of ``workers`` processes, a string = join that cluster)
    and stored as each returns. Duplicate units (same key) run once. Files a job returns are written under
    ``files_root`` before its result is stored, so a stored result always has its files."""
    unique = {u.key: u for u in units}
    results = {}
    for key, u in unique.items():
        r = store.get(u, files_root)
        if r is not None:
            results[key] = r
    todo = [u for k, u in unique.items() if k not in results]
    if progress and results:
        print(f"[{label}] {len(results)} of {len(unique)} units already done in {store.root}: skipped")
    if not todo:
        return results
    if address is False:
        from edgecv.runtime.engine import Progress

        with Progress(progress, len(todo), label) as bar:
            for u in todo:
                results[u.key] = _keep_files(execute(u, local_folder(u)), files_root)
                store.put(u, results[u.key])
                bar.advance()
        return results
    from .ray_runner import run_on_ray

    for key, result in run_on_ray(todo, address, workers, progress, label):
        results[key] = _keep_files(result, files_root)
        store.put(unique[key], results[key])
    return results
