"""The loop engine: its frame source (damaged frames skipped and reported, sizes made one), its atomic outputs
and the three loops on it — `edgecv track` goes past the unreadable frames of a damaged Megamind_bugy.avi,
and no loop accepts its input as its output. Torch-free and without artifacts: fast."""
from __future__ import annotations

import hashlib
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edgecv import data
from edgecv.cli import main
from edgecv.runtime import engine
from edgecv.runtime.colorize import colorize_video
from edgecv.runtime.errors import EdgeCVError
from edgecv.runtime.outputs import OutputError
from edgecv.runtime.propagate import propagate_video
from edgecv.runtime.track import MosseTracker, read_boxes, track_video


def _frames(n=6, size=(96, 64)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def _damaged_megamind(path):
    """A copy of Megamind_bugy.avi (MPEG-4 part 2) with three frames' compressed data zeroed: OpenCV's
    read() then fails in the middle of the file (and at its end, where the B-frame reordering runs dry)."""
    raw = bytearray((data.ensure_samples(verbose=False) / "Megamind_bugy.avi").read_bytes())
    movi, idx1 = raw.find(b"movi"), raw.find(b"idx1")
    chunks = [m.start() for m in re.finditer(b"00dc", raw) if movi < m.start() < idx1]
    assert len(chunks) == 270
    for k in (11, 41, 81):
        o = chunks[k]
        n = int.from_bytes(raw[o + 4:o + 8], "little")
        raw[o + 8:o + 8 + n] = bytes(n)
    path.write_bytes(bytes(raw))
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    failed = [i for i in range(total) if not cap.read()[0]]
    cap.release()
    return total, failed


def test_cli_track_goes_past_the_unreadable_frames_of_a_damaged_video(tmp_path):
    video = tmp_path / "Megamind_bugy_damaged.avi"
    total, failed = _damaged_megamind(video)
    assert total == 270 and any(i < total - 10 for i in failed), failed  # reads fail mid-file, not only at the end
    boxes, out = tmp_path / "boxes.txt", tmp_path / "tracked.mp4"
    r = CliRunner().invoke(main, ["track", str(video), "--init", "272,6,234,402", "--tracker", "mosse",
                                  "--boxes", str(boxes), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "270 frames" in r.output and f"{len(failed)} unreadable frames skipped" in r.output, r.output
    b, s = read_boxes(boxes)
    assert len(boxes.read_text().splitlines()) == 270 == len(b)           # one line per source frame
    assert [i for i in range(270) if np.isnan(s[i])] == failed             # skipped frames: score nan ...
    for i in failed:
        np.testing.assert_array_equal(b[i], b[i - 1])                      # ... and the last box kept
    assert np.isfinite(s[failed[0] + 1])                                   # tracking goes on after them
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT) == 270  # the previous image repeated


def test_the_three_loops_refuse_their_input_as_output(tmp_path):
    frames = _frames(4)
    video = tmp_path / "in.avi"
    wr = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for f in frames:
        wr.write(f)
    wr.release()
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    ref = np.zeros((64, 96, 3), np.uint8)
    ref[:, :48] = (0, 0, 255)
    ref[:, 48:] = (255, 0, 0)
    no_art = tmp_path / "no-artifacts"  # the check comes before any artifact is looked for
    with pytest.raises(OutputError, match="is the input"):
        track_video(MosseTracker(), video, (10, 10, 30, 30), out_video=video, progress=False)
    with pytest.raises(OutputError, match="is the input"):
        track_video(MosseTracker(), video, (10, 10, 30, 30), boxes_path=video, progress=False)
    with pytest.raises(OutputError, match="is the input"):
        propagate_video(video, out=video, key_interval=2, art_dir=no_art, progress=False)
    with pytest.raises(OutputError, match="is the input"):
        propagate_video(video, stats=video, key_interval=2, art_dir=no_art, progress=False)
    with pytest.raises(OutputError, match="is the input"):
        colorize_video(video, ref, video, art_dir=no_art, progress=False)
    assert hashlib.sha256(video.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avi"]
    r = CliRunner().invoke(main, ["track", str(video), "--init", "10,10,30,30", "--tracker", "mosse",
                                  "--out", str(video)])
    assert r.exit_code == 2 and "is the input" in r.output and r.output.count("\n") <= 2, r.output
    assert hashlib.sha256(video.read_bytes()).hexdigest() == digest


def test_source_skips_bad_frames_and_resizes_other_sizes():
    frames = _frames(6)
    frames[2] = None
    frames[3] = np.zeros((64, 96, 3), np.float32)           # not an image: skipped, not a crash
    frames[4] = cv2.resize(frames[5], (48, 32))             # another size: resized to frame 0's, said once
    src = engine.open_source(frames, max_frames=5)
    items = list(src.frames)
    assert [(i, f is None) for i, f, _ in items] == [(0, False), (1, False), (2, True), (3, True), (4, False)]
    assert "frame 2 is missing" in items[2].why and "dtype float32" in items[3].why
    assert items[4].frame.shape == (64, 96, 3) and "frame 4 is 48×32" in items[4].why and items[1].why == ""
    with pytest.raises(EdgeCVError, match="at least 1"):
        engine.open_source(frames, max_frames=0)
    with pytest.raises(EdgeCVError, match="gave no frames"):
        list(engine.open_source([None, None]).frames)


def test_run_keeps_or_drops_skipped_frames_and_commits_outputs_only_on_success(tmp_path):
    frames = _frames(5)
    frames[1] = None
    video, masks, stats = tmp_path / "o.mp4", tmp_path / "masks", tmp_path / "s.json"
    msgs = []
    outs = engine.Outputs(video, masks, {"--stats": stats})
    with outs:
        r = engine.run(engine.open_source(frames), lambda i, f, why: i, skip=lambda i, why: -1,
                       draw=lambda i, f, res: f, mask=lambda res: np.full((4, 4), res, np.uint8), outputs=outs,
                       progress=False, warn=msgs.append, on_skip="kept")
        outs.write("--stats", {"n": len(r.results)})
    assert r.results == [0, -1, 2, 3, 4] and r.indices == [0, 1, 2, 3, 4] and r.skipped == [1] and r.frames == 5
    assert msgs == ["frame 1 is missing (None); kept"]
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == 5
    assert sorted(p.name for p in masks.iterdir()) == ["000000.png", "000002.png", "000003.png", "000004.png"]
    assert stats.read_text() == '{\n "n": 5\n}\n'
    # a failing step leaves the earlier outputs as they were and no temp behind
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    def boom(i, f, why):
        if i == 3:
            raise RuntimeError("camera unplugged")
        return i

    outs = engine.Outputs(video, masks, {"--stats": stats})
    with pytest.raises(RuntimeError, match="unplugged"), outs:
        engine.run(engine.open_source(frames), boom, draw=lambda i, f, res: f,
                   mask=lambda res: np.zeros((4, 4), np.uint8), outputs=outs, progress=False, warn=msgs.append)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_track_video_gives_what_a_plain_opencv_loop_gives(tmp_path):
    """The engine adds nothing to a clean video: the same frames reach the tracker as in a bare read loop."""
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    frames = [np.roll(scene, (i, 2 * i), axis=(0, 1)) for i in range(12)]
    video = tmp_path / "pan.avi"
    wr = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for f in frames:
        wr.write(f)
    wr.release()
    init = (40, 30, 32, 32)
    res = track_video(MosseTracker(), video, init, boxes_path=tmp_path / "b.txt", progress=False)
    cap, trk, plain = cv2.VideoCapture(str(video)), MosseTracker(), []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        plain.append((trk.update(f) if plain else trk.init(f, init)).box)
    assert [r.box for r in res] == plain and res.skipped == []
    np.testing.assert_allclose(read_boxes(tmp_path / "b.txt")[0], plain, atol=5e-4)


def test_the_runtime_does_not_use_tqdm():
    from pathlib import Path

    root = Path(engine.__file__).parent
    assert not [p for p in root.rglob("*.py") if "tqdm" in p.read_text()]
