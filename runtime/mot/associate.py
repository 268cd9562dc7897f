"""Association of tracks with detections: IoU and appearance costs, gating, Hungarian matching.

Costs are ``(tracks, detections)`` matrices of distances (lower is better); a forbidden pair is ``inf``.
:func:`linear_assignment` solves them with ``scipy.optimize.linear_sum_assignment`` (the one scipy call of
the runtime, imported when first used: ``pip install 'edgecv[mot]'``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import BackendUnavailable

__all__ = ["iou_matrix", "iou_cost", "cosine_cost", "fuse_cost", "linear_assignment", "Matching"]


def _boxes(b) -> np.ndarray:
    return np.asarray(b, dtype=np.float64).reshape(-1, 4)


def iou_matrix(a, b) -> np.ndarray:
    """Intersection over union ``(N, M)`` of corner boxes ``a (N, 4)`` and ``b (M, 4)``; 0 where the union is
    empty (two empty boxes)."""
    a, b = _boxes(a), _boxes(b)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou_cost(track_boxes, det_boxes, det_scores=None) -> np.ndarray:
    """``1 − IoU``; with ``det_scores``, ByteTrack's score fusion ``1 − IoU·score`` (a confident detection is
    preferred when two overlap a track alike)."""
    iou = iou_matrix(track_boxes, det_boxes)
    if det_scores is not None:
        iou = iou * np.asarray(det_scores, dtype=np.float64)[None, :]
    return 1.0 - iou


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def cosine_cost(track_emb, det_emb) -> np.ndarray:
    """Cosine distance ``1 − cos`` ``(N, M)`` between track and detection embeddings, in [0, 2]; a zero vector
    (no appearance) is at distance 1 from everything."""
    t, d = _unit(track_emb), _unit(det_emb)
    if t.size == 0 or d.size == 0:
        return np.ones((len(t), len(d)))
    return np.clip(1.0 - t @ d.T, 0.0, 2.0)


def fuse_cost(iou_c, app_c=None, appearance_weight: float = 0.0, appearance_gate: float | None = None,
              gate_mask=None, iou_gate: bool = False) -> np.ndarray:
    """One cost from IoU and appearance: ``w·app + (1 − w)·iou`` (IoU alone without ``app_c`` or with w = 0).

    Pairs are forbidden (``inf``) where the appearance distance exceeds ``appearance_gate``, where
    ``gate_mask`` (e.g. the Kalman gate) is False, or with ``iou_gate`` where the boxes do not overlap."""
    iou_c = np.asarray(iou_c, dtype=np.float64)
    cost = iou_c.copy()
    if app_c is not None and appearance_weight > 0:
        app_c = np.asarray(app_c, dtype=np.float64)
        cost = appearance_weight * app_c + (1.0 - appearance_weight) * iou_c
        if appearance_gate is not None:
            cost[app_c > appearance_gate] = np.inf
    if gate_mask is not None:
        cost[~np.asarray(gate_mask, dtype=bool)] = np.inf
    if iou_gate:
        cost[iou_c >= 1.0] = np.inf
    return cost


class Matching(NamedTuple):
    """``matches (K, 2)``: (row, column) pairs; the rows (tracks) and columns (detections) left unmatched."""

    matches: np.ndarray
    unmatched_rows: np.ndarray
    unmatched_cols: np.ndarray


def _solver():
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        raise BackendUnavailable("multi-object tracking needs scipy for its Hungarian matching, which the bare "
                                 "runtime install does not include: pip install 'edgecv[mot]'") from None
    return linear_sum_assignment


def linear_assignment(cost, max_cost: float) -> Matching:
    """The matching of least total cost in which leaving a track and a detection both unmatched costs
    ``max_cost`` (so no pair costing more than ``max_cost`` is ever matched, and a pair at ``c < max_cost`` is
    kept unless giving it up lets two other pairs save more).

    Solved exactly with the Hungarian method on the cost matrix bordered by "leave unmatched" entries of
    ``max_cost / 2`` per row and per column (the ``lapjv`` ``cost_limit`` construction ByteTrack uses)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    n, m = cost.shape
    none = np.zeros((0, 2), dtype=np.int64)
    valid = np.isfinite(cost) & (cost <= max_cost)
    if not valid.any():
        return Matching(none, np.arange(n), np.arange(m))
    big = np.where(valid, cost, np.inf)
    ext = np.full((n + m, m + n), np.inf)
    ext[:n, :m] = big
    ext[:n, m:][np.eye(n, dtype=bool)] = max_cost / 2       # row i left unmatched
    ext[n:, :m][np.eye(m, dtype=bool)] = max_cost / 2       # column j left unmatched
    ext[n:, m:] = 0.0                                       # dummy with dummy: free
    rows, cols = _solver()(ext)
    pick = (rows < n) & (cols < m)
    rows, cols = rows[pick], cols[pick]
    keep = valid[rows, cols]
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64) if keep.any() else none
    return Matching(matches, np.setdiff1d(np.arange(n), matches[:, 0]), np.setdiff1d(np.arange(m), matches[:, 1]))
