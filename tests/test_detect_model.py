"""The person detector (``persondet-lite0``): shipped weights, decoding, held-out detection quality, recipe smoke."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgecv.models import create_model  # noqa: E402
from edgecv.models.registry import weights_path  # noqa: E402
from edgecv.runtime.mot.detector import decode, nms  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return create_model("persondet-lite0").eval()


def test_decode_finds_the_peak_and_scales_the_box_to_the_frame():
    heat = np.zeros((36, 48), np.float32)
    heat[10, 20] = 0.9
    heat[10, 21] = 0.5            # a neighbour of the peak: not a detection of its own
    heat[30, 5] = 0.2             # below the threshold
    box = np.zeros((4, 36, 48), np.float32)
    box[:, 10, 20] = (8, 16, 24, 32)   # l, t, r, b in input pixels
    d = decode(heat, box, np.ones((32, 36, 48), np.float32), (576, 768), score_threshold=0.3)
    assert len(d) == 1 and d.scores[0] == pytest.approx(0.9)
    cx, cy = 20.5 * 8, 10.5 * 8
    np.testing.assert_allclose(d.boxes[0], np.array([cx - 8, cy - 16, cx + 24, cy + 32]) * 2)   # 384→768
    assert np.linalg.norm(d.embeddings[0]) == pytest.approx(1.0)


def test_nms_drops_a_second_box_on_the_same_person_only():
    boxes = np.array([[0, 0, 10, 30], [1, 1, 10, 31], [40, 0, 50, 30]], float)
    keep = nms(boxes, np.array([0.9, 0.8, 0.7]), 0.7)
    assert list(keep) == [0, 2]


def test_shipped_weights_match_their_card_and_came_from_imagenet():
    import hashlib

    card = json.loads(weights_path("persondet-lite0").with_suffix(".json").read_text())
    assert hashlib.sha256(weights_path("persondet-lite0").read_bytes()).hexdigest() == card["sha256"]
    assert "ImageNet" in card["init"]
    assert min(card["heldout_ap50"].values()) > 0.5


def test_detects_people_on_held_out_vtest_frames(model):
    """AP@0.5 on the committed MOT clips (vtest frames 560-794, never trained on), every 15th frame: the shipped
    detector finds the walking people (card: 0.91 / 0.69 on every 2nd frame)."""
    from edgecv.train.detect import heldout_ap

    ap = heldout_ap(model, step=15)
    assert ap["vtest-a"] > 0.8 and ap["vtest-b"] > 0.5, ap


def test_embedding_tells_two_people_apart_better_than_chance(model):
    """Re-id cue: a person's embedding in two frames 5 apart is closer than two different people's (GT boxes of
    vtest-a, held out)."""
    from edgecv import data
    from edgecv.models.detect import INPUT_H, INPUT_W, frames_to_input
    from edgecv.runtime.mot.motio import read_gt

    gt = read_gt(REPO / "datasets/mot-dev/vtest-a/gt/gt.txt")
    start = json.loads((REPO / "datasets/mot-dev/vtest-a/source.json").read_text())["start"]
    frames = data.read_frames(data.ensure_samples(verbose=False) / "vtest.avi", start=start, max_frames=40)

    def embed_at(fi):
        with torch.no_grad():
            _, _, emb = model(frames_to_input([frames[fi - 1]]))
        rows = gt.select(gt.frame == fi)
        out = {}
        for pid, (x0, y0, x1, y1) in zip(rows.id, rows.xyxy):
            j = int(np.clip((x0 + x1) / 2 * INPUT_W / 768 / 8, 0, 47))
            i = int(np.clip((y0 + y1) / 2 * INPUT_H / 576 / 8, 0, 35))
            e = emb[0, :, i, j].numpy()
            out[int(pid)] = e / np.linalg.norm(e)
        return out

    same, diff = [], []
    for fa in (5, 15, 25):
        a, b = embed_at(fa), embed_at(fa + 5)
        for i, ea in a.items():
            for j, eb in b.items():
                (same if i == j else diff).append(float(ea @ eb))
    assert len(same) >= 10
    assert np.mean(same) > np.mean(diff) + 0.1, (np.mean(same), np.mean(diff))


def test_recipe_smoke(tmp_path):
    from edgecv.train.detect import train

    path = train("persondet-lite0", steps=2, batch=2, out_dir=tmp_path, progress=None, heldout_step=60)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["steps"] == 2 and set(card["heldout_ap50"]) == {"vtest-a", "vtest-b"}
    assert "score_threshold" in card["operating_point"]
    create_model("persondet-lite0", pretrained=False).load_state_dict(
        torch.load(path, map_location="cpu", weights_only=True))


def test_export_carries_the_operating_point_the_mot_variants_follow():
    """The card's operating point (F1-optimal score on training frames) goes into every export's model_info."""
    from edgecv.models.detect import _card_operating_point

    m = create_model("persondet-lite0")
    op = _card_operating_point("persondet-lite0")
    assert 0.05 < op < 0.9
    assert m.export_spec.extra["operating_point"] == op


def test_mined_blobs_of_two_people_are_told_apart_from_one_by_the_ground_plane():
    """The miner's labels: a blob much taller (one person behind another) or wider (side by side) than a person
    standing on that row of the fitted ground plane is not one person (it becomes ignore, not a box)."""
    from edgecv.train.detect import fit_perspective, one_person

    rng = np.random.default_rng(0)
    foot = rng.uniform(150, 550, 60)
    h = 0.25 * foot + 15 + rng.normal(0, 2, 60)
    singles = np.stack([rng.uniform(0, 700, 60), foot - h, h / 2.7, h], 1)
    a, b = fit_perspective([singles[:30], singles[30:]])
    assert abs(a - 0.25) < 0.03 and abs(b - 15) < 10
    foot_y, hh = 400.0, 0.25 * 400 + 15
    blobs = np.array([[100, foot_y - hh, hh / 2.7, hh],            # one person
                      [200, foot_y - 1.6 * hh, hh / 2.5, 1.6 * hh],  # two, one behind the other
                      [300, foot_y - hh, 0.9 * hh, hh]])             # two side by side
    assert one_person(blobs, (a, b)).tolist() == [True, False, False]
