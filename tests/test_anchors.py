"""Outside reference trackers (NanoTrack V2/V3 run by OpenCV, ``eval/anchors.py``) in ``edgecv eval track``.

The models live outside the repository (``<repo>/../shared/anchors`` or ``$EDGECV_ANCHORS``); tests that run
them skip, saying so, where the folder is absent. Nothing here copies them: broken folders are built in
tmp_path from symlinks and garbage files.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgecv.cli import TrackerChoice, main
from edgecv.eval.anchors import (
    NANOTRACK,
    AnchorError,
    NanoTrackModel,
    NanoTrackTracker,
    TrackerNanoPort,
    anchors_dir,
    find_nanotrack,
)
from edgecv.runtime.track import load_sequence
from edgecv.runtime.track.base import iou

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_cv2_threads():
    """NanoTrackTracker sets OpenCV's process-wide thread count; give the rest of the session its own back."""
    import cv2

    n = cv2.getNumThreads()
    yield
    cv2.setNumThreads(n)


@pytest.fixture(scope="module")
def anchors():
    """The real anchor folder's NanoTrack models, or a skip that says where they were looked for."""
    root = anchors_dir()
    if not (root / "nanotrack").is_dir():
        pytest.skip(f"NanoTrack anchors not found at {root}/nanotrack (set $EDGECV_ANCHORS to the anchor folder)")
    return find_nanotrack(root)


def _frames(ds: Path, n: int):
    seq = load_sequence(next(ds.iterdir()))
    frames = [f for _, f in zip(range(n), seq.frames())]
    return frames, seq.groundtruth[:n]


def _broken_copy(tmp_path: Path, src: Path | None, missing=(), garbage=()) -> Path:
    """An anchor folder in tmp_path: symlinks to ``src``'s files (or empty files without ``src``), minus
    ``missing``, with ``garbage`` files holding bytes no ONNX parser accepts. Names are ``v2/head.onnx``."""
    root = tmp_path / "anchors"
    for version, _ in NANOTRACK.values():
        for f in ("backbone.onnx", "head.onnx"):
            rel = f"{version}/{f}"
            p = root / "nanotrack" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if rel in missing:
                continue
            if rel in garbage:
                p.write_bytes(b"not an onnx graph\x00" * 8)
            elif src is not None:
                p.symlink_to(src / "nanotrack" / rel)
            else:
                p.write_bytes(b"")
    return root


def test_default_folder_is_beside_the_repo_and_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGECV_ANCHORS", raising=False)
    assert anchors_dir() == REPO.parent / "shared" / "anchors"
    monkeypatch.setenv("EDGECV_ANCHORS", str(tmp_path))
    assert anchors_dir() == tmp_path


def test_absent_folder_and_missing_file_are_named(tmp_path):
    with pytest.raises(AnchorError, match="no anchor folder at .*nowhere.*EDGECV_ANCHORS"):
        find_nanotrack(tmp_path / "nowhere")
    root = _broken_copy(tmp_path, None, missing=("v3/head.onnx",))
    with pytest.raises(AnchorError, match=r"v3/head\.onnx is missing"):
        find_nanotrack(root, load=False)
    assert list(find_nanotrack(root, names=["nanotrack-v2"], load=False)) == ["nanotrack-v2"]


def test_corrupt_file_is_named(tmp_path):
    root = _broken_copy(tmp_path, None, garbage=("v2/backbone.onnx",))
    with pytest.raises(AnchorError, match=r"v2/backbone\.onnx cannot be read by OpenCV DNN"):
        find_nanotrack(root)


def test_corrupt_head_is_named_when_the_tracker_is_made(anchors, tmp_path):
    """Past find_nanotrack's check (load=False), making the tracker still names the file OpenCV failed on."""
    root = _broken_copy(tmp_path, anchors_dir(), garbage=("v2/head.onnx", "v3/head.onnx"))
    models = find_nanotrack(root, load=False)
    for name in NANOTRACK:
        with pytest.raises(AnchorError, match=rf"{models[name].version}/head\.onnx cannot be read"):
            NanoTrackTracker(models[name])


@pytest.mark.parametrize("name", list(NANOTRACK))
def test_nanotrack_follows_the_mire(anchors, dev_cut, name):
    """20 frames of visp_mire (a calibration square on a hand-held box). Measured mean IoU over frames 1-19:
    V2 0.957, V3 0.926 (OpenCV 5.1, 1 thread; both deterministic); the bound leaves room for another OpenCV build."""
    frames, gt = _frames(dev_cut("visp_mire", 20), 20)
    t = NanoTrackTracker(anchors[name], threads=1)
    t.init(frames[0], gt[0])
    res = [t.update(f) for f in frames[1:]]
    assert not any(r.lost for r in res)
    assert all(0.0 <= r.score <= 1.0 for r in res)
    assert all(float(v).is_integer() for r in res for v in r.box)   # OpenCV's whole-pixel boxes
    assert np.mean([iou(r.box, g) for r, g in zip(res, gt[1:])]) > 0.85


def test_port_gives_opencv_trackernano_boxes_on_v2(anchors, dev_cut):
    """V3 runs through TrackerNanoPort because cv2.TrackerNano fixes a 16×16 score map; on V2, which OpenCV
    runs, the port must give OpenCV's boxes (measured: identical boxes, scores within 1e-6)."""
    import cv2

    frames, gt = _frames(dev_cut("visp_mire", 20), 20)
    m = anchors["nanotrack-v2"]
    t = NanoTrackTracker(m)
    assert isinstance(t._t, cv2.TrackerNano)
    port = NanoTrackTracker(NanoTrackModel(m.name, m.version, "TrackerNanoPort", m.backbone, m.head))
    assert isinstance(port._t, TrackerNanoPort)
    t.init(frames[0], gt[0])
    port.init(frames[0], gt[0])
    for f in frames[1:]:
        a, b = t.update(f), port.update(f)
        assert a.box == b.box
        assert abs(a.score - b.score) < 1e-4


def test_eval_track_adds_reference_rows(anchors, dev_cut, tmp_path):
    ds = dev_cut("visp_mire", 12)
    out = tmp_path / "eval"
    r = CliRunner().invoke(main, ["eval", "track", "--dataset", str(ds), "--trackers", "mosse", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "[anchors] reference rows nanotrack-v2" in r.output and "nanotrack-v3" in r.output
    assert r.output.count("(ref)") == 2   # the table's headers (the name and "(ref)" may wrap apart)
    res = json.loads((out / "results.json").read_text())
    assert list(res["trackers"]) == ["mosse", "nanotrack-v2", "nanotrack-v3"]
    assert "reference" not in res["trackers"]["mosse"]
    for name in NANOTRACK:
        row = res["trackers"][name]
        assert row["reference"]["engine"].startswith("OpenCV DNN")
        assert set(row["reference"]["sha256"]) == {"backbone.onnx", "head.onnx"}
        assert row["overall"]["auc"] > 0.5 and row["overall"]["fps"] > 0
        assert (out / row["sequences"]["visp_mire12"]["boxes"]).is_file()
    assert (out / "success.png").stat().st_size > 0


def test_eval_track_without_anchors(dev_cut, tmp_path, monkeypatch):
    """Absent folder: one line saying so and no rows; --anchors given explicitly: an error naming the folder;
    --no-anchors: no rows."""
    ds = dev_cut("visp_mire", 6)
    monkeypatch.setenv("EDGECV_ANCHORS", str(tmp_path / "nowhere"))
    base = ["eval", "track", "--dataset", str(ds), "--trackers", "mosse"]
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "[anchors] reference rows skipped: no anchor folder at" in r.output
    assert list(json.loads((tmp_path / "a" / "results.json").read_text())["trackers"]) == ["mosse"]
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "b"), "--anchors"])
    assert r.exit_code == 2 and "error: no anchor folder at" in r.output and "nowhere" in r.output
    monkeypatch.delenv("EDGECV_ANCHORS")
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "c"), "--no-anchors"])
    assert r.exit_code == 0 and "skipped: --no-anchors" in r.output
    assert list(json.loads((tmp_path / "c" / "results.json").read_text())["trackers"]) == ["mosse"]


def test_product_tracker_choices_stay_anchor_free(tmp_path):
    """`edgecv track --tracker` (and the registry) never offers the references."""
    assert not set(TrackerChoice().choices) & set(NANOTRACK)
    video = tmp_path / "x.avi"
    video.write_bytes(b"")
    r = CliRunner().invoke(main, ["track", str(video), "--init", "1,1,10,10", "--tracker", "nanotrack-v2"])
    assert r.exit_code == 2 and "'nanotrack-v2' is not one of" in r.output
