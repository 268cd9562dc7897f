"""Benchmark helpers: interleaved timing (A and B alternate, so machine noise hits both) and
:func:`write_result`, which writes one area's current figures to ``bench/results/AREA.json`` (machine, date,
command, columns, rows, notes). ``python bench/render.py`` turns those files into BENCHMARKS.md."""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def dev_set_args(ap, artifacts: str, out: str):
    """The options every dev-set tracking bench shares (dataset, artifacts, threads, out, no-write); parses them
    and pins OpenMP to ``--threads``."""
    ap.add_argument("--dataset", default=str(REPO / "datasets/otb-dev"))
    ap.add_argument("--artifacts", default=artifacts)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=out)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    return a


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


def command() -> str:
    """The command line that ran this script, relative to the repository."""
    return "python " + " ".join([os.path.relpath(os.path.abspath(sys.argv[0]), REPO)] + sys.argv[1:])


def write_result(area: str, machine: str, command: str, columns: list, rows: list, notes: list | str = (),
                 *, title: str | None = None, date: str | None = None) -> Path:
    """Write the current figures of one area to ``bench/results/AREA.json`` (atomically: a temporary file in the
    same folder, then a rename), replacing the previous run's. ``rows`` are lists of cells (numbers or the
    strings a table shows), one per column. ``notes`` say how the figures were taken. A ``reading`` written by
    hand for an earlier run is kept, with the date of the run it was written for, so BENCHMARKS.md marks it
    as possibly stale. Then run ``python bench/render.py``."""
    if any(len(r) != len(columns) for r in rows):
        raise ValueError(f"{area}: every row needs {len(columns)} cells")
    path = RESULTS / f"{area}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    doc = {"area": area, "title": title or old.get("title") or area.replace("-", " ").capitalize(),
           "script": os.path.relpath(os.path.abspath(sys.argv[0]), REPO), "machine": machine,
           "date": date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "command": command, "columns": list(columns), "rows": [list(r) for r in rows],
           "notes": [notes] if isinstance(notes, str) else list(notes)}
    if old.get("reading"):
        doc["reading"] = old["reading"]
        doc["reading_date"] = old.get("reading_date") or old.get("date")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{area}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {os.path.relpath(path, REPO)}; run `python bench/render.py` to refresh BENCHMARKS.md")
    return path


def md_rows(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of a markdown table given as its lines (header, rule, rows); cells keep their text."""
    def cells(line):
        line = line.strip().replace("&#124;", "|").replace("|Δ|", "\0")
        return [c.strip().replace("\0", "|Δ|") for c in line[1:-1].split("|")]
    return cells(lines[0]), [cells(x) for x in lines[2:]]
