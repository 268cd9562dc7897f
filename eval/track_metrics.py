"""OTB one-pass evaluation (OPE) metrics: success (IoU) and precision (centre error) curves.

Conventions, as in the OTB toolkit (Wu et al. 2013/2015):

- success at threshold t: fraction of frames with IoU **>** t, for t in ``np.linspace(0, 1, 21)``;
  the AUC is the mean of that curve. Because IoU > 1 never happens, the last point is always 0 and a
  perfect tracker scores AUC = 20/21 ≈ 0.952, not 1.
- precision at threshold d: fraction of frames with centre error **<=** d pixels, d = 0, 1, ..., 50;
  the headline number is precision at 20 px.
- Frames whose groundtruth is absent (w <= 0, h <= 0 or any NaN) are skipped.
- Frame 0 is the init frame, where every tracker is handed the groundtruth box: it is excluded from
  every score (``skip_first=True``), so scores measure tracking only.
- A predicted box that is not finite counts as a miss (IoU 0, centre error infinite).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SUCCESS_THRESHOLDS", "PRECISION_THRESHOLDS", "ious", "center_errors", "valid_frames",
           "success_curve", "precision_curve", "score_sequence", "pool_scores", "paired_delta"]

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
PRECISION_AT = 20.0


def _boxes(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(-1, 4)


def ious(pred, gt) -> np.ndarray:
    """Per-frame IoU of (N, 4) ``x,y,w,h`` boxes; 0 where either box is degenerate or not finite."""
    p, g = _boxes(pred), _boxes(gt)
    if p.shape != g.shape:
        raise ValueError(f"{len(p)} predicted boxes vs {len(g)} groundtruth boxes")
    with np.errstate(invalid="ignore"):
        iw = np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0])
        ih = np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        ok = np.isfinite(p).all(1) & np.isfinite(g).all(1) & (p[:, 2] > 0) & (p[:, 3] > 0)
    return np.where(ok & np.isfinite(out), out, 0.0)


def center_errors(pred, gt) -> np.ndarray:
    """Per-frame Euclidean distance between box centres in pixels; inf where a box is not finite."""
    p, g = _boxes(pred), _boxes(gt)
    if p.shape != g.shape:
        raise ValueError(f"{len(p)} predicted boxes vs {len(g)} groundtruth boxes")
    d = np.hypot(p[:, 0] + p[:, 2] / 2 - g[:, 0] - g[:, 2] / 2, p[:, 1] + p[:, 3] / 2 - g[:, 1] - g[:, 3] / 2)
    return np.where(np.isfinite(d), d, np.inf)


def valid_frames(gt, skip_first: bool = True) -> np.ndarray:
    """Mask of frames that are scored: the target is present (finite, w > 0, h > 0), and not frame 0."""
    g = _boxes(gt)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(g).all(1) & (g[:, 2] > 0) & (g[:, 3] > 0)
    if skip_first and len(ok):
        ok[0] = False
    return ok


def success_curve(iou_values) -> np.ndarray:
    """Fraction of frames with IoU > t for each t in SUCCESS_THRESHOLDS (zeros for no frames)."""
    v = np.asarray(iou_values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return np.zeros(len(SUCCESS_THRESHOLDS))
    return (v[None, :] > SUCCESS_THRESHOLDS[:, None]).mean(1)


def precision_curve(errors) -> np.ndarray:
    """Fraction of frames with centre error <= d for each d in PRECISION_THRESHOLDS (zeros for no frames)."""
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    if e.size == 0:
        return np.zeros(len(PRECISION_THRESHOLDS))
    return (e[None, :] <= PRECISION_THRESHOLDS[:, None]).mean(1)


def _summary(iou_v: np.ndarray, err_v: np.ndarray) -> dict:
    s, p = success_curve(iou_v), precision_curve(err_v)
    return {
        "frames": int(iou_v.size),
        "auc": float(s.mean()),
        "precision20": float(p[int(PRECISION_AT)]),
        "mean_iou": float(iou_v.mean()) if iou_v.size else 0.0,
        "success_curve": s,
        "precision_curve": p,
        "ious": iou_v,
        "center_errors": err_v,
    }


def score_sequence(pred, gt, skip_first: bool = True) -> dict:
    """Scores of one run on one sequence.

    Returns ``frames`` (number scored), ``auc``, ``precision20``, ``mean_iou``, the two curves, and the
    scored frames' ``ious`` / ``center_errors`` (for pooling across sequences with :func:`pool_scores`).
    """
    keep = valid_frames(gt, skip_first)
    p, g = _boxes(pred)[keep], _boxes(gt)[keep]
    return _summary(ious(p, g), center_errors(p, g))


def pool_scores(per_sequence: list[dict]) -> dict:
    """Scores over all scored frames of several sequences pooled together (long sequences weigh more)."""
    if not per_sequence:
        return _summary(np.zeros(0), np.zeros(0))
    return _summary(np.concatenate([s["ious"] for s in per_sequence]),
                    np.concatenate([s["center_errors"] for s in per_sequence]))


def paired_delta(auc_a, auc_b, frames, n_boot: int = 4000, seed: int = 0, big: float = 0.05) -> dict:
    """Pooled-AUC difference B − A of two trackers run on the same runs (sequence × start), with a
    paired bootstrap over runs.

    ``auc_a``/``auc_b``: per-run AUC of each; ``frames``: each run's scored frames. The pooled AUC is
    the frame-weighted mean of run AUCs (the success curve is a mean over frames), so resampling runs
    with replacement gives the spread a difference would have on another draw of sequences like these.
    On a small dev set one drift decides it: ``drifts`` counts runs whose |Δ| exceeds ``big``, and
    ``delta_without_drifts`` is the difference on the other runs."""
    a, b, w = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (auc_a, auc_b, frames))
    if not (a.shape == b.shape == w.shape) or a.size == 0:
        raise ValueError(f"paired_delta: need equal, non-empty run lists (got {a.size}, {b.size}, {w.size})")
    d = (b - a) * w
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    boots = d[idx].sum(1) / np.maximum(w[idx].sum(1), 1e-12)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    drift = np.abs(b - a) > big
    rest = float(d[~drift].sum() / w[~drift].sum()) if (~drift).any() else float("nan")
    return {"delta": float(d.sum() / w.sum()), "ci95": [float(lo), float(hi)], "runs": int(a.size),
            "drifts": int(drift.sum()), "delta_without_drifts": rest}
