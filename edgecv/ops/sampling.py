"""Bilinear sampling by one row-gather: the shared core of the portable warp and DCN.

The feature map is laid out as a table of rows (one row = the channels of one pixel), the
four neighbours of every sampling point are fetched with a single ``index_select`` and blended.
This lowers to one Gather + Mul/ReduceSum in ONNX and one GATHER in TFLite, instead of the
per-corner gathers/selects that generic ``grid_sample`` decompositions produce.
"""
from __future__ import annotations

import torch


def corner_indices_weights(ys: torch.Tensor, xs: torch.Tensor, height: int, width: int,
                           padding_mode: str = "zeros"):
    """Integer corner positions and blend weights for bilinear sampling.

    Args:
        ys, xs: sampling coordinates in pixels, any shape ``S``.
        height, width: size of the sampled map.
        padding_mode: ``zeros`` (outside pixels read as 0) or ``border`` (clamp to the edge).

    Returns:
        ``(rows, weights)``: ``rows`` int64 of shape ``(4, *S)`` holding ``y * width + x`` of the
        top-left, top-right, bottom-left, bottom-right neighbours (clamped into the map), and
        ``weights`` of shape ``(4, *S)`` (zero for neighbours outside the map in ``zeros`` mode).
    """
    if padding_mode == "border":
        ys = ys.clamp(0, height - 1)
        xs = xs.clamp(0, width - 1)
    elif padding_mode != "zeros":
        raise ValueError(f"padding_mode must be 'zeros' or 'border', got {padding_mode!r}")
    y0 = torch.floor(ys)
    x0 = torch.floor(xs)
    wy1 = ys - y0
    wx1 = xs - x0
    wy0 = 1.0 - wy1
    wx0 = 1.0 - wx1
    y1 = y0 + 1
    x1 = x0 + 1
    weights = torch.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1])
    if padding_mode == "zeros":
        vy0 = ((y0 >= 0) & (y0 <= height - 1)).to(ys.dtype)
        vy1 = ((y1 >= 0) & (y1 <= height - 1)).to(ys.dtype)
        vx0 = ((x0 >= 0) & (x0 <= width - 1)).to(ys.dtype)
        vx1 = ((x1 >= 0) & (x1 <= width - 1)).to(ys.dtype)
        weights = weights * torch.stack([vy0 * vx0, vy0 * vx1, vy1 * vx0, vy1 * vx1])
    y0c = y0.clamp(0, height - 1)
    y1c = y1.clamp(0, height - 1)
    x0c = x0.clamp(0, width - 1)
    x1c = x1.clamp(0, width - 1)
    rows = torch.stack([y0c * width + x0c, y0c * width + x1c, y1c * width + x0c, y1c * width + x1c])
    return rows.to(torch.int64), weights


def gather_rows_bilinear(table: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor,
                         blend: str | None = None) -> torch.Tensor:
    """Blend the 4 gathered neighbours: ``table`` (R, C), ``rows``/``weights`` (4, *S) → (*S, C).

    ``blend`` (default: the current ``ops_mode`` setting) picks the graph form; both give the same
    values. A Mul + ReduceSum over the corner axis is avoided: in onnxruntime it cost more than the
    gather and the convolution together (bench/bench_ops.py).
    """
    from ._mode import get_blend

    shape, c = rows.shape[1:], table.shape[1]
    if (blend or get_blend()) == "matmul":
        # corner-minor order, so each point's 4 rows are contiguous: (S, 1, 4) @ (S, 4, C)
        idx = rows.reshape(4, -1).transpose(0, 1).reshape(-1)
        picked = torch.index_select(table, 0, idx).reshape(-1, 4, c)
        out = torch.matmul(weights.reshape(4, -1).transpose(0, 1).unsqueeze(1), picked)
    else:
        r, w = rows.reshape(4, -1), weights.reshape(4, -1, 1)
        out = torch.index_select(table, 0, r[0]) * w[0]
        for j in range(1, 4):
            out = out + torch.index_select(table, 0, r[j]) * w[j]
    return out.reshape(*shape, c)
