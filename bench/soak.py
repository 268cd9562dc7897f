"""Soak: a long tracking run through the loop engine, RSS sampled as it goes (leaks show as growth).

A real clip (frames of vtest.avi's held-out part, half size) is looped as an iterable of frames until
``--frames`` have run through ``track_video`` with a Siamese tracker on onnxruntime, writing the annotated
video and the boxes file as a user's run would. RSS (``/proc/self/status`` VmRSS) is read after ``--warmup``
frames (sessions, writer and caches settled) and at the end; the growth between them is the figure.
By default the run keeps no per-frame results (boxes stream to the file), as ``edgecv track`` runs; with
``--keep`` it keeps them all, as ``track_video``'s Python default does, and that growth is what they hold.

    python bench/soak.py --frames 10000 --write && python bench/soak.py --frames 10000 --keep --write
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def clip(n: int = 60) -> list:
    """``n`` frames from the held-out last 30% of vtest.avi, at half size."""
    from edgecv.data import samples_dir

    cap = cv2.VideoCapture(str(samples_dir() / "vtest.avi"))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(total * 0.7))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA))
    cap.release()
    if len(frames) < n:
        raise SystemExit(f"vtest.avi gave {len(frames)} frames, need {n}")
    return frames


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--tracker", default="siamfc")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--keep", action="store_true",
                    help="keep every frame's result in memory (the Python API's default); off: as `edgecv track` runs")
    ap.add_argument("--write", action="store_true", help="add this run's row to bench/results/soak.json")
    a = ap.parse_args()

    from edgecv.runtime.track import make_tracker, track_video

    frames = clip()
    samples: list[tuple[int, float]] = []

    def looped():
        for i in range(a.frames):
            if i == a.warmup or i % 1000 == 0:
                samples.append((i, rss_mib()))
            yield frames[i % len(frames)]
        samples.append((a.frames, rss_mib()))

    trk = make_tracker(a.tracker, a.artifacts, "ort", "fp32", 1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = track_video(trk, looped(), (92, 190, 26, 70), Path(tmp) / "soak.mp4", Path(tmp) / "boxes.txt",
                          progress=False, keep_results=a.keep)
        wall = time.perf_counter() - t0
        lines = len((Path(tmp) / "boxes.txt").read_text().splitlines())
    start = dict(samples)[a.warmup]
    end = samples[-1][1]
    out = {"frames": res.frames, "box_lines": lines, "keep_results": a.keep, "tracker": a.tracker, "warmup": a.warmup,
           "rss_start_mib": round(start, 1), "rss_end_mib": round(end, 1), "growth_mib": round(end - start, 2),
           "wall_s": round(wall, 1), "samples": [(i, round(r, 1)) for i, r in samples]}
    print(json.dumps(out))
    if a.write:
        from common import RESULTS, command, machine, write_result

        label = (f"track {a.tracker} ORT fp32, 1 thread, video + boxes written, "
                 + ("every result kept (track_video's default)" if a.keep else "results streamed (edgecv track)"))
        row = [label, out["frames"], out["rss_start_mib"], out["rss_end_mib"], out["growth_mib"], out["wall_s"]]
        note = f"{label}: RSS every 1000 frames " + ", ".join(f"{i}: {r:.1f}" for i, r in out["samples"])
        old = json.loads((RESULTS / "soak.json").read_text()) if (RESULTS / "soak.json").exists() else {}
        rows = [r for r in old.get("rows", []) if r and r[0] != label] + [row]
        notes = [n for n in old.get("notes", []) if not n.startswith(("pending", label, "a "))]
        write_result("soak", machine(), command(),
                     ["loop", "frames", "RSS after warm-up (MiB)", "RSS at end (MiB)", "growth (MiB)", "wall (s)"],
                     sorted(rows), [f"a {len(frames)}-frame held-out vtest.avi clip at 384×288 looped; RSS after "
                                    f"{a.warmup} frames and at the end"] + sorted(notes + [note]),
                     title="Soak: RSS over a long run")
    return out


if __name__ == "__main__":
    main()
