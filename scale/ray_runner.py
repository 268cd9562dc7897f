"""The Ray side of :func:`.units.run_units`: one task per unit, results streamed back as they finish.

Only this module imports Ray, and only when a command was given ``--ray``. A local cluster is started with
``num_cpus = workers`` (so at most that many units run at once, one worker process each); an address joins
a running cluster, whose nodes need ``pip install 'edgecv[scale]'`` (the runtime and Ray: the unit's
artifacts are shipped, the code is not).
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ScaleError
from .worker import execute

__all__ = ["run_on_ray", "init_ray", "RETRIES"]

RETRIES = 3   # Ray retries of a task whose worker process died


def _ray():
    try:
        import ray
    except ImportError:
        raise ScaleError("--ray needs Ray: pip install 'edgecv[scale]'") from None
    return ray


def init_ray(address, workers: int | None):
    """Start (``address`` None) or join Ray once per process; returns the module."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    env = {k: v for k, v in os.environ.items() if k.startswith(("EDGECV_", "OMP_"))}
    runtime_env = {"env_vars": env} if env else None
    kw = dict(include_dashboard=False, log_to_driver=False, runtime_env=runtime_env,
              configure_logging=False)
    try:
        if address is None:
            ray.init(num_cpus=workers or os.cpu_count() or 1, resources={"edgecv_profiler": 1}, **kw)
        else:
            ray.init(address=address, **kw)
    except Exception as e:  # noqa: BLE001 (Ray raises ConnectionError, RuntimeError, ValueError, ...)
        where = "a local Ray cluster" if address is None else f"the Ray cluster at {address}"
        raise ScaleError(f"could not start or join {where}: {e}") from None
    return ray


def _run_remote(unit, blobs: dict):
    """Worker side: the unit's files from this node's store (fetched by hash when missing), then the job."""
    import ray

    from .cas import materialise

    folder = materialise(unit.files, lambda sha: ray.get(blobs[sha])) if unit.files else None
    return execute(unit, folder)


def run_on_ray(units: list, address, workers: int | None, progress: bool, label: str):
    """Yield ``(key, result)`` for each unit as its task finishes. A task whose worker died is retried by
    Ray (``RETRIES``); a unit that raises stops the sweep with its error (finished units stay stored)."""
    ray = init_ray(address, workers)
    if any(u.job.startswith("profile.") for u in units) and ray.cluster_resources().get("edgecv_profiler", 0) < 1:
        raise ScaleError("no node of the Ray cluster offers the edgecv_profiler resource, which keeps profiling to "
                         "one job per node: start each node with `ray start ... --resources "
                         "'{\"edgecv_profiler\": 1}'`")
    remote = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_run_remote)
    blobs: dict[str, object] = {}
    for u in units:
        for r, (_, path) in zip(u.files, u.local_paths):
            if r.sha256 not in blobs:
                blobs[r.sha256] = ray.put(Path(path).read_bytes())
    pending = {}
    for u in units:
        opts = {"resources": {"edgecv_profiler": 1}} if u.job.startswith("profile.") else {}
        ref = remote.options(**opts).remote(u, {r.sha256: blobs[r.sha256] for r in u.files})
        pending[ref] = u
    from edgecv.runtime.engine import Progress

    with Progress(progress, len(units), f"{label} (ray)") as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                u = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # noqa: BLE001
                    for r in pending:
                        ray.cancel(r)
                    cause = getattr(e, "cause", None) or e
                    raise ScaleError(f"unit {u.job} {_describe(u)} failed: {cause}") from None
                bar.advance()
                yield u.key, result


def _describe(u) -> str:
    keys = ("label", "sequence", "video", "model", "artifact")
    parts = [f"{k}={u.inputs[k]}" for k in keys if k in u.inputs]
    return "(" + ", ".join(parts) + ")" if parts else u.key
