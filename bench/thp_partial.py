"""THP-style partial feature updates (issue 25, item 4): between key frames, recompute the features of only the tiles
that the flow marks unreliable, and see whether that moves the speed/accuracy curve of fixed key intervals.

After Zhu et al. 2018 ("Towards High Performance Video Object Detection"), whose spatially-adaptive partial update
recomputes features where the propagated ones are unreliable. Here, on a propagated frame:

1. the flow net runs as usual; the photometric error of the key frame's grey grid warped by the flow marks unreliable
   cells (the runtime's own signal, ``|current - warp(key)| > tau`` per feature cell);
2. the frame is cut into a ``g × g`` grid of tiles; a tile whose share of unreliable cells exceeds ``theta`` is
   recomputed: the feature net (+ squeeze) runs on the tile's crop of the current frame with a margin of ``margin``
   pixels on every side (moved inside the frame at its borders), and the crop's cells over the tile replace the warped
   features there (before the context fusion and head, as on a key frame);
3. the updates do not persist: the next frame warps from the key frame again.

Accuracy is PyTorch's (the models' shipped weights, the same held-out clips as ``edgecv eval propagate``); cost is a
model from LiteRT graph times measured in the same run (1 thread): a key frame = feature + head graphs, a propagated
frame = flow + head graphs + the tile feature graph once per recomputed tile. The loop's own overhead is left out of
every policy alike, so the speed-ups here are graph-time ratios (a little higher than the loop's, see the eval tables).

    OMP_NUM_THREADS=1 python bench/thp_partial.py --model dff-seg-thin --out out/thp   # about 8 minutes
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

from edgecv.cli import default_propagation_dataset  # noqa: E402
from edgecv.eval.propagate import KEEP_FLOOR, Confusion, load_clips  # noqa: E402
from edgecv.models import create_model  # noqa: E402
from edgecv.models.dff import FEAT_H, FEAT_W, FRAME_H, FRAME_W, STRIDE, frames_to_tensor  # noqa: E402
from edgecv.runtime.propagate.policy import PHOTOMETRIC_TAU, grey_grid, warp_grid  # noqa: E402


def tiles(g: int, margin: int):
    """The ``g × g`` tiles of the feature grid: (cell rows, cell cols, crop window in pixels (y0, x0, h, w), the
    tile's cells inside the crop's feature grid (row offset, col offset)). Every crop has the same size."""
    th, tw = FEAT_H // g, FEAT_W // g
    ch, cw = th * STRIDE + 2 * margin, tw * STRIDE + 2 * margin
    out = []
    for i in range(g):
        for j in range(g):
            y0 = min(max(i * th * STRIDE - margin, 0), FRAME_H - ch)
            x0 = min(max(j * tw * STRIDE - margin, 0), FRAME_W - cw)
            out.append((slice(i * th, (i + 1) * th), slice(j * tw, (j + 1) * tw), (y0, x0, ch, cw),
                        (i * th - y0 // STRIDE, j * tw - x0 // STRIDE)))
    return out


@torch.no_grad()
def run_clip(model, frames, masks, k: int, g: int, theta: float | None, margin: int, conf: Confusion):
    """Segment one clip with key interval ``k`` and partial updates on a ``g × g`` grid above ``theta`` (None: off).
    Returns (key frames, recomputed tiles)."""
    x = frames_to_tensor(frames)
    greys = [grey_grid(cv2_resize(f), (FEAT_H, FEAT_W)) for f in frames]
    grid = tiles(g, margin) if theta is not None else []
    keys = n_tiles = 0
    for t in range(len(frames)):
        cur = x[t:t + 1]
        if t % k == 0:
            key_t, feats = t, model.key_features(cur)
            logits = model.per_frame(cur, feats)
            keys += 1
        else:
            flow, scale, ctx = model.flow(x[key_t:key_t + 1], cur, context=model.context)
            f = model.warp_head.warp(feats, flow) * scale
            if grid:
                err = np.abs(greys[t] - warp_grid(greys[key_t], flow.numpy())) > PHOTOMETRIC_TAU
                for rows, cols, (y0, x0, ch, cw), (oy, ox) in grid:
                    if err[rows, cols].mean() > theta:
                        fresh = model.key_features(cur[:, :, y0:y0 + ch, x0:x0 + cw])
                        h, w = rows.stop - rows.start, cols.stop - cols.start
                        f[:, :, rows, cols] = fresh[:, :, oy:oy + h, ox:ox + w]
                        n_tiles += 1
            logits = model.head(model.fusion(f, ctx)) if model.fusion is not None else model.head(f)
        up = F.interpolate(logits, size=masks[t].shape, mode="bilinear", align_corners=False)
        conf.add(up.argmax(1)[0].numpy(), masks[t])
    return keys, n_tiles


def cv2_resize(frame):
    import cv2

    return cv2.resize(frame, (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)


def graph_times(model_name: str, model, crops, art_dir: Path, runs: int = 200) -> dict:
    """Median LiteRT ms (1 thread) of the bundle's feature, flow and head graphs (fp32, from ``art_dir``) and of the
    feature net (+ squeeze) at each crop size, converted here; all timed in turns."""
    from edgecv.export.tflite_backend import torch_to_tflite
    from edgecv.runtime import load

    paths = {p: art_dir / f"{model_name}-{p}-fp32.tflite" for p in ("feature", "flow", "head")}
    for p in paths.values():
        if not p.exists():
            raise SystemExit(f"{p} missing: edgecv export {model_name} --format tflite --precision fp32 "
                             f"--out {art_dir}")
    tmp = Path(tempfile.mkdtemp())
    net = torch.nn.Sequential(model.feature, model.squeeze) if model.squeeze is not None else model.feature
    for ch, cw in crops:
        paths[f"tile {ch}x{cw}"] = tmp / f"tile{ch}x{cw}.tflite"
        torch_to_tflite(net.eval(), (torch.zeros(1, 3, ch, cw),), paths[f"tile {ch}x{cw}"])
    sess = {n: load(p, "litert", threads=1) for n, p in paths.items()}
    feeds = {n: {t.name: np.random.default_rng(0).random(t.shape, np.float32) for t in s.inputs}
             for n, s in sess.items()}
    times = {n: [] for n in sess}
    for i in range(runs + 10):
        for n, s in sess.items():
            t0 = time.perf_counter()
            s.run(feeds[n])
            if i >= 10:
                times[n].append((time.perf_counter() - t0) * 1e3)
    return {n: float(np.median(v)) for n, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="dff-seg-thin")
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--intervals", default="2,3,4,5,8,10,15,20,30", help="fixed key intervals K")
    ap.add_argument("--partial-intervals", default="8,10,15,20,30", help="the K that also run with partial updates")
    ap.add_argument("--grids", default="2,4", help="tile grids g (g × g tiles)")
    ap.add_argument("--thetas", default="0.1,0.25,0.4", help="unreliable-cell shares above which a tile is recomputed")
    ap.add_argument("--margin", type=int, default=32, help="context pixels around a tile's crop, each side")
    ap.add_argument("--out", default="out/thp")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = create_model(a.model, pretrained=True).eval()
    clips = load_clips(default_propagation_dataset())
    grids = [int(g) for g in a.grids.split(",")]
    crops = sorted({tiles(g, a.margin)[0][2][2:] for g in grids})
    ms = graph_times(a.model, model, crops, Path(a.artifacts))
    print("LiteRT fp32 ms:", {n: round(v, 2) for n, v in ms.items()}, flush=True)
    key_ms, prop_ms = ms["feature"] + ms["head"], ms["flow"] + ms["head"]
    configs = [(1, None, None)] + [(int(k), None, None) for k in a.intervals.split(",")]
    configs += [(int(k), g, float(th)) for k in a.partial_intervals.split(",") for g in grids
                for th in a.thetas.split(",")]
    rows = []
    frames_total = sum(len(f) for _, f, _ in clips)
    for k, g, th in configs:
        conf, keys, n_tiles = Confusion(), 0, 0
        for _, frames, masks in clips:
            kk, nt = run_clip(model, frames, masks, k, g or 2, th, a.margin, conf)
            keys, n_tiles = keys + kk, n_tiles + nt
        tile_ms = ms["tile {}x{}".format(*tiles(g, a.margin)[0][2][2:])] if g else 0.0
        cost = (keys * key_ms + (frames_total - keys) * prop_ms + n_tiles * tile_ms) / frames_total
        rows.append({"k": k, "grid": g, "theta": th, "miou": conf.miou(), "key_fraction": keys / frames_total,
                     "tiles_per_frame": n_tiles / frames_total, "ms_per_frame": cost})
        print(rows[-1], flush=True)
    base = rows[0]
    for r in rows:
        r["relative_miou"] = r["miou"] / base["miou"]
        r["speedup"] = base["ms_per_frame"] / r["ms_per_frame"]
    res = {"model": a.model, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "margin": a.margin, "graph_ms": ms, "frames": frames_total, "clips": len(clips), "rows": rows,
           "floor": KEEP_FLOOR}
    (out / "results.json").write_text(json.dumps(res, indent=1))
    plot(rows, out / "thp_partial.png", a.model)
    print(f"wrote {out / 'results.json'}")


def plot(rows, path: Path, model: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {}
    for r in rows:
        if r["k"] == 1:
            continue
        g = r["grid"]
        label = "fixed K" if g is None else f"K + partial updates, {g}×{g} tiles, θ={r['theta']}"
        series.setdefault(label, []).append(r)
    for label, rs in series.items():
        rs = sorted(rs, key=lambda r: r["speedup"])
        ax.plot([r["speedup"] for r in rs], [100 * r["relative_miou"] for r in rs], "o-" if label == "fixed K" else
                ".--", label=label, lw=2.5 if label == "fixed K" else 1.2)
        if label == "fixed K":
            for r in rs:
                ax.annotate(f"K={r['k']}", (r["speedup"], 100 * r["relative_miou"]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
    ax.axhline(100 * KEEP_FLOOR, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("speed-up over per-frame (LiteRT fp32 graph time, 1 thread)")
    ax.set_ylabel("% of per-frame mIoU (held-out clips)")
    ax.set_title(f"{model}: partial feature updates against fixed key intervals")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
