"""Speed/accuracy of key-frame propagation over key-frame policies, measured in one run.

A dataset is a folder of labelled clips, ``NAME/img/000000.png …`` and ``NAME/masks/000000.png …``
(uint8 class index per pixel). For every (backend, precision) bundle and every policy (K = 1 is
per-frame inference) the loop segments every clip; clips, policies and bundles take turns, so machine
noise falls on all alike. Per policy: mIoU (confusion accumulated over all frames), person IoU,
ms per frame (mean of the loop's own work), the share of key frames, and the speedup over K = 1 of the
same bundle in the same run. Optionally a real unlabelled video is scored as DFF papers do without
labels: each policy's masks against the same bundle's per-frame masks.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from edgecv.runtime.engine import Progress
from edgecv.runtime.propagate.base import PropagateError
from edgecv.runtime.propagate.loop import Propagator
from edgecv.runtime.propagate.policy import make_policy

KEEP_FLOOR = 0.97  # DFF's bar (issue 25): a policy counts if it keeps 97% of per-frame mIoU
BROKEN_BASELINE = 0.03  # a bundle's per-frame mIoU this far below the best bundle's is not ranked (e.g. a failed int8)


class Confusion:
    """Confusion matrix accumulated over frames (rows: label, columns: prediction); per-class IoU, mean IoU."""

    def __init__(self, n: int = 2):
        self.m = np.zeros((n, n), np.int64)

    def add(self, pred: np.ndarray, label: np.ndarray) -> None:
        n = len(self.m)
        lab = np.minimum(label.astype(np.int64), n - 1)
        self.m += np.bincount(lab.ravel() * n + pred.ravel().astype(np.int64), minlength=n * n).reshape(n, n)

    def iou(self) -> np.ndarray:
        tp = np.diag(self.m)
        return tp / np.maximum(self.m.sum(0) + self.m.sum(1) - tp, 1)

    def miou(self) -> float:
        return float(self.iou().mean())


def clip_files(d: Path) -> list[tuple[Path, Path]]:
    """(frame, mask) file pairs of one clip folder (NAME/img/*, NAME/masks/<same stem>.png)."""
    imgs = sorted((d / "img").glob("*.png")) + sorted((d / "img").glob("*.jpg"))
    return [(p, d / "masks" / (p.stem + ".png")) for p in imgs]


def load_clip(d: Path) -> tuple[list, list]:
    """(frames, masks) of one clip folder."""
    import cv2

    frames, masks = [], []
    for p, m in clip_files(d):
        f, lab = cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.imread(str(m), cv2.IMREAD_UNCHANGED)
        if f is None or lab is None:
            raise PropagateError(f"clip {d.name}: cannot read {p if f is None else m}")
        frames.append(f)
        masks.append(lab)
    return frames, masks


def clip_folders(dataset) -> list[Path]:
    root = Path(dataset)
    if not root.is_dir():
        raise PropagateError(f"dataset {root} is not a folder of labelled clips (NAME/img/*.png + NAME/masks/*.png)")
    return sorted(p for p in root.iterdir() if (p / "img").is_dir())


def load_clips(dataset) -> list[tuple[str, list, list]]:
    """(name, frames, masks) per clip of a labelled-clip folder."""
    root = Path(dataset)
    clips = []
    for d in clip_folders(root):
        frames, masks = load_clip(d)
        if frames:
            clips.append((d.name, frames, masks))
    if not clips:
        raise PropagateError(f"dataset {root} holds no clips (expected NAME/img/*.png and NAME/masks/*.png)")
    return clips


def run_policy(prop: Propagator, policy, frames):
    """Masks, summed ms and key frames of ``prop`` over ``frames`` under ``policy`` (from a fresh start)."""
    prop.policy = make_policy(policy)
    prop.reset()
    masks, ms, keys = [], 0.0, 0
    for f in frames:
        r = prop.step(f)
        masks.append(r.mask)
        ms += r.ms["total"]
        keys += r.is_key
    return masks, ms, keys


def evaluate(bundles: dict, dataset, policies=("1", "2", "5", "10", "auto"), out_dir=None, real_frames=None,
             progress: bool = True, precomputed: dict | None = None) -> dict:
    """``bundles``: label → :class:`Propagator` (e.g. ``"ort/fp32"``). ``real_frames``: optional list of
    unlabelled real frames scored against per-frame inference. Writes ``results.json`` and
    ``speed_accuracy.png`` into ``out_dir`` when given; returns the results. ``precomputed``: the runs made
    elsewhere (:func:`edgecv.scale.propagate.propagate_runs`: ``{(clip, policy, bundle): {confusion, ms, keys}}``
    and ``{("real", policy, bundle): {masks, ms}}``); then no bundle runs here."""
    clips = load_clips(dataset)
    pol = [int(p) if str(p).isdigit() else str(p) for p in policies]
    if 1 not in pol:
        pol = [1] + pol
    conf = {(b, p): Confusion() for b in bundles for p in pol}
    ms = {(b, p): 0.0 for b in bundles for p in pol}
    keys = {(b, p): 0 for b in bundles for p in pol}
    n_frames = sum(len(f) for _, f, _ in clips)
    agree = {(b, p): Confusion() for b in bundles for p in pol}
    real_ms = {(b, p): 0.0 for b in bundles for p in pol}
    total = len(clips) * len(pol) * len(bundles) + (len(pol) * len(bundles) if real_frames else 0)
    with Progress(progress, total, "eval propagate") as bar:
        for name, frames, labels in clips:
            for p in pol:
                for b, prop in bundles.items():
                    if precomputed is not None:
                        r = precomputed[(name, p, b)]
                        conf[(b, p)].m += np.asarray(r["confusion"], np.int64)
                        t, k = r["ms"], r["keys"]
                    else:
                        masks, t, k = run_policy(prop, p, frames)
                        for m, lab in zip(masks, labels):
                            conf[(b, p)].add(m, lab)
                    ms[(b, p)] += t
                    keys[(b, p)] += k
                    bar.advance()
        if real_frames:
            ref = {}
            for p in pol:
                for b, prop in bundles.items():
                    if precomputed is not None:
                        masks, t = precomputed[("real", p, b)]["masks"], precomputed[("real", p, b)]["ms"]
                    else:
                        masks, t, _ = run_policy(prop, p, real_frames)
                    real_ms[(b, p)] = t
                    if p == 1:
                        ref[b] = masks
                    bar.advance()
                    for m, r in zip(masks, ref[b]):
                        agree[(b, p)].add(m, r)
    rows = []
    for b in bundles:
        base = ms[(b, 1)] / n_frames
        base_miou = float(conf[(b, 1)].iou().mean())
        for p in pol:
            iou = conf[(b, p)].iou()
            per = ms[(b, p)] / n_frames
            row = {"bundle": b, "policy": f"K={p}" if isinstance(p, int) else p, "miou": float(iou.mean()),
                   "person_iou": float(iou[1]) if len(iou) > 1 else None, "ms_per_frame": per,
                   "key_fraction": keys[(b, p)] / n_frames, "speedup": base / per if per else None,
                   "relative_miou": float(iou.mean()) / base_miou if base_miou else None}
            if real_frames:
                row["real_agreement_miou"] = float(agree[(b, p)].iou().mean())
                row["real_ms_per_frame"] = real_ms[(b, p)] / len(real_frames)
            rows.append(row)
    res = {"dataset": str(dataset), "clips": len(clips), "frames": n_frames, "policies": [str(p) for p in pol],
           "real_frames": len(real_frames) if real_frames else 0, "best": best_policies(rows),
           "bundles": {b: {p_: str(v) for p_, v in prop.artifacts.paths().items()} for b, prop in bundles.items()},
           "rows": rows}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".results.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(res, indent=1) + "\n")
        os.replace(tmp, out / "results.json")
        plot(rows, out / "speed_accuracy.png")
    return res


def best_policies(rows, floor: float = KEEP_FLOOR, broken: float = BROKEN_BASELINE) -> dict:
    """Per bundle, the fastest policy that keeps ≥ ``floor`` of per-frame mIoU (DFF's trade: how much speed for at
    most a small loss); ``None`` where only per-frame inference does. A bundle whose own per-frame (K = 1) mIoU is
    more than ``broken`` below the best bundle's is not ranked (``{"unranked": why}``): against a broken baseline
    every policy "keeps" over 100%."""
    best = {}
    k1 = {r["bundle"]: r.get("miou") for r in rows if r["policy"] == "K=1" and r.get("miou") is not None}
    top_k1 = max(k1.values(), default=None)
    for b in dict.fromkeys(r["bundle"] for r in rows):
        if b in k1 and top_k1 - k1[b] > broken:
            best[b] = {"unranked": f"per-frame mIoU {k1[b]:.3f} is {top_k1 - k1[b]:.3f} below the best bundle's "
                                   f"{top_k1:.3f}: its own baseline is broken"}
            continue
        ok = [r for r in rows if r["bundle"] == b and r["relative_miou"] is not None and r["relative_miou"] >= floor]
        top = max(ok, key=lambda r: r["speedup"] or 0.0, default=None)
        best[b] = None if top is None else {"policy": top["policy"], "speedup": top["speedup"],
                                            "relative_miou": top["relative_miou"], "floor": floor}
    return best


def table(res: dict) -> str:
    real = res.get("real_frames", 0)
    head = "| bundle | policy | mIoU | person IoU | % of per-frame mIoU | ms/frame | speedup | key frames |"
    sep = "|---|---|---|---|---|---|---|---|"
    if real:
        head += " real-video agreement mIoU |"
        sep += "---|"
    lines = [head, sep]
    for r in res["rows"]:
        line = (f"| {r['bundle']} | {r['policy']} | {r['miou']:.3f} | {r['person_iou']:.3f} | "
                f"{100 * r['relative_miou']:.1f} | {r['ms_per_frame']:.1f} | {r['speedup']:.2f}× | "
                f"{100 * r['key_fraction']:.0f}% |")
        if real:
            line += f" {r['real_agreement_miou']:.3f} |"
        lines.append(line)
    for i, (b, top) in enumerate((res.get("best") or {}).items()):
        if top and "unranked" in top:
            lines.append(f"{'' if i else chr(10)}{b}: not ranked, {top['unranked']}")
        elif top:
            lines.append(f"{'' if i else chr(10)}{b}: fastest policy keeping ≥ {100 * top['floor']:.0f}% of "
                         f"per-frame mIoU: {top['policy']}, {top['speedup']:.2f}× ({100 * top['relative_miou']:.1f}%)")
    return "\n".join(lines)


def plot(rows, path) -> Path | None:
    """Speedup vs mIoU, one line per bundle, points labelled by policy (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for b in dict.fromkeys(r["bundle"] for r in rows):
        rs = [r for r in rows if r["bundle"] == b]
        fixed = [r for r in rs if r["policy"].startswith("K=")]
        ax.plot([r["speedup"] for r in fixed], [r["miou"] for r in fixed], "o-", label=b)
        for r in rs:
            ax.annotate(r["policy"], (r["speedup"], r["miou"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        auto = [r for r in rs if not r["policy"].startswith("K=")]
        if auto:
            ax.plot([r["speedup"] for r in auto], [r["miou"] for r in auto], "*", ms=12, color=ax.lines[-1].get_color())
    ax.set_xlabel("speedup over per-frame inference (same run)")
    ax.set_ylabel("mIoU (held-out labelled clips)")
    ax.set_title("Key-frame propagation: speed vs accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path
