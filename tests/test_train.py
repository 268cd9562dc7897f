"""Training recipes appear here only as few-step smoke tests; the shipped weights are checked for what
their card says."""
from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from edgecv import data
from edgecv.cli import main
from edgecv.models import create_model, list_models
from edgecv.models.registry import weights_path


def test_recipe_smoke_writes_loadable_weights_and_card(tmp_path):
    res = CliRunner().invoke(main, ["train", "mnv2", "--steps", "2", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "mnv2.json").read_text())
    assert card["steps"] == 2 and card["model"] == "mnv2" and 0.0 <= card["heldout_top1"] <= 1.0
    state = torch.load(tmp_path / "mnv2.pt", map_location="cpu", weights_only=True)
    m = create_model("mnv2", pretrained=False)
    m.load_state_dict(state)


def test_shipped_weights_match_their_card_and_beat_chance():
    card = json.loads(weights_path("mnv2-dcn").with_suffix(".json").read_text())
    assert card["classes"] == list(data.SCENES)
    assert card["heldout_top1"] > 5 * card["chance"]
    import hashlib
    assert hashlib.sha256(weights_path("mnv2-dcn").read_bytes()).hexdigest() == card["sha256"]
    # The shipped model recognises held-out frames of the real videos (never trained on).
    from edgecv.models.mobilenetv2 import frame_to_tensor
    m = create_model("mnv2-dcn")
    frames = data.check_frames(9, photos=False)
    with torch.no_grad():
        pred = torch.cat([m(frame_to_tensor(f, 128)) for f in frames]).argmax(1).tolist()
    truth = [list(data.SCENES).index(n) for n in ("vtest", "megamind", "tree") for _ in range(3)]
    assert sum(p == t for p, t in zip(pred, truth)) >= 7, (pred, truth)


def test_cli_lists_models_and_rejects_untrainable():
    r = CliRunner().invoke(main, ["models"])
    assert r.exit_code == 0 and set(list_models()) <= set(r.output.split())
    r = CliRunner().invoke(main, ["train", "warp-head", "--steps", "1"])
    assert r.exit_code == 2 and "mnv2-dcn's trained head" in r.output


def test_synthetic_tracks_are_reproducible_and_their_boxes_follow_the_object():
    """The synthetic tuning sequences: same seed, same frames; boxes inside the frame; the object's
    size changes; and the box crop matches the first frame's box crop better than a crop beside it."""
    import cv2
    import numpy as np

    from edgecv.train.synth_tracks import synth_tracks

    a, b = synth_tracks(3, 30, seed=1), synth_tracks(3, 30, seed=1)
    assert all(np.array_equal(x.frames[-1], y.frames[-1]) and np.array_equal(x.boxes, y.boxes) for x, y in zip(a, b))

    def patch(f, box, dx=0.0):
        x, y, w, h = box
        x = float(np.clip(x + dx * w, 0, f.shape[1] - w))
        g = cv2.cvtColor(f[int(y):int(y + h), int(x):int(x + w)], cv2.COLOR_BGR2GRAY).astype(np.float32)
        g = cv2.resize(g, (24, 24), interpolation=cv2.INTER_AREA)
        return (g - g.mean()) / (g.std() + 1e-6)

    growth, wins, trials = [], 0, 0
    for t in a:
        H, W = t.frames[0].shape[:2]
        x, y, w, h = t.boxes.T
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= W + 1e-6).all() and (y + h <= H + 1e-6).all()
        growth.append((w * h).max() / (w * h).min())
        ref = patch(t.frames[0], t.boxes[0])
        for k in (10, 20, 29):
            on = float((ref * patch(t.frames[k], t.boxes[k])).mean())
            off = float((ref * patch(t.frames[k], t.boxes[k], dx=1.0)).mean())
            wins += on > off
            trials += 1
    assert max(growth) > 1.5, growth
    assert wins >= trials - 1, (wins, trials)


def test_synthetic_heldout_set_writes_loadable_otb_sequences(tmp_path):
    """`edgecv eval synth-set`: held-out synthetic sequences written in OTB layout load back with the
    same boxes and frames (up to JPEG), a set grown by one keeps its first sequence, and a leftover
    temporary folder is not taken for a sequence."""
    import cv2
    import numpy as np
    from click.testing import CliRunner

    from edgecv.cli import main
    from edgecv.runtime.track import list_sequences
    from edgecv.train.synth_tracks import synth_tracks

    def run(d, n):
        r = CliRunner().invoke(main, ["eval", "synth-set", "--out", str(d), "--n", str(n), "--length", "12",
                                      "--seed", "5"])
        assert r.exit_code == 0, r.output

    run(tmp_path / "a", 2)
    run(tmp_path / "b", 3)
    (tmp_path / "a" / "_synth009.123.tmp").mkdir()
    seqs = list_sequences(tmp_path / "a")
    assert [s.name for s in seqs] == ["synth000", "synth001"]
    (ref,) = synth_tracks(1, 12, seed=5 * 100003, split="heldout")
    assert np.allclose(seqs[0].groundtruth, ref.boxes, atol=1e-3)
    img = cv2.imread(str(tmp_path / "a" / "synth000" / "img" / "0007.jpg"))
    assert img.shape == ref.frames[6].shape
    assert np.abs(img.astype(np.float32) - ref.frames[6]).mean() < 4.0
    for name in ("0001.jpg", "0012.jpg"):
        a = (tmp_path / "a" / "synth000" / "img" / name).read_bytes()
        assert a == (tmp_path / "b" / "synth000" / "img" / name).read_bytes()
    assert "heldout" in (tmp_path / "a" / "synth000" / "source.txt").read_text()


def test_opening_tracks_start_edge_on_and_small():
    """``synth_tracks(opening=True)``: the object starts small and edge-on (a thin box) and ends facing the camera
    and larger: the box's area grows, and the foreshortened side grows much more than the other, in every
    sequence; the boxes stay
    inside the frame; ``opening=False`` keeps the plain tilted sequences as they were."""
    import numpy as np

    from edgecv.train.synth_tracks import synth_tracks

    tracks = synth_tracks(3, 40, seed=2, tilt=70, opening=True)
    for t in tracks:
        x, y, w, h = t.boxes.T
        H, W = t.frames[0].shape[:2]
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= W + 1e-6).all() and (y + h <= H + 1e-6).all()
        gw, gh = w[-1] / w[0], h[-1] / h[0]
        assert gw * gh > 1.8, (t.name, t.boxes[[0, -1]])
        assert max(gw, gh) > 1.5 * min(gw, gh), (t.name, t.boxes[[0, -1]])
    a, b = synth_tracks(2, 20, seed=1, tilt=50), synth_tracks(2, 20, seed=1, tilt=50, opening=False)
    assert all(np.array_equal(p.boxes, q.boxes) for p, q in zip(a, b))


def test_occluded_tracks_hide_the_object_beside_a_lure():
    """``synth_tracks(occlusion=True)``: the same objects, paths and boxes as without it; a block hides the whole
    box for 12-24 consecutive frames in the middle of each sequence (every pixel there replaced), the first
    frames are untouched, and a lure changes the frame away from the object before the block arrives."""
    import numpy as np

    from edgecv.train.synth_tracks import synth_tracks

    plain, hidden = synth_tracks(3, 100, seed=3), synth_tracks(3, 100, seed=3, occlusion=True)
    for p, q in zip(plain, hidden):
        assert np.array_equal(p.boxes, q.boxes)
        assert np.array_equal(p.frames[0], q.frames[0])
        covered = []
        for t, (a, b) in enumerate(zip(p.frames, q.frames)):
            x, y, w, h = (int(round(v)) for v in p.boxes[t])
            inner = (a[y + 1:y + h - 1, x + 1:x + w - 1] != b[y + 1:y + h - 1, x + 1:x + w - 1]).any(-1)
            covered.append(inner.size > 0 and inner.mean() > 0.9)
        runs = "".join("1" if c else "0" for c in covered).split("0")
        assert 12 <= max(len(r) for r in runs) <= 26, (q.name, "".join("1" if c else "0" for c in covered))
        first = covered.index(True)
        assert 25 <= first <= 55, first
        elsewhere = [t for t in range(first) if not np.array_equal(p.frames[t], q.frames[t])]
        assert elsewhere and elsewhere[0] < first, (q.name, first)  # the lure is in view before the block
