"""Cross-correlation of a template with a search region, the matching step of Siamese trackers.

- :func:`xcorr` (SiamFC): one score map, summed over channels: (N,C,Hs,Ws) ⋆ (N,C,Ht,Wt) → (N,1,Ho,Wo).
- :func:`xcorr_depthwise` (SiamRPN++ style): one map per channel → (N,C,Ho,Wo).

Two lowerings. ``eager``/``standard`` use a grouped convolution whose weights are the template features.
That is the fastest form in onnxruntime and LiteRT, but TensorRT rejects convolution weights that come
from a graph input. ``portable`` stacks the Ht·Wt shifted views of the search features with static
slices and contracts them with the template in one MatMul (sum) or Mul+ReduceSum (depthwise): only
Slice/Concat/MatMul/elementwise ops. Ho = Hs − Ht + 1, Wo = Ws − Wt + 1 (no padding, stride 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._mode import get_ops_mode


def _check(search: torch.Tensor, template: torch.Tensor) -> tuple[int, int, int, int, int, int]:
    if search.dim() != 4 or template.dim() != 4:
        raise ValueError(f"xcorr expects 4-D search and template features, got {tuple(search.shape)} and "
                         f"{tuple(template.shape)}")
    n, c, hs, ws = search.shape
    nt, ct, ht, wt = template.shape
    if (nt, ct) != (n, c) or ht > hs or wt > ws:
        raise ValueError(f"xcorr: template {tuple(template.shape)} does not fit search {tuple(search.shape)} "
                         "(batch and channels must agree, template no larger than the search region)")
    return n, c, hs, ws, ht, wt


def _shifted_views(search: torch.Tensor, ht: int, wt: int) -> torch.Tensor:
    """(N, C, Hs, Ws) → (N, Ht·Wt, C, Ho·Wo): every template offset's view of the search features."""
    n, c, hs, ws = search.shape
    ho, wo = hs - ht + 1, ws - wt + 1
    # stack first, reshape after: reshaping each (non-contiguous) slice trips litert-torch's int8 path
    views = torch.stack([search[:, :, u:u + ho, v:v + wo] for u in range(ht) for v in range(wt)], 1)
    return views.reshape(n, ht * wt, c, ho * wo)


def xcorr(search: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """SiamFC cross-correlation: ``out[n, 0, i, j] = Σ_c,u,v template[n,c,u,v] · search[n,c,i+u,j+v]``."""
    n, c, hs, ws, ht, wt = _check(search, template)
    ho, wo = hs - ht + 1, ws - wt + 1
    if get_ops_mode() == "portable":
        views = _shifted_views(search, ht, wt).reshape(n, ht * wt * c, ho * wo)
        kernel = template.permute(0, 2, 3, 1).reshape(n, 1, ht * wt * c)
        return torch.matmul(kernel, views).reshape(n, 1, ho, wo)
    out = F.conv2d(search.reshape(1, n * c, hs, ws), template, groups=n)
    return out.reshape(n, 1, ho, wo)


def xcorr_depthwise(search: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """Per-channel cross-correlation: ``out[n, c, i, j] = Σ_u,v template[n,c,u,v] · search[n,c,i+u,j+v]``."""
    n, c, hs, ws, ht, wt = _check(search, template)
    ho, wo = hs - ht + 1, ws - wt + 1
    if get_ops_mode() == "portable":
        views = _shifted_views(search, ht, wt)  # (N, K, C, P)
        kernel = template.permute(0, 2, 3, 1).reshape(n, ht * wt, c, 1)
        return (views * kernel).sum(1).reshape(n, c, ho, wo)
    out = F.conv2d(search.reshape(1, n * c, hs, ws), template.reshape(n * c, 1, ht, wt), groups=n * c)
    return out.reshape(n, c, ho, wo)


class XCorr(nn.Module):
    """:func:`xcorr` as a (parameter-free) module, so that an exporter can single the correlation out:
    int8 exports keep it in float (see ``ExportSpec.int8_float_modules``)."""

    def forward(self, search: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
        return xcorr(search, template)
