"""Benchmark helpers: interleaved timing (A and B alternate, so machine noise hits both) and the
BENCHMARKS.md appender (machine, date, command with every block of figures)."""
from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def interleaved(sessions: dict, feeds: dict, runs: int = 40, warmup: int = 5) -> dict:
    """Median / p90 ms of each named session, run alternately ``runs`` times after ``warmup``."""
    for _ in range(warmup):
        for name, s in sessions.items():
            s.run(feeds[name])
    times = {name: [] for name in sessions}
    for _ in range(runs):
        for name, s in sessions.items():
            t0 = time.perf_counter()
            s.run(feeds[name])
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {n: {"median": float(np.median(t)), "p90": float(np.percentile(t, 90)), "runs": runs}
            for n, t in times.items()}


def machine() -> str:
    from edgecv.runtime.profile import cpu_model, runtime_versions

    v = runtime_versions()
    return (f"{cpu_model()}, {os.cpu_count()} cores; onnxruntime {v.get('onnxruntime')}, "
            f"ai-edge-litert {v.get('ai-edge-litert')}")


def append_benchmarks(title: str, body: str) -> None:
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    block = f"\n## {title}\n\n- machine: {machine()}\n- date: {date}\n- command: `{cmd}`\n\n{body.strip()}\n"
    path = REPO / "BENCHMARKS.md"
    if not path.exists():
        path.write_text("# Benchmarks\n\nAppended by the scripts in `bench/`; newest at the bottom.\n")
    with open(path, "a") as f:
        f.write(block)
    print(block)
