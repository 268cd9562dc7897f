"""Bilinear warp of a feature map by a dense flow field (in pixels).

``out[n, :, y, x] = feat[n, :, y + flow[n, 1, y, x], x + flow[n, 0, y, x]]`` with bilinear
interpolation; channel 0 of the flow is the horizontal displacement (u), channel 1 the vertical (v),
the usual optical-flow convention. Used by key-frame propagation (DFF) to carry key-frame features
to the current frame, and by the colorizer's temporal loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._mode import get_ops_mode
from .sampling import corner_indices_weights, gather_rows_bilinear

# torch's own op, bound once: edgecv.export.user_module routes F.grid_sample through :func:`grid_sample` while a
# user's module runs, and the standard lowering must still reach torch's
_TORCH_GRID_SAMPLE = F.grid_sample


def _check(feat: torch.Tensor, flow: torch.Tensor) -> None:
    if feat.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow_warp expects feat (N,C,H,W) and flow (N,2,H,W); got {tuple(feat.shape)} "
                         f"and {tuple(flow.shape)}")
    if feat.shape[0] != flow.shape[0] or feat.shape[2:] != flow.shape[2:]:
        raise ValueError(f"flow_warp: flow {tuple(flow.shape)} does not match features {tuple(feat.shape)} "
                         "(batch and spatial size must agree; resize and rescale the flow to the feature stride)")


def base_grid(height: int, width: int, like: torch.Tensor):
    ys = torch.arange(height, dtype=like.dtype, device=like.device).view(height, 1).expand(height, width)
    xs = torch.arange(width, dtype=like.dtype, device=like.device).view(1, width).expand(height, width)
    return ys, xs


def flow_warp_grid_sample(feat: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp with ``F.grid_sample`` (align_corners=True); exports to ONNX ``GridSample``."""
    _check(feat, flow)
    n, _, h, w = feat.shape
    ys, xs = base_grid(h, w, flow)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def flow_warp_gather(feat: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp by one row-gather of the 4 neighbours; portable (no GridSample)."""
    _check(feat, flow)
    n, c, h, w = feat.shape
    ys, xs = base_grid(h, w, flow)
    ys = ys.reshape(1, h * w) + flow[:, 1].reshape(n, h * w)
    xs = xs.reshape(1, h * w) + flow[:, 0].reshape(n, h * w)
    return _sample_points(feat, ys, xs, padding_mode, (h, w))


def _sample_points(feat: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, padding_mode: str, out_hw) -> torch.Tensor:
    """Bilinear samples of ``feat`` (N, C, H, W) at pixel points ``ys``/``xs`` (N or 1, Ho·Wo) by one row-gather
    (the portable form of both the flow warp and ``grid_sample``) → (N, C, Ho, Wo)."""
    n, c, h, w = feat.shape
    rows, weights = corner_indices_weights(ys, xs, h, w, padding_mode)
    if n > 1:
        rows = rows + (torch.arange(n, device=feat.device) * (h * w)).view(1, n, 1)
    table = feat.permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = gather_rows_bilinear(table, rows, weights)  # (n, ho*wo, c)
    return out.reshape(n, *out_hw, c).permute(0, 3, 1, 2)


def flow_warp(feat: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp ``feat`` (N,C,H,W) by ``flow`` (N,2,H,W), pixels, bilinear; ``padding_mode`` zeros|border.

    Lowers to ``GridSample`` in the eager/standard modes and to the gather form in portable mode.
    """
    if get_ops_mode() == "portable":
        return flow_warp_gather(feat, flow, padding_mode)
    return flow_warp_grid_sample(feat, flow, padding_mode)


class FlowWarp(nn.Module):
    """Module form of :func:`flow_warp`, so exporters and profilers can see the op."""

    def __init__(self, padding_mode: str = "zeros"):
        super().__init__()
        if padding_mode not in ("zeros", "border"):
            raise ValueError(f"padding_mode must be 'zeros' or 'border', got {padding_mode!r}")
        self.padding_mode = padding_mode

    def forward(self, feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return flow_warp(feat, flow, self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding_mode={self.padding_mode}"


def grid_sample(input: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = False) -> torch.Tensor:
    """``F.grid_sample`` with bilinear sampling, ``zeros`` or ``border`` padding and either ``align_corners``,
    lowered to ONNX ``GridSample`` in the standard mode and to one row-gather in portable mode (the same
    values). ``input`` (N, C, H, W), ``grid`` (N, Ho, Wo, 2) of normalised (x, y) in [-1, 1]."""
    mode = {"linear": "bilinear"}.get(mode, mode)
    if mode != "bilinear" or padding_mode not in ("zeros", "border"):
        raise ValueError(f"grid_sample: only bilinear with zeros/border padding is lowered; got mode={mode!r}, "
                         f"padding_mode={padding_mode!r}")
    if input.dim() != 4 or grid.dim() != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample expects input (N,C,H,W) and grid (N,Ho,Wo,2); got {tuple(input.shape)} "
                         f"and {tuple(grid.shape)}")
    if get_ops_mode() != "portable":
        return _TORCH_GRID_SAMPLE(input, grid, mode="bilinear", padding_mode=padding_mode,
                                  align_corners=align_corners)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1:3]
    gx, gy = grid[..., 0].reshape(n, ho * wo), grid[..., 1].reshape(n, ho * wo)
    if align_corners:
        xs, ys = (gx + 1) * (0.5 * (w - 1)), (gy + 1) * (0.5 * (h - 1))
    else:
        xs, ys = ((gx + 1) * w - 1) * 0.5, ((gy + 1) * h - 1) * 0.5
    return _sample_points(input, ys, xs, padding_mode, (ho, wo))
