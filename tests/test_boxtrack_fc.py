"""``boxtrack-fc``: BoxTrack's box head and SiamFC-Lite0's score from one pass over one trunk. Each branch is the
shipped model it claims to be, the SiamFC map lands on the right cells, the runtime blends it, and the lost state
holds (must-show 3 for the new tracker)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgecv import data
from edgecv.models import create_model
from edgecv.models.siamese import to_input
from edgecv.runtime.track import iou, load_sequence, make_tracker
from edgecv.runtime.track.crop import affine_crop, crop_side
from edgecv.runtime.track.registry import default_params

from .views import panned

DEV = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev"


def _real_crops(search_size=225, shift=(0.0, 0.0)):
    seq = load_sequence(DEV / "visp_mire")
    frame = seq.load_frames()[0]
    x, y, w, h = seq.groundtruth[0]
    cx, cy, sz = x + w / 2, y + h / 2, crop_side(w, h)
    k = sz / 129
    z, _ = affine_crop(frame, cx, cy, sz, 129)
    xc, _ = affine_crop(frame, cx - shift[0] * k, cy - shift[1] * k, sz * search_size / 129, search_size)
    return to_input(z), to_input(xc)


def test_each_branch_is_the_shipped_model():
    """On a real held-out frame the box branch gives boxtrack-fast's maps and the SiamFC branch siamfc-lite0's,
    to the bit: nothing was retrained or copied wrong."""
    fc, box, siam = create_model("boxtrack-fc"), create_model("boxtrack-fast"), create_model("siamfc-lite0")
    z, x = _real_crops()
    with torch.no_grad():
        cls, ltrb, feat, score = fc.search(x, *fc.template(z))
        b_cls, b_ltrb, b_feat = box.search(x, *box.template(z))
        s_score = siam.search(x, *siam.template(z))[0]
    for a, b in ((cls, b_cls), (ltrb, b_ltrb), (feat, b_feat), (score, s_score)):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    g = fc.geometry_info()
    assert score.shape[-1] == g["fc_score_size"] == g["score_size"] - 2 * g["fc_offset"]


@pytest.mark.parametrize("shift", [(0, 0), (32, -16), (-48, 32)])
def test_the_two_maps_peak_on_the_same_cell(shift):
    """Moving the search crop over a real target moves both peaks alike: the SiamFC cell k is BoxTrack's cell
    k + fc_offset, the rule the runtime pads the map by."""
    model = create_model("boxtrack-fc")
    z, x = _real_crops(shift=shift)
    with torch.no_grad():
        cls, _, _, score = model.search(x, *model.template(z))
    o = model.geometry_info()["fc_offset"]
    bi = np.unravel_index(int(cls[0, 0].argmax()), cls.shape[-2:])
    fi = np.unravel_index(int(score[0, 0].argmax()), score.shape[-2:])
    assert abs(bi[0] - (fi[0] + o)) <= 1 and abs(bi[1] - (fi[1] + o)) <= 1, (bi, fi)
    c = (cls.shape[-1] - 1) / 2  # and both where the shift put the target (16 crop pixels a cell)
    assert abs(fi[1] + o - c - shift[0] / 16) <= 1 and abs(fi[0] + o - c - shift[1] / 16) <= 1


@pytest.fixture(scope="module")
def arts(exported):
    exported("boxtrack-fast", "onnx", "fp32")
    t, _ = exported("boxtrack-fc", "onnx", "fp32")
    return Path(t).parent


def test_weight_zero_is_boxtrack_fast_and_the_blend_changes_the_search(arts):
    """At fc_weight 0 the runtime gives boxtrack-fast's boxes exactly (the SiamFC output is ignored); at the
    shipped weight the blended score differs from the box head's alone, on the same frames."""
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:25]
    runs, scores = {}, []
    for name, params in (("boxtrack-fast", None),
                         ("boxtrack-fc", default_params("boxtrack-fc", fc_weight=0.0, fc_confidence=False)),
                         ("boxtrack-fc", None)):
        trk = make_tracker(name, arts, "ort", "fp32", threads=1, params=params)
        trk.init(frames[0], seq.groundtruth[0])
        scores.append(trk._search(frames[1], (trk.cx, trk.cy), explore=False)["score"])
        runs.setdefault(name, []).append([trk.update(f) for f in frames[1:]])
    fast, (off, on) = runs["boxtrack-fast"][0], runs["boxtrack-fc"]
    assert np.allclose([r.box for r in fast], [r.box for r in off], atol=1e-4)
    assert [r.score for r in fast] == pytest.approx([r.score for r in off], abs=1e-6)
    assert default_params("boxtrack-fc").fc_weight > 0
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)  # the winning cell's score: the head's alone ...
    blended = make_tracker("boxtrack-fc", arts, "ort", "fp32", threads=1,
                           params=default_params("boxtrack-fc", fc_confidence=True))
    blended.init(frames[0], seq.groundtruth[0])
    fc_score = blended._search(frames[1], (blended.cx, blended.cy), explore=False)["score"]
    assert abs(fc_score - scores[1]) > 1e-3                  # ... or blended with SiamFC's share of its init peak
    assert np.mean([iou(a.box, b.box) for a, b in zip(on, off)]) > 0.7  # the same target either way

def test_tracks_a_real_held_out_sequence(arts):
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:60]
    trk = make_tracker("boxtrack-fc", arts, "ort", "fp32", threads=1)
    assert trk.name == "boxtrack-fc"
    trk.init(frames[0], seq.groundtruth[0])
    res = [trk.update(f) for f in frames[1:]]
    ious = [iou(r.box, g) for r, g in zip(res, seq.groundtruth[1:60])]
    assert np.mean(ious) > 0.6, np.round(ious, 2)
    assert sum(r.lost for r in res) <= 3


def test_lost_within_10_frames_of_the_target_leaving(arts):
    """Must-show 3: a pan over real held-out frames carries the pedestrian out of view; boxtrack-fc follows her
    while she is in view and says lost within 10 frames of her last pixel leaving."""
    root = DEV / "vtest_woman"
    src = json.loads((root / "source.json").read_text())
    gt = np.loadtxt(root / "groundtruth_rect.txt", delimiter=",")
    frames = data.video_part("vtest.avi", "heldout", step=1)
    start = src["start"] - (795 - len(frames))
    views, truth = panned(frames, tuple(gt[0]), start, 40, 14)
    trk = make_tracker("boxtrack-fc", arts, "ort", "fp32", threads=1)
    trk.init(views[0], truth[0])
    res = [trk.update(v) for v in views[1:]]
    gone = next(k for k, b in enumerate(truth[1:]) if b[0] + b[2] < 0)
    inside = [(r, b) for r, b in zip(res, truth[1:]) if b[0] > 10]
    assert inside and sum(r.lost for r, _ in inside) <= len(inside) // 4, [round(r.score, 2) for r, _ in inside]
    assert np.mean([iou(r.box, b) for r, b in inside]) > 0.4
    first_lost = next((k for k in range(gone, len(res)) if res[k].lost), None)
    assert first_lost is not None and first_lost - gone <= 10, [round(r.score, 2) for r in res[gone:]]


def test_params_differ_from_boxtrack_fast_only_in_the_blend():
    a, b = default_params("boxtrack-fast"), default_params("boxtrack-fc")
    diff = {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}
    assert diff <= {"fc_weight", "fc_confidence"}
