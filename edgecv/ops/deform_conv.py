"""Deformable convolution v1 and modulated deformable convolution v2 (DCNv2), pure PyTorch.

Signature and tensor layouts follow ``torchvision.ops.deform_conv2d`` and ONNX ``DeformConv``
(opset 19), so the standard export is a one-to-one mapping:

- ``offset``: (N, 2 * offset_groups * kh * kw, Ho, Wo); for offset group ``g`` and kernel tap ``k``
  (row-major over kh, kw) channel ``2 * (g * K + k)`` is the vertical and ``+1`` the horizontal shift.
- ``mask``: (N, offset_groups * kh * kw, Ho, Wo), the DCNv2 modulation (already in [0, 1]).

The implementation samples all taps of all output positions with one row-gather, then does the
convolution as one (grouped) matmul — the same decomposition the portable export uses.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.utils import _pair

from ._mode import get_ops_mode
from .sampling import corner_indices_weights, gather_rows_bilinear


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _shapes(input, weight, offset, mask, stride, padding, dilation):
    if input.dim() != 4:
        raise ValueError(f"deform_conv2d: input must be (N,C,H,W), got {tuple(input.shape)}")
    n, c, h, w = input.shape
    cout, cin_g, kh, kw = weight.shape
    if c % cin_g != 0:
        raise ValueError(f"deform_conv2d: input channels {c} not divisible by weight in-channels {cin_g}")
    groups = c // cin_g
    k = kh * kw
    ho = _out_size(h, kh, stride[0], padding[0], dilation[0])
    wo = _out_size(w, kw, stride[1], padding[1], dilation[1])
    if offset.shape[0] != n or offset.shape[2:] != (ho, wo) or offset.shape[1] % (2 * k) != 0:
        raise ValueError(f"deform_conv2d: offset must be (N={n}, 2*offset_groups*{k}, {ho}, {wo}), "
                         f"got {tuple(offset.shape)}")
    offset_groups = offset.shape[1] // (2 * k)
    if c % offset_groups != 0:
        raise ValueError(f"deform_conv2d: channels {c} not divisible by offset_groups {offset_groups}")
    if mask is not None and tuple(mask.shape) != (n, offset_groups * k, ho, wo):
        raise ValueError(f"deform_conv2d: mask must be {(n, offset_groups * k, ho, wo)}, got {tuple(mask.shape)}")
    return n, c, h, w, cout, kh, kw, groups, offset_groups, ho, wo


def deform_conv2d_gather(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None):
    """Reference/portable implementation: one gather for all taps, then a matmul (see module doc)."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w, cout, kh, kw, groups, og, ho, wo = _shapes(input, weight, offset, mask, stride, padding, dilation)
    k, p = kh * kw, ho * wo
    dt = input.dtype
    # Regular sampling grid: (P, K) positions of every tap of every output pixel.
    oy = torch.arange(ho, dtype=dt, device=input.device) * stride[0] - padding[0]
    ox = torch.arange(wo, dtype=dt, device=input.device) * stride[1] - padding[1]
    ky = (torch.arange(kh, dtype=dt, device=input.device) * dilation[0]).repeat_interleave(kw)
    kx = (torch.arange(kw, dtype=dt, device=input.device) * dilation[1]).repeat(kh)
    base_y = (oy.view(ho, 1, 1) + ky.view(1, 1, k)).expand(ho, wo, k).reshape(1, 1, p, k)
    base_x = (ox.view(1, wo, 1) + kx.view(1, 1, k)).expand(ho, wo, k).reshape(1, 1, p, k)
    # Offsets (N, og*K*2, Ho, Wo) -> (N, og, P, K) per direction; permuting the offsets is cheaper
    # than permuting the sampled features afterwards.
    off = offset.reshape(n, og, k, 2, p).permute(0, 1, 4, 2, 3)
    ys = base_y + off[..., 0]
    xs = base_x + off[..., 1]
    rows, wts = corner_indices_weights(ys, xs, h, w, "zeros")  # (4, N, og, P, K)
    if mask is not None:
        wts = wts * mask.reshape(1, n, og, k, p).transpose(3, 4)
    cg = c // og
    # Table rows: ((n*H + y)*W + x)*og + g, each row holds the cg channels of one offset group.
    batch_off = (torch.arange(n, device=input.device) * (h * w)).view(1, n, 1, 1, 1)
    group_idx = torch.arange(og, device=input.device).view(1, 1, og, 1, 1)
    rows = (rows + batch_off) * og + group_idx
    table = input.permute(0, 2, 3, 1).reshape(n * h * w * og, cg)
    cols = gather_rows_bilinear(table, rows, wts)  # (N, og, P, K, cg)
    if og == 1:
        cols = cols.reshape(n, p, k, c)
    else:
        cols = cols.permute(0, 2, 3, 1, 4).reshape(n, p, k, c)
    cin_g, cout_g = c // groups, cout // groups
    if groups == 1:
        wmat = weight.reshape(cout, c, k).permute(2, 1, 0).reshape(k * c, cout)
        out = torch.matmul(cols.reshape(n, p, k * c), wmat)  # (N, P, Cout)
    else:
        cols = cols.reshape(n, p, k, groups, cin_g).permute(0, 3, 1, 2, 4).reshape(n, groups, p, k * cin_g)
        wmat = weight.reshape(groups, cout_g, cin_g, k).permute(0, 3, 2, 1).reshape(groups, k * cin_g, cout_g)
        out = torch.matmul(cols, wmat).permute(0, 2, 1, 3).reshape(n, p, cout)
    out = out.transpose(1, 2).reshape(n, cout, ho, wo)
    if bias is not None:
        out = out + bias.view(1, cout, 1, 1)
    return out


def _deform_conv2d_onnx(input, offset, weight, bias, stride, padding, dilation, mask):
    n, c, h, w, cout, kh, kw, groups, og, ho, wo = _shapes(input, weight, offset, mask, stride, padding, dilation)
    inputs = [input, weight, offset, bias, mask]
    while inputs and inputs[-1] is None:
        inputs.pop()
    attrs = dict(dilations=list(dilation), group=groups, kernel_shape=[kh, kw], offset_group=og,
                 pads=[padding[0], padding[1], padding[0], padding[1]], strides=list(stride))
    return torch.onnx.ops.symbolic("DeformConv", inputs, attrs, dtype=input.dtype,
                                   shape=(n, cout, ho, wo), version=19)


def deform_conv2d(input: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor | None = None, stride=1, padding=0, dilation=1,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    """Deformable convolution (DCNv1), or modulated deformable convolution (DCNv2) when ``mask`` is given.

    Args:
        input: (N, C, H, W).
        offset: (N, 2 * offset_groups * kh * kw, Ho, Wo), (dy, dx) per tap, in input pixels.
        weight: (Cout, C / groups, kh, kw); ``groups`` is inferred from it.
        bias: (Cout,) or None.
        stride, padding, dilation: int or pair.
        mask: (N, offset_groups * kh * kw, Ho, Wo) modulation or None.

    Returns:
        (N, Cout, Ho, Wo). Sampling outside the input reads zeros.
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if get_ops_mode() == "standard" and torch.onnx.is_in_onnx_export():
        return _deform_conv2d_onnx(input, offset, weight, bias, stride, padding, dilation, mask)
    return deform_conv2d_gather(input, offset, weight, bias, stride, padding, dilation, mask)


class DeformConv2d(nn.Module):
    """Deformable conv layer with its own offset (and mask) predictor.

    The predictor is a plain conv over the layer input, initialised to zero so that a fresh layer
    starts as the regular convolution (masks start at 0.5 in v2, as in the DCNv2 paper).

    Args:
        modulated: True for DCNv2 (predicts a mask), False for DCNv1.
        offset_groups: number of independent offset fields (channels split evenly).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1,
                 dilation=1, groups: int = 1, offset_groups: int = 1, bias: bool = True,
                 modulated: bool = True):
        super().__init__()
        if in_channels % groups or out_channels % groups or in_channels % offset_groups:
            raise ValueError(f"channels ({in_channels}->{out_channels}) must divide by groups={groups} "
                             f"and offset_groups={offset_groups}")
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        self.groups, self.offset_groups, self.modulated = groups, offset_groups, modulated
        k = self.kernel_size[0] * self.kernel_size[1]
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.offset_conv = nn.Conv2d(in_channels, offset_groups * k * (3 if modulated else 2),
                                     self.kernel_size, self.stride, self.padding, self.dilation)
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        om = self.offset_conv(x)
        k2 = 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]
        offset = om[:, :k2]
        mask = torch.sigmoid(om[:, k2:]) if self.modulated else None
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1] * self.groups}, {self.weight.shape[0]}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"offset_groups={self.offset_groups}, modulated={self.modulated}")
