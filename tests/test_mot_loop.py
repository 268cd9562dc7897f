"""Multi-object tracking on video (issue 26): the person detector through the bundle contract, the loop on the
engine (`mot_video`), `edgecv mot` and `edgecv eval mot --detector`.

The real-model tests run the shipped `persondet-lite0` weights, exported once per session (ORT fp32), on 30
held-out frames of vtest.avi (`datasets/mot-dev/vtest-a`: video frames 560–589, with their groundtruth). The
loop's own rules (a damaged frame is a predict-only step, ids, colours, outputs) are also checked with a
scripted detector, fast and without artifacts."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edgecv.cli import main
from edgecv.runtime.mot import (
    Detections,
    MotError,
    MultiTracker,
    PersonDetector,
    get_params,
    id_color,
    iou_matrix,
    mot_video,
    read_gt,
    read_mot,
)
from edgecv.runtime.samples import samples_dir

REPO = Path(__file__).resolve().parents[1]
SEQ = REPO / "datasets" / "mot-dev" / "vtest-a"
N_FRAMES = 30
WEIGHTS = REPO / "edgecv" / "weights" / "persondet-lite0.pt"


# ---- material ---------------------------------------------------------------------------------------------------

def _vtest_frames(n: int = N_FRAMES) -> list[np.ndarray]:
    """Video frames start..start+n-1 of vtest-a (held out: the last 30% of vtest.avi)."""
    video = samples_dir() / "vtest.avi"
    if not video.is_file():
        pytest.skip("vtest.avi not fetched (edgecv fetch-data)")
    start = json.loads((SEQ / "source.json").read_text())["start"]
    cap = cv2.VideoCapture(str(video))
    out, i = [], 0
    while len(out) < n:
        ok, f = cap.read()
        assert ok, f"vtest.avi ended at frame {i}"
        if i >= start:
            out.append(f)
        i += 1
    cap.release()
    return out


def _write_avi(path: Path, frames, damage=()) -> Path:
    """An MJPG AVI of ``frames``; the compressed data of each frame in ``damage`` zeroed, so OpenCV's read()
    fails on exactly those frames in the middle of the file (the engine's docstring)."""
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for f in frames:
        wr.write(f)
    wr.release()
    if damage:
        raw = bytearray(path.read_bytes())
        movi, idx1 = raw.find(b"movi"), raw.find(b"idx1")
        chunks = [m.start() for m in re.finditer(b"00dc", raw) if movi < m.start() < idx1]
        assert len(chunks) == len(frames)
        for k in damage:
            o = chunks[k]
            n = int.from_bytes(raw[o + 4:o + 8], "little")
            raw[o + 8:o + 8 + n] = bytes(n)
        path.write_bytes(bytes(raw))
    return path


@pytest.fixture(scope="module")
def frames():
    return _vtest_frames()


@pytest.fixture(scope="module")
def clip(frames, tmp_path_factory):
    return _write_avi(tmp_path_factory.mktemp("mot-clip") / "vtest-a-30.avi", frames)


@pytest.fixture(scope="module")
def gt():
    t = read_gt(SEQ / "gt" / "gt.txt")
    return t.select(t.frame <= N_FRAMES)


@pytest.fixture(scope="session")
def det_onnx(exported):
    """The shipped persondet-lite0, exported to ONNX fp32 once per session."""
    assert WEIGHTS.is_file(), f"shipped weights {WEIGHTS} missing (`edgecv train persondet-lite0`)"
    return exported("persondet-lite0", "onnx", "fp32")


class ScriptedDetector:
    """Boxes from the frame itself: pixel (0, 0, 0) holds the frame number; two people walk right 4 px a frame."""

    path = None

    def __init__(self):
        self.calls = 0

    def __call__(self, frame):
        self.calls += 1
        k = int(frame[0, 0, 0])
        boxes = np.array([[20 + 4 * k, 30, 60 + 4 * k, 130], [200 + 4 * k, 40, 240 + 4 * k, 140]], np.float64)
        emb = np.eye(2, 8)
        return Detections(boxes, np.array([0.9, 0.8], np.float32), emb)


def _scripted_frames(n, missing=()):
    out = []
    for k in range(n):
        f = np.full((240, 400, 3), 40, np.uint8)
        f[0, 0, 0] = k
        out.append(None if k in missing else f)
    return out


def _video_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _check_tracks_file(path: Path, n_frames: int):
    """Well-formed MOTChallenge tracks: 10 columns, 1-based frames in range, positive ids and sizes, -1 in the
    3-D columns, one row per id and frame, rows in frame order."""
    lines = path.read_text().splitlines()
    for ln in lines:
        cells = ln.split(",")
        assert len(cells) == 10 and cells[7:] == ["-1", "-1", "-1"], ln
    t = read_mot(path)
    assert len(t) == len(lines)
    assert (t.frame >= 1).all() and (t.frame <= n_frames).all() and (t.id >= 1).all()
    assert (t.xywh[:, 2:] > 0).all() and ((t.conf > 0) & (t.conf <= 1)).all()
    assert (np.diff(t.frame) >= 0).all()
    pairs = list(zip(t.frame.tolist(), t.id.tolist()))
    assert len(set(pairs)) == len(pairs), "an id appears twice in one frame"
    return t


# ---- the loop's rules, with a scripted detector (no artifacts) ----------------------------------------------------

def test_a_damaged_frame_is_a_predict_only_step(tmp_path):
    tracks, video, stats = tmp_path / "t.txt", tmp_path / "v.mp4", tmp_path / "s.json"
    det = ScriptedDetector()
    warned = []
    r = mot_video(_scripted_frames(20, missing={8}), det, "sort", video, tracks, stats, progress=False,
                  warn=warned.append)
    t = _check_tracks_file(tracks, 20)
    assert det.calls == 19 and len(warned) == 1 and "frame 8" in warned[0]
    assert 9 not in set(t.frame.tolist())                      # nothing reported on the unreadable frame ...
    assert set(t.id.tolist()) == {1, 2}                        # ... and both ids carry on after it (SORT's
    assert {10, 11} <= set(t.frame.tolist())                   # max_age 1: one coasting frame is allowed)
    assert r.stats["frames"] == 20 and r.stats["skipped"] == 1 and r.stats["skipped_indices"] == [8]
    assert r.stats["tracks"] == 2 and json.loads(stats.read_text())["tracks"] == 2
    assert _video_frames(video) == 20                          # the previous image repeated for frame 8
    # two unreadable frames in a row age SORT's tracks past max_age = 1: the tracker saw those frames pass
    r2 = mot_video(_scripted_frames(20, missing={8, 9}), ScriptedDetector(), "sort", progress=False,
                   warn=lambda m: None)
    after = r2.tracks.select(r2.tracks.frame > 10)
    assert set(after.id.tolist()) == {3, 4}, sorted(set(r2.tracks.id.tolist()))
    # ByteTrack keeps lost tracks 30 frames: the same two ids all the way
    r3 = mot_video(_scripted_frames(20, missing={8, 9}), ScriptedDetector(), "bytetrack", progress=False,
                   warn=lambda m: None)
    assert set(r3.tracks.id.tolist()) == {1, 2}


def test_ids_keep_their_colour_and_colours_differ():
    assert id_color(7) == id_color(7)
    cols = [np.array(id_color(i), float) for i in range(1, 13)]
    d = min(np.abs(a - b).max() for i, a in enumerate(cols) for b in cols[i + 1:])
    assert d >= 25, d                                                  # twelve ids, twelve distinct colours


def test_loop_refuses_its_input_as_output_and_leaves_nothing(tmp_path):
    video = _write_avi(tmp_path / "in.avi", [f for f in _scripted_frames(4)])
    before = _digest(tmp_path)
    from edgecv.runtime.outputs import OutputError

    with pytest.raises(OutputError, match="is the input"):
        mot_video(video, ScriptedDetector(), tracks_path=video, progress=False)

    def boom(frame):
        raise MotError("detector failed")

    with pytest.raises(MotError, match="detector failed"):
        mot_video(video, boom, out_video=tmp_path / "o.mp4", tracks_path=tmp_path / "t.txt",
                  stats_path=tmp_path / "s.json", progress=False)
    assert _digest(tmp_path) == before                                 # nothing half-written, input unchanged


# ---- the bundle contract ------------------------------------------------------------------------------------------

def test_detector_refuses_other_artifacts_naming_what_they_are(exported, tmp_path):
    template = next(p for p in exported("siamfc", "onnx", "fp32") if "template" in p.name)
    with pytest.raises(MotError, match=r"not a person detector artifact: it is the 'template' graph of the "
                                       r"'siamfc' tracker"):
        PersonDetector(template)
    classifier = exported("mnv2-dcn", "onnx", "fp32")
    with pytest.raises(MotError, match="not a person detector artifact: it is the single-graph model 'mnv2-dcn'"):
        PersonDetector(classifier)
    bare = tmp_path / "bare.onnx"
    shutil.copy(classifier, bare)
    with pytest.raises(MotError, match="no manifest bare.onnx.json beside it"):
        PersonDetector(bare)


def test_detector_manifest_is_typed(det_onnx):
    from edgecv.runtime.bundle import PIPELINES, find_bundle
    from edgecv.runtime.manifest import DetectInfo, info_type, read_manifest

    info = read_manifest(det_onnx)["model_info"]
    assert info_type(info) is DetectInfo is PIPELINES["detect"].info
    b = find_bundle("detect", det_onnx.parent)
    assert b.model == "persondet-lite0" and b.paths[""] == det_onnx and b.infos[""].grid_size == [36, 48]
    d = PersonDetector(det_onnx, "ort", threads=1)
    assert d.describe()["sha256"] == hashlib.sha256(det_onnx.read_bytes()).hexdigest()


# ---- the shipped detector on held-out vtest.avi -----------------------------------------------------------------

def _gt_tracks_agreement(gt, t):
    """Per groundtruth person: frames it is matched by a track (IoU >= 0.5, one-to-one per frame) and the id
    that covers most of them."""
    from edgecv.runtime.mot import linear_assignment

    matched: dict[int, list[int]] = {}
    g_rows, t_rows = gt.by_frame(), t.by_frame()
    for f, gi in g_rows.items():
        ti = t_rows.get(f, np.zeros(0, np.int64))
        if not len(ti):
            continue
        iou = iou_matrix(gt.xyxy[gi], t.xyxy[ti])
        m = linear_assignment(1.0 - iou, 0.5)
        for r, c in m.matches:
            matched.setdefault(int(gt.id[gi[r]]), []).append(int(t.id[ti[c]]))
    return matched


def test_cli_mot_on_heldout_vtest_gives_stable_ids(det_onnx, clip, gt, tmp_path):
    tracks, video, stats = tmp_path / "tracks.txt", tmp_path / "mot.mp4", tmp_path / "stats.json"
    r = CliRunner().invoke(main, ["mot", str(clip), "--model", str(det_onnx), "--backend", "ort", "--threads", "2",
                                  "--variant", "bytetrack", "--out", str(video), "--tracks", str(tracks),
                                  "--stats", str(stats)])
    assert r.exit_code == 0, r.output
    assert f"mot bytetrack: {N_FRAMES} frames (0 unreadable, skipped)" in r.output, r.output
    t = _check_tracks_file(tracks, N_FRAMES)
    s = json.loads(stats.read_text())
    assert s["frames"] == N_FRAMES and s["skipped"] == 0 and s["backend"] == "ort" and s["precision"] == "fp32"
    assert s["sha256"] == hashlib.sha256(det_onnx.read_bytes()).hexdigest()
    assert s["ms_detector"]["median"] > 0 and s["ms_association"]["median"] > 0
    assert _video_frames(video) == N_FRAMES
    # ids: not many more than there are people (7 here; the shipped weights give 7 ids), and they last
    people = max(Counter(gt.frame.tolist()).values())
    ids = Counter(t.id.tolist())
    assert 0 < len(ids) <= 2 * people, (len(ids), people)
    assert sum(n >= 5 for n in ids.values()) >= 0.75 * len(ids), ids
    # the same person keeps one id while the detector sees them (shipped weights: all 7 people matched in
    # 11-30 frames each, every one by a single id)
    matched = _gt_tracks_agreement(gt, t)
    seen = {g: ids_ for g, ids_ in matched.items() if len(ids_) >= 10}
    assert len(seen) >= people - 2, matched
    for g, ids_ in seen.items():
        top = Counter(ids_).most_common(1)[0][1]
        assert top >= 0.8 * len(ids_), (g, ids_)


def test_cli_mot_goes_past_unreadable_frames(det_onnx, frames, tmp_path):
    video = _write_avi(tmp_path / "damaged.avi", frames[:16], damage=(6, 7))
    tracks, out = tmp_path / "tracks.txt", tmp_path / "mot.mp4"
    r = CliRunner().invoke(main, ["mot", str(video), "--model", str(det_onnx), "--threads", "2",
                                  "--tracks", str(tracks), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "16 frames (2 unreadable, skipped)" in r.output and "frame 6 could not be decoded" in r.output, r.output
    t = _check_tracks_file(tracks, 16)
    assert not ({7, 8} & set(t.frame.tolist()))                       # MOT frames 7, 8 = source frames 6, 7
    assert {9, 16} <= set(t.frame.tolist())                           # tracking goes on after them
    assert _video_frames(out) == 16


@pytest.mark.parametrize("case", ["empty", "not-a-video", "other-model", "no-manifest", "tracker-part",
                                  "missing-artifact", "variant", "tracker-name"])
def test_cli_mot_bad_input_exit_2_one_line_nothing_left(case, det_onnx, exported, clip, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    video, model, extra = clip, str(det_onnx), []
    needle = {"empty": "empty", "not-a-video": "cannot open video", "other-model": "not a person detector artifact",
              "no-manifest": "no manifest", "tracker-part": "'template' graph of the 'siamfc' tracker",
              "missing-artifact": "does not exist", "variant": "unknown MOT variant 'kcf'",
              "tracker-name": "--model siamfc: not a person detector (siamfc exports tracker graphs)"}[case]
    if case == "empty":
        video = tmp_path / "empty.avi"
        video.write_bytes(b"")
    elif case == "not-a-video":
        video = tmp_path / "notes.avi"
        video.write_text("not a video\n")
    elif case == "other-model":
        model = str(exported("mnv2-dcn", "onnx", "fp32"))
    elif case == "no-manifest":
        model = str(tmp_path / "detector.onnx")
        shutil.copy(det_onnx, model)
    elif case == "tracker-part":
        model = str(next(p for p in exported("siamfc", "onnx", "fp32") if "template" in p.name))
    elif case == "missing-artifact":
        model = str(tmp_path / "nowhere.onnx")
    elif case == "variant":
        extra = ["--variant", "kcf"]
    elif case == "tracker-name":                 # refused before anything is exported into --artifacts
        model, extra = "siamfc", ["--artifacts", str(out / "arts")]
    inputs = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (video, model) if Path(p).is_file()}
    r = CliRunner().invoke(main, ["mot", str(video), "--model", model, "--out", str(out / "mot.mp4"),
                                  "--tracks", str(out / "tracks.txt"), "--stats", str(out / "stats.json"), *extra])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert list(out.iterdir()) == []                                   # nothing written, not even a temp file
    assert all(hashlib.sha256(Path(p).read_bytes()).hexdigest() == h for p, h in inputs.items())


def test_cli_mot_exports_a_missing_detector(clip, tmp_path):
    arts = tmp_path / "arts"
    r = CliRunner().invoke(main, ["mot", str(clip), "--artifacts", str(arts), "--max-frames", "3", "--threads", "2",
                                  "--tracks", str(tmp_path / "t.txt")])
    assert r.exit_code == 0, r.output
    assert "artifact not in" in r.output and "exporting it now" in r.output, r.output
    assert (arts / "persondet-lite0-standard-fp32.onnx").is_file() and "mot bytetrack: 3 frames" in r.output


def test_litert_runs_the_detector_like_ort(det_onnx, exported, frames):
    if importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tflite_runtime") is None:
        pytest.skip("no LiteRT runtime installed (ai-edge-litert or tflite_runtime)")
    if importlib.util.find_spec("litert_torch") is None:
        pytest.skip("exporting TFLite needs litert-torch (edgecv[export])")
    tfl = exported("persondet-lite0", "tflite", "fp32")
    a, b = PersonDetector(det_onnx, "ort", threads=2), PersonDetector(tfl, "litert", threads=2)
    assert b.backend == "litert"
    for f in frames[:3]:
        da, db = a(f), b(f)
        assert len(da) == len(db) > 0
        np.testing.assert_allclose(db.boxes, da.boxes, atol=0.5)
        np.testing.assert_allclose(db.embeddings, da.embeddings, atol=1e-3)
    ra = mot_video(frames[:10], a, "bytetrack", progress=False)
    rb = mot_video(frames[:10], b, "bytetrack", progress=False)
    assert rb.stats["backend"] == "litert" and len(ra.tracks) == len(rb.tracks) > 0
    np.testing.assert_array_equal(ra.tracks.id, rb.tracks.id)


# ---- eval mot --detector -------------------------------------------------------------------------------------------

def test_eval_mot_with_the_detector_writes_detections_into_out_only(det_onnx, tmp_path):
    ds = tmp_path / "ds" / "vtest-a30"
    (ds / "gt").mkdir(parents=True)
    src = json.loads((SEQ / "source.json").read_text())
    (ds / "source.json").write_text(json.dumps({"video": src["video"], "start": src["start"]}))
    (ds / "seqinfo.ini").write_text(f"[Sequence]\nname=vtest-a30\nseqLength={N_FRAMES}\n")
    rows = [ln for ln in (SEQ / "gt" / "gt.txt").read_text().splitlines() if int(ln.split(",")[0]) <= N_FRAMES]
    (ds / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    _vtest_frames(1)                                                    # skips when vtest.avi is not fetched
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in ds.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["eval", "mot", "--dataset", str(ds.parent), "--detector", str(det_onnx),
                                  "--threads", "2", "--variants", "sort,bytetrack", "--out", str(out)])
    assert r.exit_code == 0, r.output
    det = out / "detections" / "vtest-a30" / "det" / "det.txt"
    d = read_mot(det, embeddings=True)
    assert d.embedding is not None and d.embedding.shape[1] == 32 and d.last_frame <= N_FRAMES
    assert not (ds / "det").exists()
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in ds.rglob("*") if p.is_file()} == before
    res = json.loads((out / "results.json").read_text())
    assert res["detector"]["model"] == "persondet-lite0" and res["detections"] == str(out / "detections")
    ap = res["detection_ap"]["OVERALL"]
    assert ap is not None and 0.3 < ap <= 1.0, ap
    assert res["variants"]["bytetrack"]["overall"]["mota"] is not None
    assert "Detection AP@0.5 of det.txt (persondet-lite0, ort fp32)" in r.output


def test_multitracker_sees_no_box_on_a_predict_only_step():
    mt = MultiTracker(get_params("bytetrack"))
    box = np.array([[10, 10, 50, 100.0]])
    for _ in range(3):
        mt.update(box, [0.9])
    assert mt.update(np.zeros((0, 4)), np.zeros(0)) == []
    assert [t.id for t in mt.update(box + 2, [0.9])] == [1]
