"""`edgecv export boxtrack --format opencv-nano`: an edgecv tracker run unchanged by cv2.TrackerNano."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgecv.cli import main
from edgecv.runtime.manifest import sha256_file
from edgecv.runtime.track.sequences import load_sequence

DEV = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev"


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from edgecv.export import export_opencv_nano

    return export_opencv_nano("boxtrack", tmp_path_factory.mktemp("ocvn"), progress=None)


@pytest.mark.slow
def test_the_pair_keeps_trackernano_s_contract_and_matches_pytorch(pair):
    import cv2

    m = json.loads((pair / "manifest.json").read_text())
    for part in ("backbone", "head"):
        assert m["files"][part]["sha256"] == sha256_file(pair / f"{part}.onnx")
    for engine in ("onnxruntime", "opencv"):   # OpenCV DNN is what TrackerNano runs
        assert m["parity"][engine]["passed"], m["parity"]
        assert max(m["parity"][engine]["max_rel_err"].values()) < 1e-4
    # the one backbone file serves both of OpenCV's crop sizes; the head gives OpenCV's fixed 16×16 maps
    bb, hd = cv2.dnn.readNet(str(pair / "backbone.onnx")), cv2.dnn.readNet(str(pair / "head.onnx"))
    feats = []
    for side in (127, 255):
        bb.setInput(np.random.default_rng(side).uniform(0, 255, (1, 3, side, side)).astype(np.float32))
        feats.append(bb.forward().copy())
    assert feats[0].shape == (1, 96, 9, 9) and feats[1].shape == (1, 96, 17, 17)
    hd.setInput(feats[0], "input1")
    hd.setInput(feats[1], "input2")
    cls, loc = hd.forward(["output1", "output2"])
    assert cls.shape == (1, 2, 16, 16) and loc.shape == (1, 4, 16, 16)
    assert np.all(cls[:, 0] == 0) and np.all(loc > 0)   # background logit 0 (softmax = sigmoid); distances > 0


@pytest.mark.slow
def test_cv2_trackernano_runs_boxtrack_on_real_frames_and_follows_edgecv_s_loop(pair, exported):
    """OpenCV's own tracker, our pair unchanged, on 60 frames of a real dev sequence: it stays on the target,
    and its boxes agree with edgecv's BoxTrack loop on the same weights (which differs in post-processing
    and in its box-aware template mask)."""
    import cv2

    from edgecv.runtime.track import make_tracker

    seq = load_sequence(DEV / "visp_cube")
    frames = [f for _, f in zip(range(60), seq.frames())]
    gt = seq.groundtruth[:60]
    p = cv2.TrackerNano_Params()
    p.backbone, p.neckhead = str(pair / "backbone.onnx"), str(pair / "head.onnx")
    ocv = cv2.TrackerNano_create(p)
    t, _ = exported("boxtrack", "onnx", "fp32")
    ours = make_tracker("boxtrack", Path(t).parent, "ort", "fp32", 1)
    box = tuple(float(v) for v in gt[0])
    ocv.init(frames[0], tuple(int(round(v)) for v in box))
    ours.init(frames[0], box)
    to_gt, to_ours = [], []
    for f, g in zip(frames[1:], gt[1:]):
        ok, b = ocv.update(f)
        assert ok
        b = tuple(float(v) for v in b)
        to_gt.append(iou(b, g))
        to_ours.append(iou(b, ours.update(f).box))
    assert np.mean(to_gt) > 0.6 and min(to_gt) > 0.3, (np.mean(to_gt), min(to_gt))
    assert np.median(to_ours) > 0.7, np.median(to_ours)
    assert ocv.getTrackingScore() > 0.5


def test_opencv_nano_bad_input_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["export", "boxtrack", "--format", "opencv-nano", "--precision", "int8",
                                  "--out", str(out)])
    assert r.exit_code == 2 and "writes fp32 standard ONNX" in r.output, r.output
    r = CliRunner().invoke(main, ["export", "--module", "a.b:c", "--format", "opencv-nano", "--out", str(out)])
    assert r.exit_code == 2 and "takes an edgecv tracker" in r.output, r.output
    r = CliRunner().invoke(main, ["export", "siamfc", "--format", "opencv-nano", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "siamfc does not fit cv2.TrackerNano's contract" in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_a_pair_that_fails_its_parity_check_is_not_written(tmp_path, monkeypatch):
    from edgecv.export import ExportError, opencv_nano

    monkeypatch.setattr(opencv_nano, "TOLERANCE", 0.0)
    with pytest.raises(ExportError, match="parity check failed.*nothing was written"):
        opencv_nano.export_opencv_nano("boxtrack", tmp_path, n_check=1, progress=None)
    assert list(tmp_path.iterdir()) == []
