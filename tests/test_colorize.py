"""Exemplar-based video colorization: Lab conventions, the model and its exact-flow training data, the
global-transfer baseline, the torch-free loop on real video (bad input included) and the CLI. The graphs
are exported once per session from the shipped ``excolor`` weights."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edgecv import data
from edgecv.cli import main
from edgecv.eval import colorize as ev
from edgecv.runtime import ArtifactError
from edgecv.runtime.colorize import ColorizeError, Colorizer, check_artifacts, colorize_video
from edgecv.runtime.colorize import lab as labc
from edgecv.runtime.manifest import seal_manifest


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def tree_clip():
    """12 held-out colour frames of tree.avi (the last 30% of its 68 decodable frames) at 320×240."""
    frames = data.video_part("tree.avi", "heldout")
    assert len(frames) >= 12
    return frames[:12]


@pytest.fixture(scope="module")
def color_arts(exported):
    return exported("excolor", "onnx", "fp32")  # ref, frame-320x240, frame-640x480


def _write_video(path, frames, fps=15.0):
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        wr.write(f)
    wr.release()
    return path


# ---- conventions, model, data -----------------------------------------------------------------------------

def test_lab_round_trip_keeps_real_colours(tree_clip):
    """L at full size + ab at half size (chroma subsampling) gives the real frame back almost exactly."""
    f = tree_clip[0]
    lab = labc.bgr_to_lab(f)
    ab_half = cv2.resize(labc.normalize_ab(lab[..., 1:]), (f.shape[1] // 2, f.shape[0] // 2),
                         interpolation=cv2.INTER_AREA)
    back = labc.merge(lab[..., 0], ab_half)
    assert psnr(back, f) > 33
    # the runtime's fast form: the grey frame as luma, the colour as chroma formed at the ab size
    grey = labc.grey_u8(f)
    assert psnr(labc.merge_luma(grey, ab_half), f) > 33
    assert np.abs(labc.grey_to_l(grey) - labc.gray_l(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))).max() < 1e-4
    assert (cv2.cvtColor(labc.merge_luma(grey, ab_half), cv2.COLOR_BGR2GRAY).astype(int) - grey).std() < 1.5
    assert labc.chroma(f) > 5 and labc.chroma(cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY),
                                                            cv2.COLOR_GRAY2BGR)) < 0.5


def test_model_geometry_and_size_check():
    from edgecv.models import create_model
    from edgecv.models.colorizer import FEAT, GRID_H, GRID_W, pool_to_reference

    m = create_model("excolor", pretrained=False)
    parts = m.export_parts()
    assert set(parts) == {"ref", "frame-320x240", "frame-640x480"}
    with torch.no_grad():
        feat, ab = parts["ref"](torch.zeros(1, 3, 240, 320))
        assert feat.shape == (1, FEAT, GRID_H, GRID_W) and ab.shape == (1, 2, GRID_H, GRID_W)
        assert torch.allclose(feat.norm(dim=1), torch.ones(1, GRID_H, GRID_W), atol=1e-3)  # unit features
        out, conf = parts["frame-640x480"](torch.zeros(1, 1, 480, 640), feat, ab, torch.zeros(1, 2, 240, 320))
        assert out.shape == (1, 2, 240, 320) and conf.shape == (1, 1, GRID_H, GRID_W)
    with pytest.raises(ValueError, match="not an integer multiple"):
        pool_to_reference(torch.zeros(1, 1, 480, 600))


def test_photo_sequences_have_exact_flow():
    """The synthetic camera paths over real photos carry exact flow: warping frame t−1 by it gives frame t."""
    from edgecv.train.colorize import SequenceSampler, warp

    s = SequenceSampler("heldout", seed=3, videos=())
    for _ in range(3):
        seq, _, flows = s._photo()
        prev = torch.from_numpy(seq[0].transpose(2, 0, 1)[None].astype(np.float32))
        fl = torch.from_numpy(flows[1].transpose(2, 0, 1)[None])
        warped, inside = warp(prev, fl)
        err = (warped[0].numpy().transpose(1, 2, 0) - seq[1]).__abs__().mean(-1)
        zero = np.abs(seq[0].astype(np.float32) - seq[1]).mean(-1)
        m = inside[0, 0].numpy() > 0
        m[:8], m[-8:], m[:, :8], m[:, -8:] = False, False, False, False
        assert err[m].mean() < 0.35 * zero[m].mean() and err[m].mean() < 6.0


def test_training_smoke_few_steps():
    """Three optimiser steps of the recipe's loss on real sequences: finite, and the model changes."""
    from edgecv.models import create_model
    from edgecv.train.colorize import CROP, SequenceSampler, sequence_loss

    torch.manual_seed(0)
    m = create_model("excolor", pretrained=False)
    s = SequenceSampler("train", seed=0, videos=("tree.avi",))
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    before = m.color.out.weight.detach().clone()
    rng = np.random.default_rng(0)
    for _ in range(3):
        loss, parts = sequence_loss(m, *s.batch(2, CROP), rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss) and parts["l1"] > 0 and "temporal" in parts
    assert not torch.equal(before, m.color.out.weight)


def test_global_transfer_baseline(tree_clip):
    """The baseline keeps the frame's L and brings the reference's colours (closer to the truth than grey)."""
    f, ref = tree_clip[5], tree_clip[0]
    grey = cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = ev.global_transfer(grey, ref)
    assert np.abs(labc.gray_l(out) - labc.gray_l(grey)).mean() < 1.5
    assert psnr(out, f) > psnr(grey, f)
    assert labc.chroma(out) > 3


# ---- the runtime loop ---------------------------------------------------------------------------------------

def test_bundle_checks(color_arts, tmp_path):
    ref, f320, f640 = color_arts
    arts = check_artifacts(ref, f320)
    assert arts.size == (320, 240) and arts.ab_size == (160, 120) and arts.model == "excolor"
    with pytest.raises(ArtifactError, match="graph was expected"):
        check_artifacts(f320, ref)
    # a frame graph whose match grid differs from the reference graph's is refused, naming the field
    bad = tmp_path / f320.name
    bad.write_bytes(f320.read_bytes())
    man = json.loads(Path(str(f320) + ".json").read_text())
    man["model_info"]["match_grid"] = [15, 20]
    Path(str(bad) + ".json").write_text(json.dumps(seal_manifest(man)))  # a genuine export of another model
    with pytest.raises(ArtifactError, match="match_grid"):
        check_artifacts(ref, bad)


@pytest.mark.trained_weights
def test_colorizes_real_heldout_video_better_than_global_transfer(color_arts, tree_clip):
    """On held-out tree.avi frames made grey, with the clip's first frame as reference, the shipped model
    is closer to the true colours than the global-transfer baseline, and steadier without jumps."""
    col = Colorizer(check_artifacts(*color_arts[:2]), "ort", threads=1)
    col.set_reference(tree_clip[0])
    outs = [col.step(cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR))[0]
            for f in tree_clip]
    base = [ev.global_transfer(f, tree_clip[0]) for f in tree_clip]
    ours = np.mean([psnr(o, f) for o, f in zip(outs, tree_clip)])
    theirs = np.mean([psnr(o, f) for o, f in zip(base, tree_clip)])
    assert ours > theirs + 1.0, (ours, theirs)
    assert all(o.shape == f.shape for o, f in zip(outs, tree_clip))


def test_colorize_video_writes_one_frame_per_input(color_arts, tree_clip, tmp_path):
    """A colour video is made grey first; the output has the input's frame count, size and frame rate."""
    src = _write_video(tmp_path / "in.avi", tree_clip[:6], fps=12.0)
    out = tmp_path / "out.mp4"
    res = colorize_video(src, tree_clip[0], out, art_dir=color_arts[0].parent, threads=1, progress=False)
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert n == 6 and res["frames"] == 6 and res["colorized"] == 6
    assert abs(cap.get(cv2.CAP_PROP_FPS) - 12.0) < 0.01
    ok, f = cap.read()
    assert ok and f.shape == tree_clip[0].shape
    assert not list(tmp_path.glob(".*tmp*"))
    # a one-frame video works too
    one = _write_video(tmp_path / "one.avi", tree_clip[:1])
    res = colorize_video(one, tree_clip[0], tmp_path / "one.mp4", art_dir=color_arts[0].parent, progress=False)
    assert res["frames"] == 1 and (tmp_path / "one.mp4").is_file()


def test_bad_input_is_named_and_nothing_half_written(color_arts, tree_clip, tmp_path):
    art = color_arts[0].parent
    src = _write_video(tmp_path / "in.avi", tree_clip[:3])
    grey_ref = cv2.cvtColor(tree_clip[0], cv2.COLOR_BGR2GRAY)
    out = tmp_path / "out.mp4"
    with pytest.raises(ColorizeError, match="grayscale.*no colours to transfer"):
        colorize_video(src, grey_ref, out, art_dir=art, progress=False)
    (tmp_path / "junk.avi").write_bytes(b"not a video at all" * 100)
    with pytest.raises(ColorizeError, match="junk.avi"):
        colorize_video(tmp_path / "junk.avi", tree_clip[0], out, art_dir=art, progress=False)
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(ColorizeError, match="empty"):
        colorize_video(tmp_path / "empty.avi", tree_clip[0], out, art_dir=art, progress=False)
    with pytest.raises(ColorizeError, match="no_such.png does not exist"):
        colorize_video(src, tmp_path / "no_such.png", out, art_dir=art, progress=False)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ColorizeError, match="cannot read reference image .*bad.png"):
        colorize_video(src, tmp_path / "bad.png", out, art_dir=art, progress=False)
    with pytest.raises(FileNotFoundError, match="sizes exported there: 320x240, 640x480"):
        colorize_video(src, tree_clip[0], out, size="800x600", art_dir=art, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))
    # a reference of a very different shape works, with a warning that says so
    warnings = []
    wide = cv2.resize(tree_clip[0], (1280, 200))
    colorize_video(src, wide, out, art_dir=art, progress=False, warn=warnings.append)
    assert out.is_file() and any("very different" in w for w in warnings)


def test_cli_colorize_and_errors(color_arts, tree_clip, tmp_path):
    art = str(color_arts[0].parent)
    src = _write_video(tmp_path / "in.avi", tree_clip[:4])
    ref = tmp_path / "ref.png"
    cv2.imwrite(str(ref), tree_clip[0])
    r = CliRunner().invoke(main, ["colorize", str(src), "--ref", str(ref), "--out", str(tmp_path / "o.mp4"),
                                  "--artifacts", art, "--threads", "1", "--stats", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "s.json").read_text())["frames"] == 4
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), cv2.cvtColor(tree_clip[0], cv2.COLOR_BGR2GRAY))
    r = CliRunner().invoke(main, ["colorize", str(src), "--ref", str(grey), "--out", str(tmp_path / "g.mp4"),
                                  "--artifacts", art])
    assert r.exit_code == 2 and "grayscale" in r.output and not (tmp_path / "g.mp4").exists()
    r = CliRunner().invoke(main, ["colorize", str(tmp_path / "missing.avi"), "--ref", str(ref), "--out",
                                  str(tmp_path / "m.mp4"), "--artifacts", art])
    assert r.exit_code == 2 and "missing.avi does not exist" in r.output
