import pytest
import torch
import torch.nn.functional as F

from edgecv.ops import (
    DeformConv2d,
    FlowWarp,
    deform_conv2d,
    flow_warp,
    flow_warp_gather,
    flow_warp_grid_sample,
    ops_mode,
)

from .reference import deform_conv2d_loop, flow_warp_loop

DCN_CASES = [
    # (N, C, H, W, Cout, k, stride, padding, dilation, groups, offset_groups, modulated, bias)
    (1, 4, 7, 6, 6, 3, 1, 1, 1, 1, 1, True, True),
    (2, 4, 8, 9, 4, 3, 2, 1, 1, 2, 2, True, False),
    (1, 6, 9, 8, 6, 3, 1, 2, 2, 3, 3, False, True),
    (1, 4, 6, 6, 8, 1, 1, 0, 1, 1, 2, True, True),
    (1, 2, 5, 7, 3, (3, 2), 1, 1, 1, 1, 1, False, False),
]


def _dcn_inputs(case, dtype=torch.float64, seed=0):
    n, c, h, w, cout, k, s, p, d, g, og, modulated, bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    gen = torch.Generator().manual_seed(seed)
    ho = (h + 2 * p - d * (kh - 1) - 1) // s + 1
    wo = (w + 2 * p - d * (kw - 1) - 1) // s + 1
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype)
    weight = torch.randn(cout, c // g, kh, kw, generator=gen, dtype=dtype)
    b = torch.randn(cout, generator=gen, dtype=dtype) if bias else None
    # offsets large enough to leave the map and to cross pixel boundaries
    offset = torch.randn(n, 2 * og * kh * kw, ho, wo, generator=gen, dtype=dtype) * 2.5
    mask = torch.rand(n, og * kh * kw, ho, wo, generator=gen, dtype=dtype) if modulated else None
    return x, offset, weight, b, s, p, d, mask


@pytest.mark.parametrize("case", DCN_CASES)
def test_deform_conv_matches_loop_reference(case):
    x, offset, weight, b, s, p, d, mask = _dcn_inputs(case)
    got = deform_conv2d(x, offset, weight, b, stride=s, padding=p, dilation=d, mask=mask)
    ref = deform_conv2d_loop(x, offset, weight, b, s, p, d, mask)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_deform_conv_zero_offsets_is_regular_conv():
    x, _, weight, b, s, p, d, _ = _dcn_inputs(DCN_CASES[1])
    ho, wo = F.conv2d(x, weight, b, s, p, d, groups=2).shape[2:]
    offset = torch.zeros(x.shape[0], 2 * 2 * 9, ho, wo, dtype=x.dtype)
    got = deform_conv2d(x, offset, weight, b, stride=s, padding=p, dilation=d)
    torch.testing.assert_close(got, F.conv2d(x, weight, b, s, p, d, groups=2))


def test_deform_conv_integer_shift_moves_the_sampling():
    """An offset of exactly (+1, 0) on every tap equals convolving the input shifted up by one row."""
    x, _, weight, b, _, _, _, _ = _dcn_inputs(DCN_CASES[0])
    offset = torch.zeros(1, 18, 7, 6, dtype=x.dtype)
    offset[:, 0::2] = 1.0
    shifted = torch.cat([x[:, :, 1:], torch.zeros_like(x[:, :, :1])], 2)
    got = deform_conv2d(x, offset, weight, b, padding=1)
    # row 0 differs only because the shifted copy zero-pads the row the deformable conv still reads
    torch.testing.assert_close(got[:, :, 1:], F.conv2d(shifted, weight, b, padding=1)[:, :, 1:])


@pytest.mark.parametrize("case", [DCN_CASES[0], DCN_CASES[1], DCN_CASES[2]])
def test_deform_conv_gradcheck(case):
    x, offset, weight, b, s, p, d, mask = _dcn_inputs(case, seed=1)
    # keep sampling points away from integer coordinates, where bilinear is not differentiable
    offset = offset.round() + 0.3
    leaves = [t.requires_grad_() for t in (x, offset, weight, b, mask) if t is not None]

    def fn(*ts):
        it = iter(ts)
        xx, oo, ww = next(it), next(it), next(it)
        bb = next(it) if b is not None else None
        mm = next(it) if mask is not None else None
        return deform_conv2d(xx, oo, ww, bb, stride=s, padding=p, dilation=d, mask=mm)

    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5)


def test_deform_conv_module_starts_as_half_masked_conv():
    torch.manual_seed(0)
    m = DeformConv2d(4, 5, 3, padding=1, modulated=True).double()
    x = torch.randn(2, 4, 6, 7, dtype=torch.float64)
    expect = 0.5 * F.conv2d(x, m.weight, None, padding=1) + m.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(m(x), expect)
    v1 = DeformConv2d(4, 5, 3, padding=1, modulated=False).double()
    torch.testing.assert_close(v1(x), F.conv2d(x, v1.weight, v1.bias, padding=1))


def test_deform_conv_bad_shapes_name_the_problem():
    x, offset, weight, b, s, p, d, mask = _dcn_inputs(DCN_CASES[0])
    with pytest.raises(ValueError, match="offset must be"):
        deform_conv2d(x, offset[:, :, :-1], weight, b, padding=1)
    with pytest.raises(ValueError, match="mask must be"):
        deform_conv2d(x, offset, weight, b, padding=1, mask=mask[:, :3])


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_flow_warp_matches_loop_reference(padding_mode):
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    flow = torch.randn(2, 2, 6, 7, generator=gen, dtype=torch.float64) * 3
    ref = flow_warp_loop(feat, flow, padding_mode)
    torch.testing.assert_close(flow_warp_grid_sample(feat, flow, padding_mode), ref)
    torch.testing.assert_close(flow_warp_gather(feat, flow, padding_mode), ref)
    with ops_mode("portable"):
        torch.testing.assert_close(FlowWarp(padding_mode)(feat, flow), ref)


def test_flow_warp_integer_flow_is_a_shift():
    feat = torch.arange(2 * 5 * 6, dtype=torch.float64).view(1, 2, 5, 6)
    flow = torch.zeros(1, 2, 5, 6, dtype=torch.float64)
    flow[:, 0] = 2.0  # sample 2 pixels to the right
    out = flow_warp(feat, flow)
    torch.testing.assert_close(out[..., :4], feat[..., 2:])
    assert (out[..., 4:] == 0).all()


@pytest.mark.parametrize("impl", [flow_warp_grid_sample, flow_warp_gather])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_flow_warp_gradcheck(impl, padding_mode):
    gen = torch.Generator().manual_seed(2)
    feat = torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    flow = (torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64).round() + 0.37).requires_grad_()
    assert torch.autograd.gradcheck(lambda f, fl: impl(f, fl, padding_mode), (feat, flow), eps=1e-6, atol=1e-5)


def test_flow_warp_rejects_mismatched_flow():
    with pytest.raises(ValueError, match="does not match features"):
        flow_warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="padding_mode"):
        FlowWarp("reflect")


@pytest.mark.parametrize("blend", ["matmul", "madd"])
def test_both_blend_forms_match_the_references(blend):
    x, offset, weight, b, s, p, d, mask = _dcn_inputs(DCN_CASES[1])
    ref = deform_conv2d_loop(x, offset, weight, b, s, p, d, mask)
    gen = torch.Generator().manual_seed(3)
    feat = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    flow = torch.randn(2, 2, 6, 7, generator=gen, dtype=torch.float64) * 3
    with ops_mode("portable", blend=blend):
        torch.testing.assert_close(deform_conv2d(x, offset, weight, b, stride=s, padding=p, dilation=d, mask=mask),
                                   ref, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(flow_warp(feat, flow, "zeros"), flow_warp_loop(feat, flow, "zeros"))
        offset2 = (offset.round() + 0.3).requires_grad_()
        assert torch.autograd.gradcheck(
            lambda o: deform_conv2d(x, o, weight, b, stride=s, padding=p, dilation=d, mask=mask), (offset2,),
            eps=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match="unknown blend"):
        with ops_mode("portable", blend="fancy"):
            pass
