"""Slow explicit-loop references for the custom ops (float64, scalar Python)."""
import math

import torch


def bilinear(img, y, x):
    """img (C,H,W); zero outside; torchvision/DCN convention (corners outside contribute 0)."""
    c, h, w = img.shape
    out = torch.zeros(c, dtype=img.dtype)
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return out
    y0, x0 = math.floor(y), math.floor(x)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * img[:, yy, xx]
    return out


def deform_conv2d_loop(x, offset, weight, bias, stride, padding, dilation, mask):
    n, c, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    groups, k = c // cin_g, kh * kw
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    og = offset.shape[1] // (2 * k)
    cg_off = c // og
    out = torch.zeros(n, cout, ho, wo, dtype=x.dtype)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                # sampled column (C, K)
                col = torch.zeros(c, k, dtype=x.dtype)
                for g in range(og):
                    for a in range(kh):
                        for bb in range(kw):
                            t = a * kw + bb
                            dy = float(offset[b, 2 * (g * k + t), i, j])
                            dx = float(offset[b, 2 * (g * k + t) + 1, i, j])
                            m = float(mask[b, g * k + t, i, j]) if mask is not None else 1.0
                            y = i * stride - padding + a * dilation + dy
                            xx = j * stride - padding + bb * dilation + dx
                            chans = slice(g * cg_off, (g + 1) * cg_off)
                            col[chans, t] = m * bilinear(x[b, chans], y, xx)
                for co in range(cout):
                    gi = co // (cout // groups)
                    chans = slice(gi * cin_g, (gi + 1) * cin_g)
                    out[b, co, i, j] = (weight[co].reshape(cin_g, k) * col[chans]).sum()
                    if bias is not None:
                        out[b, co, i, j] += bias[co]
    return out


def flow_warp_loop(feat, flow, padding_mode):
    n, c, h, w = feat.shape
    out = torch.zeros_like(feat)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = i + float(flow[b, 1, i, j])
                x = j + float(flow[b, 0, i, j])
                if padding_mode == "border":
                    y = min(max(y, 0.0), h - 1.0)
                    x = min(max(x, 0.0), w - 1.0)
                out[b, :, i, j] = bilinear(feat[b], y, x)
    return out
