"""Colorization quality on real colour clips made grey: PSNR against the true colours, temporal
consistency, the global-transfer baseline, and a contact sheet.

A dataset is a folder of clips ``NAME/frames/*.png`` (the true colour frames, in order) with
``NAME/reference.png`` (the colour exemplar). Every method sees only the grey frames and the reference.

- ``psnr_rgb``: PSNR (dB) of the output RGB against the truth (the output keeps the true L, so this
  measures the colours);
- ``ab_mae``: mean |ab − true ab| in Lab units;
- ``temporal``: the mean |output_t − warp(output_{t−1})| in RGB levels (0–255), the warp by DIS optical
  flow computed on the *true* frames, over pixels where the truth itself is consistent (|truth_t −
  warp(truth_{t−1})| < 8 levels, in the frame) — lower is steadier; ``temporal_truth`` is the same for
  the truth (the floor: the flow's own error on those pixels).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edgecv.runtime.colorize import lab as labc
from edgecv.runtime.colorize.loop import ColorizeError

__all__ = ["load_clips", "global_transfer", "Scores", "score_clip", "contact_sheet", "table"]


def load_clips(root, max_frames: int | None = None) -> list[dict]:
    """The clips of a dataset folder: ``[{"name", "frames": [BGR], "reference": BGR}]``."""
    import cv2

    root = Path(root)
    if not root.is_dir():
        raise ColorizeError(f"dataset {root} is not a folder")
    clips = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted((d / "frames").glob("*.png"))
        ref = d / "reference.png"
        if not files or not ref.is_file():
            continue
        frames = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in files[:max_frames]]
        bad = [str(f) for f, im in zip(files, frames) if im is None]
        if bad:
            raise ColorizeError(f"dataset {root}: cannot read {bad[0]}")
        clips.append({"name": d.name, "frames": frames, "reference": cv2.imread(str(ref), cv2.IMREAD_COLOR)})
    if not clips:
        raise ColorizeError(f"dataset {root} has no clips (expected NAME/frames/*.png and NAME/reference.png)")
    return clips


def global_transfer(frame_bgr: np.ndarray, ref_bgr: np.ndarray, bins: int = 32) -> np.ndarray:
    """Global colour transfer by Lab statistics (Reinhard et al. 2001, as Welsh et al. 2002 apply it to a
    grey target): the frame's L is matched to the reference's L mean and spread, and each pixel takes the
    reference's mean ab at that luminance (a luminance-conditioned global statistic; no spatial matching).
    Returns BGR with the frame's own L."""
    ref = labc.bgr_to_lab(ref_bgr)
    lr, ab = ref[..., 0].ravel(), ref[..., 1:].reshape(-1, 2)
    l_t = labc.gray_l(frame_bgr)
    l_m = (l_t - l_t.mean()) / (l_t.std() + 1e-6) * lr.std() + lr.mean()
    edges = np.linspace(0, 100, bins + 1)
    idx = np.clip(np.digitize(lr, edges) - 1, 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    have = counts > 0
    table = np.stack([np.bincount(idx, ab[:, c], minlength=bins)[have] / counts[have] for c in range(2)], -1)
    out_ab = np.stack([np.interp(l_m, centres[have], table[:, c]) for c in range(2)], -1)
    return labc.lab_to_bgr(np.dstack([l_t, out_ab]).astype(np.float32))


class Scores:
    """Accumulates the metrics of one method over clips."""

    def __init__(self):
        self.se = self.n_px = self.ab_abs = 0.0
        self.temp, self.temp_truth, self.ms = [], [], []

    def add_frame(self, out_bgr, truth_bgr):
        self.add_values(*frame_values(out_bgr, truth_bgr))

    def add_values(self, se: float, n_px: int, ab_abs: float):
        """One frame's squared error, pixel count and summed ab error (what :func:`frame_values` gives)."""
        self.se += se
        self.n_px += n_px
        self.ab_abs += ab_abs

    def result(self) -> dict:
        mse = self.se / max(self.n_px, 1)
        return {"psnr_rgb": round(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)), 3),
                "ab_mae": round(self.ab_abs / max(self.n_px, 1), 3),
                "temporal": round(float(np.mean(self.temp)), 3) if self.temp else None,
                "temporal_truth": round(float(np.mean(self.temp_truth)), 3) if self.temp_truth else None,
                "median_ms": round(float(np.median(self.ms)), 2) if self.ms else None}


def frame_values(out_bgr, truth_bgr) -> tuple[float, int, float]:
    """(squared error, values, ab absolute error × values) of one output frame against the truth."""
    d = out_bgr.astype(np.float64) - truth_bgr.astype(np.float64)
    o, t = labc.bgr_to_lab(out_bgr), labc.bgr_to_lab(truth_bgr)
    return float((d ** 2).sum()), d.size, float(np.abs(o[..., 1:] - t[..., 1:]).mean()) * d.size


def grey_frames(truth) -> list:
    """The model's input: each true frame made grey (3 channels)."""
    import cv2

    return [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for f in truth]


def clip_reference(clip: dict, reference: str):
    """The exemplar of ``clip`` for ``reference`` = file | first | last."""
    if reference == "file":
        return clip["reference"]
    return clip["frames"][0 if reference == "first" else -1]


def _flows(truth):
    """DIS flow t → t−1 on the true frames (grey), for the temporal metric."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in truth]
    return [None] + [dis.calc(grey[t], grey[t - 1], None) for t in range(1, len(grey))]


def _warp(img, flow):
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), inside


def score_clip(outputs, truth, scores: Scores, flows=None) -> None:
    """Add one clip's outputs (BGR, same sizes as the truth) to ``scores``."""
    flows = flows or _flows(truth)
    for t, (o, g) in enumerate(zip(outputs, truth)):
        scores.add_frame(o, g)
        if t:
            ow, inside = _warp(outputs[t - 1], flows[t])
            gw, _ = _warp(truth[t - 1], flows[t])
            tdiff = np.abs(gw.astype(np.float32) - g.astype(np.float32)).mean(-1)
            valid = inside & (tdiff < 8.0)
            if valid.sum() > 100:
                odiff = np.abs(ow.astype(np.float32) - o.astype(np.float32)).mean(-1)
                scores.temp.append(float(odiff[valid].mean()))
                scores.temp_truth.append(float(tdiff[valid].mean()))


def contact_sheet(rows, out, cell_w: int = 240) -> Path:
    """``rows``: [(label, {column: BGR image})]; writes a labelled grid PNG (columns in first-row order)."""
    import cv2

    cols = list(rows[0][1])
    cell_h = None
    lines = []
    for label, imgs in rows:
        cells = []
        for c in cols:
            im = imgs[c]
            if im.ndim == 2:
                im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
            h = int(round(im.shape[0] * cell_w / im.shape[1]))
            cell_h = cell_h or h
            cells.append(cv2.resize(im, (cell_w, cell_h), interpolation=cv2.INTER_AREA))
        row = np.hstack(cells)
        bar = np.full((22, row.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        lines += [bar, row]
    head = np.full((26, cell_w * len(cols), 3), 40, np.uint8)
    for j, c in enumerate(cols):
        cv2.putText(head, c, (j * cell_w + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    sheet = np.vstack([head] + lines)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    if not cv2.imwrite(str(tmp), sheet):
        raise ColorizeError(f"cannot write {out}")
    tmp.replace(out)
    return out


def table(results: dict) -> str:
    """Markdown table of ``{method: scores}``."""
    lines = ["| method | PSNR RGB (dB) ↑ | ab MAE ↓ | temporal error ↓ (truth) | ms/frame |", "|---|---|---|---|---|"]
    for name, r in results.items():
        tt = f" ({r['temporal_truth']:.2f})" if r.get("temporal_truth") is not None else ""
        temp = f"{r['temporal']:.2f}{tt}" if r.get("temporal") is not None else "–"
        ms = f"{r['median_ms']:.1f}" if r.get("median_ms") is not None else "–"
        lines.append(f"| {name} | {r['psnr_rgb']:.2f} | {r['ab_mae']:.2f} | {temp} | {ms} |")
    return "\n".join(lines)


def evaluate(dataset, methods: dict, out_dir=None, sheet_frames=(0, 29), progress=True,
             reference: str = "file", precomputed: dict | None = None) -> dict:
    """Run every method on every clip and score it.

    ``methods``: ``{name: callable(frames_grey_bgr, reference_bgr) -> (outputs, per-frame ms)}``; the
    first method's outputs (and the ``global`` baseline's, when present) go on the contact sheet.
    ``reference``: ``file`` (each clip's ``reference.png``), ``first`` or ``last`` (that frame of the clip; with
    ``last`` the early frames take their colours from a frame seconds later, a harder case).
    Writes ``colorize_eval.json``, ``colorize_eval.md`` and ``contact_sheet.png`` into ``out_dir``.
    ``precomputed``: ``{(clip, method): {"values", "temp", "temp_truth", "ms", "sheet"}}`` made elsewhere
    (:func:`edgecv.scale.colorize.colorize_runs` on Ray); then no method runs here and the scores are added frame
    by frame in the same order, so the figures are the local path's.
    """
    if reference not in ("file", "first", "last"):
        raise ColorizeError(f"reference {reference!r}: choose file, first or last")
    clips = load_clips(dataset)
    scores = {name: Scores() for name in methods}
    rows = []
    first = next(iter(methods))
    for clip in clips:
        truth = clip["frames"]
        clip["reference"] = clip_reference(clip, reference)
        grey = grey_frames(truth)
        flows = _flows(truth) if precomputed is None else None
        outs = {}
        for name, fn in methods.items():
            t0 = time.time()
            if precomputed is not None:
                r = precomputed[(clip["name"], name)]
                for v in r["values"]:
                    scores[name].add_values(*v)
                scores[name].temp += r["temp"]
                scores[name].temp_truth += r["temp_truth"]
                scores[name].ms += r["ms"]
                outs[name] = r["sheet"]
                continue
            outputs, ms = fn(grey, clip["reference"])
            if len(outputs) != len(truth):
                raise ColorizeError(f"method {name} gave {len(outputs)} frames for {len(truth)} in clip {clip['name']}")
            score_clip(outputs, truth, scores[name], flows)
            scores[name].ms += list(ms)
            outs[name] = outputs
            if progress:
                print(f"[eval] {clip['name']}: {name} {time.time() - t0:.1f}s", flush=True)
        for t in sheet_frames:
            if t < len(truth):
                cols = {"grey input": grey[t], "reference": clip["reference"], first: outs[first][t]}
                if "global" in outs:
                    cols["global transfer"] = outs["global"][t]
                cols["truth"] = truth[t]
                rows.append((f"{clip['name']} frame {t}", cols))
    results = {name: s.result() for name, s in scores.items()}
    report = {"dataset": str(dataset), "reference": reference, "clips": [c["name"] for c in clips],
              "frames": sum(len(c["frames"]) for c in clips), "results": results}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        from edgecv.runtime.outputs import write_text_atomic

        write_text_atomic(out_dir / "colorize_eval.json", json.dumps(report, indent=1) + "\n")
        write_text_atomic(out_dir / "colorize_eval.md", table(results) + "\n")
        report["contact_sheet"] = str(contact_sheet(rows, out_dir / "contact_sheet.png"))
    return report
