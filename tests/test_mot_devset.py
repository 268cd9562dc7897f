"""The multi-object tracking dev set (``datasets/mot-dev``, its README): MOTChallenge files that parse, boxes
that are plausible, the held-out rule, and (with ``edgecv fetch-data``'s vtest.avi) boxes that sit on the
moving people a static-camera background subtraction finds, with no large moving blob left without a box.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecv.data import HELDOUT_FRACTION, SCENE_VIDEOS
from edgecv.runtime.mot.motio import read_gt, read_seqinfo
from edgecv.runtime.samples import samples_dir

ROOT = Path(__file__).resolve().parents[1]
MOT = ROOT / "datasets" / "mot-dev"
SEQS = sorted(p for p in MOT.iterdir() if (p / "source.json").is_file())
VTEST_HELDOUT = 556      # round(0.7 * 795): vtest.avi's first held-out frame (checked against the video below)
FG_THRESH = 30           # as tools/annotate_dev.py: max-channel |frame - median background|


def _src(seq: Path) -> dict:
    return json.loads((seq / "source.json").read_text())


def _rows(seq: Path) -> np.ndarray:
    return np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)


def test_two_sequences():
    assert [p.name for p in SEQS] == ["vtest-a", "vtest-b"]


@pytest.mark.parametrize("seq", SEQS, ids=lambda p: p.name)
def test_files_parse_and_boxes_are_plausible(seq):
    src = _src(seq)
    info = read_seqinfo(seq / "seqinfo.ini")
    gt = read_gt(seq / "gt" / "gt.txt")          # raises on an id twice in one frame
    assert info["name"] == seq.name
    assert info["seq_length"] == src["end"] - src["start"] + 1
    assert (info["im_width"], info["im_height"]) == (768, 576)
    assert len(gt) > 0
    assert gt.frame.min() >= 1 and gt.frame.max() <= info["seq_length"]
    x, y, w, h = gt.xywh.T
    assert (x >= 0).all() and (y >= 0).all()
    assert (x + w <= info["im_width"]).all() and (y + h <= info["im_height"]).all()
    assert (w >= 8).all() and (h >= 25).all()     # a pedestrian is never a sliver
    pairs = set(zip(gt.frame.tolist(), gt.id.tolist()))
    assert len(pairs) == len(gt), "an id has two boxes in one frame"
    assert len(set(gt.id.tolist())) >= 4
    rows = _rows(seq)
    assert rows.shape[1] == 9
    assert (rows[:, 6] == 1).all() and (rows[:, 7] == 1).all()     # consider flag, class 1 = pedestrian
    assert ((rows[:, 8] >= 0) & (rows[:, 8] <= 1)).all()            # visibility
    # every frame of the clip has people; ids are listed in source.json with their key frames
    assert set(gt.frame.tolist()) == set(range(1, info["seq_length"] + 1))
    assert {str(i) for i in gt.id.tolist()} == set(src["ids"])
    assert {p.stem for p in (seq / "keyframes").glob("*.txt")} == set(src["ids"])


@pytest.mark.parametrize("seq", SEQS, ids=lambda p: p.name)
def test_held_out_frames_only(seq):
    src = _src(seq)
    assert src["video"] in SCENE_VIDEOS and src["video"] == "vtest.avi"
    assert VTEST_HELDOUT <= src["start"] <= src["end"] <= 794
    for kf in (seq / "keyframes").glob("*.txt"):
        for line in kf.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                frame = int(line.split(",")[0])
                assert VTEST_HELDOUT <= frame <= 794, f"{kf}: key frame {frame} is training data"


def _video() -> Path:
    path = samples_dir() / "vtest.avi"
    if not path.is_file():
        pytest.skip("vtest.avi not fetched (edgecv fetch-data)")
    return path


@pytest.fixture(scope="module")
def vtest():
    """Median background (every 8th frame), a sample of held-out frames (every 5th), the frame count."""
    cap = cv2.VideoCapture(str(_video()))
    sub, frames, n = [], {}, 0
    while cap.grab():
        if n % 8 == 0:
            sub.append(cap.retrieve()[1])
        if n >= VTEST_HELDOUT and n % 5 == 0:
            frames[n] = cap.retrieve()[1]
        n += 1
    cap.release()
    return np.median(np.stack(sub), axis=0).astype(np.uint8), frames, n


def _foreground(img, bg):
    m = (np.abs(img.astype(np.int16) - bg.astype(np.int16)).max(axis=2) > FG_THRESH).astype(np.uint8)
    return cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def test_held_out_start_matches_the_video(vtest):
    _, _, n = vtest
    assert int(round(n * (1 - HELDOUT_FRACTION))) == VTEST_HELDOUT


@pytest.mark.parametrize("seq", SEQS, ids=lambda p: p.name)
def test_boxes_sit_on_moving_people(seq, vtest):
    """On every 5th frame: each box is at least 20% foreground (people fill ~40-70% of their box; a box
    off its person is nearly all background), and every large foreground blob is mostly inside some box."""
    bg, frames, _ = vtest
    src, gt = _src(seq), read_gt(seq / "gt" / "gt.txt")
    checked = 0
    for f, img in frames.items():
        if not src["start"] <= f <= src["end"]:
            continue
        fg = _foreground(img, bg)
        boxes = gt.xywh[gt.frame == f - src["start"] + 1].astype(int)
        inside = np.zeros_like(fg)
        for x, y, w, h in boxes:
            frac = fg[y:y + h, x:x + w].mean()
            assert frac >= 0.2, f"{seq.name} frame {f}: box {x},{y},{w},{h} is only {frac:.0%} foreground"
            inside[y:y + h, x:x + w] = 1
            checked += 1
        n, lab, st, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        for k in range(1, n):
            if st[k, 4] >= 400:
                out = (inside[lab == k] == 0).mean()
                assert out <= 0.6, f"{seq.name} frame {f}: a moving blob at {st[k, :4].tolist()} has no box"
    assert checked >= 80
