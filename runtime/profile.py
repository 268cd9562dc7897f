"""Latency profiling of artifacts on this machine → a device profile (YAML, ``provenance: measured``)."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from edgecv.devices.schema import SCHEMA as PROFILE_SCHEMA
from edgecv.devices.schema import write_yaml_atomic

from .errors import EdgeCVError


def cpu_model() -> str:
    """The CPU's name, with the int8 dot-product extension it has where /proc/cpuinfo says (``AMD EPYC (AVX-512
    VNNI)``): a VM's name alone can hide which generation runs, and int8 speed-ups differ by several times between
    an AVX2 core and a VNNI one."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and name is None:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    name = name or platform.processor() or platform.machine()
    isa = next((label for flag, label in (("amx_int8", "AMX-INT8"), ("avx512_vnni", "AVX-512 VNNI"),
                                         ("avx_vnni", "AVX-VNNI"), ("asimddp", "Arm dot product"), ("avx2", "AVX2"))
                if flag in flags), None)
    return f"{name} ({isa})" if isa else name


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def this_device(name: str | None = None) -> dict:
    return {"name": name or socket.gethostname(), "kind": "desktop", "cpu": cpu_model(),
            "cores": os.cpu_count(), "memory_gib": memory_gib(), "arch": platform.machine(),
            "os": f"{platform.system()} {platform.release()}"}


def runtime_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("edgecv", "onnxruntime", "onnxruntime-gpu", "ai-edge-litert", "tflite-runtime",
                "opencv-python-headless", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def random_feeds(sess, seed: int = 0) -> dict:
    """Inputs of the right shapes and dtypes (latency does not depend on the values here)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for t in sess.inputs:
        if np.issubdtype(t.dtype, np.integer) and not t.quantized:
            feeds[t.name] = rng.integers(0, 2, size=t.shape).astype(t.dtype)
        else:
            feeds[t.name] = rng.random(t.shape, dtype=np.float32)
    return feeds


def time_session(sess, feeds: dict, runs: int = 50, warmup: int = 5) -> dict:
    for _ in range(warmup):
        sess.run(feeds)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(feeds)
        ts.append((time.perf_counter() - t0) * 1e3)
    a = np.array(ts)
    return {"median": round(float(np.median(a)), 4), "p90": round(float(np.percentile(a, 90)), 4),
            "mean": round(float(a.mean()), 4), "min": round(float(a.min()), 4), "runs": runs, "warmup": warmup}


def peak_rss_mib() -> float | None:
    try:
        import resource
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    except (ImportError, OSError):
        return None


def profile_artifacts(artifacts, threads=(1,), backends=("auto",), runs: int = 50, warmup: int = 5,
                      device_name: str | None = None, command: str | None = None, progress=None) -> dict:
    """Measure every artifact × backend × threads; returns a device-profile dict."""
    from . import load
    from .manifest import read_manifest

    host = this_device(device_name)
    date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    tools = runtime_versions()
    entries = []
    jobs = [(Path(a), b, t) for a in artifacts for b in backends for t in threads]
    for i, (art, backend, nthreads) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), f"{art.name} {backend} x{nthreads}")
        sess = load(art, backend=backend, threads=nthreads)
        man = read_manifest(art) or {}
        lat = time_session(sess, random_feeds(sess), runs, warmup)
        entries.append({
            "artifact": art.name, "model": man.get("model", art.stem), "format": man.get("format", art.suffix[1:]),
            "precision": man.get("precision", "unknown"), "ops_mode": man.get("ops_mode"),
            "sha256": man.get("sha256"), "backend": sess.backend, "threads": nthreads,
            "latency_ms": lat, "process_peak_rss_mib": peak_rss_mib(),  # whole profiler process so far
            "provenance": {"kind": "measured", "host": socket.gethostname(), "date": date, "tools": tools,
                           "command": command or " ".join(sys.argv)},
        })
    if progress:
        progress(len(jobs), len(jobs), "done")
    return {"schema": PROFILE_SCHEMA, "device": host, "entries": entries}


def _key(e: dict) -> tuple:
    return (e.get("artifact"), e.get("backend"), e.get("threads"), e.get("precision"))


def merge_profiles(old: dict, new: dict) -> dict:
    """New entries replace old ones for the same artifact × backend × threads × precision."""
    keys = {_key(e) for e in new["entries"]}
    kept = [e for e in old.get("entries", []) if _key(e) not in keys]
    out = dict(old)
    out["schema"] = PROFILE_SCHEMA
    out.setdefault("device", new["device"])
    out["entries"] = kept + new["entries"]
    return out


def write_profile(profile: dict, path, merge: bool = True) -> Path:
    import yaml

    path = Path(path)
    if merge and path.exists():
        try:
            old = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise EdgeCVError(f"existing profile {path} is not valid YAML ({e}); not overwriting it") from None
        profile = merge_profiles(old, profile)
    return write_yaml_atomic(profile, path)
