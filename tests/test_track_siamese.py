"""Siamese trackers: shipped weights, exported graphs, the torch-free loop, lost state, CLI errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edgecv import data
from edgecv.cli import main
from edgecv.models import create_model
from edgecv.models.siamese import SCORE, STRIDE, to_input
from edgecv.runtime.track import TrackError, TrackResult, iou
from edgecv.runtime.track.crop import affine_crop, crop_side
from edgecv.runtime.track.registry import default_params
from edgecv.runtime.track.siamese_base import SiameseNet
from edgecv.runtime.track.siamfc import SiamFCTracker
from edgecv.runtime.track.spm import SPMTracker

from .views import panned


def spm_values(**overrides):
    """The values SPMTracker runs the SPM graphs with (spm-nano's, a retired variant kept for its graphs)."""
    from edgecv.runtime.track.registry import graph_params

    return graph_params("spm", "spm-nano", **overrides)


@pytest.fixture(scope="module")
def heldout_frames():
    return data.video_part("vtest.avi", "heldout", step=1)


# A pedestrian in the held-out part of vtest.avi, from the committed dev set (first frame of its sequence).
def _dev_target(name="vtest_woman"):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / name
    src = json.loads((root / "source.json").read_text())
    gt = np.loadtxt(root / "groundtruth_rect.txt", delimiter=",")
    return src, gt


def test_score_peak_follows_a_known_shift(heldout_frames):
    """On real held-out frames, moving the search crop by (dx, dy) moves the score peak by −(dx, dy)/8."""
    model = create_model("siamfc")
    src, gt = _dev_target()
    frame = heldout_frames[src["start"] - int(round(795 * 0.7))]
    x, y, w, h = gt[0]
    cx, cy = x + w / 2, y + h / 2
    sz = crop_side(w, h)
    z, _ = affine_crop(frame, cx, cy, sz, 127)
    hits = 0
    shifts = [(0, 0), (24, 0), (0, -24), (-32, 16), (16, 32)]
    with torch.no_grad():
        zf = model.template(to_input(z))[0]
        for dx, dy in shifts:  # dx, dy in search-crop pixels
            k = sz * 255 / 127 / 255
            xc, _ = affine_crop(frame, cx - dx * k, cy - dy * k, sz * 255 / 127, 255)
            score = model.search(to_input(xc), zf)[0][0, 0].numpy()
            i, j = np.unravel_index(score.argmax(), score.shape)
            c = (SCORE - 1) // 2
            hits += abs((j - c) * STRIDE - dx) <= STRIDE and abs((i - c) * STRIDE - dy) <= STRIDE
    assert hits >= 4, f"peak followed only {hits}/5 shifts"


@pytest.fixture(scope="module")
def siamfc_net(exported):
    t, s = exported("siamfc", "onnx", "fp32")
    return SiameseNet(t, s, "siamfc", threads=1)


def test_siamfc_runtime_tracks_a_real_pedestrian(siamfc_net):
    """The torch-free loop on a real dev sequence (the first 60 frames): mean IoU well above chance."""
    from pathlib import Path

    from edgecv.runtime.track import load_sequence
    seq = load_sequence(Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / "vtest_woman")
    frames = seq.load_frames()[:60]
    trk = SiamFCTracker(siamfc_net)
    trk.init(frames[0], seq.groundtruth[0])
    ious = [iou(trk.update(f).box, g) for f, g in zip(frames[1:], seq.groundtruth[1:60])]
    assert np.mean(ious) > 0.5, f"mean IoU {np.mean(ious):.2f}"


def test_lost_when_target_leaves_the_frame(siamfc_net):
    """A pan over real frames carries the target out of view: the tracker must say lost, and stay lost."""
    frames = data.video_part("vtest.avi", "heldout", step=1)
    src, gt = _dev_target()
    start = src["start"] - int(round(795 * 0.7))
    views, truth = panned(frames, tuple(gt[0]), start, 40, 14)
    trk = SiamFCTracker(siamfc_net)
    trk.init(views[0], truth[0])
    res = [trk.update(v) for v in views[1:]]
    inside = [r for r, b in zip(res, truth[1:]) if b[0] > 10]
    outside = [r for r, b in zip(res, truth[1:]) if b[0] + b[2] < -20]
    assert inside and outside
    assert sum(r.lost for r in inside) <= len(inside) // 4, [round(r.score, 2) for r in inside]
    assert np.mean([r.lost for r in outside]) >= 0.8, [round(r.score, 2) for r in outside]


def _follow_dev_pedestrian(trk, n=20):
    """Run ``trk`` over the first ``n`` frames of the vtest_woman dev sequence: (results, groundtruth)."""
    frames = data.video_part("vtest.avi", "heldout", step=1)
    src, gt = _dev_target()
    start = src["start"] - int(round(795 * 0.7))
    trk.init(frames[start], gt[0])
    return [trk.update(frames[start + k]) for k in range(1, n)], gt[1:n]


def test_spm_coarse_to_fine_runs_the_retired_spm_graphs_with_spm_nanos_values(exported):
    """The spm tracker was retired, its network was not: SPMTracker over spm's graphs (which name no live variant)
    takes spm-nano's values (kept for the SPM graphs since spm-nano was retired too) and still follows a real
    pedestrian."""
    t, s = exported("spm", "onnx", "fp32")
    trk = SPMTracker(SiameseNet(t, s, "spm", threads=1))
    assert trk.p == spm_values()
    res, gt = _follow_dev_pedestrian(trk)
    assert all(isinstance(r, TrackResult) for r in res)
    assert np.mean([iou(r.box, g) for r, g in zip(res, gt)]) > 0.4


def test_siamfc_tracks_a_grayscale_planar_target(siamfc_net):
    """Real grayscale frames (ViSP's mire board, a dev sequence labelled by dot homographies): the frames
    come in as 3-channel BGR and the tracker keeps the board as the camera tilts and turns."""
    from pathlib import Path

    from edgecv.runtime.track import load_sequence

    seq = load_sequence(Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / "visp_mire")
    frames = seq.frames()
    first = next(frames)
    assert first.ndim == 3 and (first[..., 0] == first[..., 2]).all()
    trk = SiamFCTracker(siamfc_net)
    trk.init(first, seq.groundtruth[0])
    res = [trk.update(f) for f, _ in zip(frames, range(59))]
    ious = [iou(r.box, g) for r, g in zip(res, seq.groundtruth[1:60])]
    assert np.mean(ious) > 0.6 and min(ious) > 0.3, np.round(ious, 2)
    assert not any(r.lost for r in res)


def test_spm_reports_lost_when_target_leaves_the_frame(exported):
    """The lost state is the shared loop's: the coarse-to-fine tracker must raise it too."""
    t, s = exported("spm-nano", "onnx", "fp32")
    frames = data.video_part("vtest.avi", "heldout", step=1)
    src, gt = _dev_target()
    start = src["start"] - int(round(795 * 0.7))
    views, truth = panned(frames, tuple(gt[0]), start, 40, 14)
    trk = SPMTracker(SiameseNet(t, s, "spm-nano", threads=1))
    trk.init(views[0], truth[0])
    res = [trk.update(v) for v in views[1:]]
    outside = [r for r, b in zip(res, truth[1:]) if b[0] + b[2] < -20]
    assert outside and np.mean([r.lost for r in outside]) >= 0.8, [round(r.score, 2) for r in outside]


def test_sasiam_litert_int8_exports_and_tracks_like_fp32(exported):
    """LiteRT int8 of SA-Siam (channel attention and score resize kept in float) on a real sequence."""
    from pathlib import Path

    from edgecv.runtime.track import load_sequence
    t, s = exported("sasiam", "tflite", "int8")
    assert json.loads(Path(str(s) + ".json").read_text())["precision"] == "int8"
    seq = load_sequence(Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / "vtest_woman")
    frames = seq.load_frames()[:40]
    trk = SiamFCTracker(SiameseNet(t, s, "sasiam", backend="litert", threads=1))
    trk.init(frames[0], seq.groundtruth[0])
    ious = [iou(trk.update(f).box, g) for f, g in zip(frames[1:], seq.groundtruth[1:40])]
    assert np.mean(ious) > 0.5, f"mean IoU {np.mean(ious):.2f}"


def test_int8_search_graphs_keep_the_score_map_in_float(exported):
    """int8 exports quantise the backbones but not what follows them: the correlations with the template
    features, the adjust convs and SA-Siam's weighted sum. An 8-bit score map steps by 1/256 of its range,
    and a near-tie between the target and a look-alike flips on that rounding (ONNX and LiteRT alike)."""
    import onnx
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    _, s = exported("sasiam", "onnx", "int8")
    g = onnx.load(str(s)).graph
    inputs = {i.name for i in g.input}
    consumers: dict = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    corr = [n for n in g.node if n.op_type == "Conv" and n.input[1] in inputs]
    assert len(corr) == 2, "each branch's correlation takes the template features straight from the input"
    seen, stack = [], [o for n in corr for o in n.output]
    while stack:  # everything downstream of the correlations, up to the score output
        for n in consumers.get(stack.pop(), []):
            seen.append(n.op_type)
            stack.extend(n.output)
    assert "Resize" in seen and "Add" in seen and "QuantizeLinear" not in seen
    assert sum(n.op_type == "QuantizeLinear" for n in g.node) > 20  # the backbones are int8

    _, st = exported("sasiam", "tflite", "int8")
    it = Interpreter(model_path=str(st),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    maps = [t for t in it.get_tensor_details() if int(np.prod(t["shape"])) in (13 * 13, 25 * 25)]
    assert maps and all(t["dtype"] == np.float32 for t in maps), [(t["name"], t["dtype"]) for t in maps]
    assert any(t["dtype"] == np.int8 for t in it.get_tensor_details())


def test_artifact_of_another_tracker_is_refused(exported):
    t, _ = exported("siamfc", "onnx", "fp32")
    _, s_spm = exported("spm", "onnx", "fp32")
    with pytest.raises(TrackError, match="search graph of a 'spm' tracker"):
        SiameseNet(t, s_spm, "siamfc")
    mnv2 = exported("mnv2-dcn", "onnx", "fp32", "standard")
    with pytest.raises(TrackError, match="not a tracker artifact"):
        SiameseNet(mnv2, s_spm, "spm")


def _write_video(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h), isColor=frames[0].ndim == 3)
    for f in frames:
        vw.write(f)
    vw.release()


def test_cli_track_writes_boxes_and_video_and_rejects_bad_input(tmp_path, art_dir, exported):
    exported("siamfc", "onnx", "fp32")
    frames = data.video_part("vtest.avi", "heldout", step=1)[:12]
    video = tmp_path / "clip.avi"
    _write_video(video, frames)
    runner = CliRunner()
    out, boxes = tmp_path / "out.mp4", tmp_path / "boxes.txt"
    r = runner.invoke(main, ["track", str(video), "--init", "198,393,48,145", "--tracker", "siamfc",
                             "--artifacts", str(art_dir), "--out", str(out), "--boxes", str(boxes)])
    assert r.exit_code == 0, r.output
    lines = boxes.read_text().splitlines()
    assert len(lines) == 12 and [float(v) for v in lines[0].split(",")[:4]] == [198, 393, 48, 145]
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT) == 12
    # grayscale video: accepted
    gray = tmp_path / "gray.avi"
    _write_video(gray, [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    r = runner.invoke(main, ["track", str(gray), "--init", "198,393,48,145", "--tracker", "mosse"])
    assert r.exit_code == 0, r.output
    # bad inputs: each a clear message and exit code 2
    for args, needle in [
        (["--init", "900,900,40,40"], "outside"), (["--init", "10,10,0,40"], "zero area"),
        (["--init", "1,2,3"], "four numbers"),
    ]:
        r = runner.invoke(main, ["track", str(video), "--tracker", "mosse"] + args)
        assert r.exit_code == 2 and needle in r.output, r.output
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"not a video")
    r = runner.invoke(main, ["track", str(empty), "--init", "1,1,20,20", "--tracker", "klt"])
    assert r.exit_code == 2 and "empty.avi" in r.output, r.output


def test_siambm_reports_a_rotated_box(exported):
    """Siam-BM over SA-Siam's stride-8 graphs (the retired siambm's): 5 scale/angle candidates per frame, a rotated
    box in every result; given no values it takes siambm-lite0's with the stride-8 map's upsampling."""
    from edgecv.runtime.track.siambm import SiamBMTracker

    t, s = exported("sasiam", "onnx", "fp32")
    net = SiameseNet(t, s, "sasiam", threads=1)
    trk = SiamBMTracker(net)
    assert trk.p == default_params("siambm-lite0", response_up=default_params("siamfc").response_up)
    assert len(trk._candidates()) == 5
    res, gt = _follow_dev_pedestrian(trk, 10)
    for r in res:
        (cx, cy), (w, h), ang = r.rotated
        assert abs(cx - (r.box[0] + r.box[2] / 2)) < 1 and w > 0 and h > 0 and abs(ang) <= 90
    assert np.mean([iou(r.box, g) for r, g in zip(res, gt)]) > 0.4


def test_cli_eval_track_writes_results_and_plots(tmp_path, art_dir, exported, dev_cut):
    """`edgecv eval track` on a short cut of a real dev sequence: JSON with AUC/precision/fps, two PNGs."""
    exported("siamfc", "onnx", "fp32")
    ds = dev_cut("vtest_woman", 30)
    out = tmp_path / "eval"
    r = CliRunner().invoke(main, ["eval", "track", "--dataset", str(ds), "--trackers", "siamfc,mosse",
                                  "--artifacts", str(art_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    text = json.dumps(res)
    for key in ("siamfc", "mosse", "auc", "precision20", "fps"):
        assert key in text
    assert (out / "success.png").stat().st_size > 0 and (out / "precision.png").stat().st_size > 0


def test_spm_nano_runs_spm_lite_weights_on_a_smaller_search_crop(exported):
    """spm-nano is spm-lite's network on a 223² search crop: its manifest says so, its score map is
    21×21, and the runtime (which reads the geometry from the manifest) still tracks a real pedestrian."""
    from edgecv.models.siamese import geometry

    assert geometry(223)["score_size"] == 21 and geometry(255)["score_size"] == SCORE
    with pytest.raises(ValueError, match="8m \\+ 7"):
        geometry(224)
    lite, nano = create_model("spm-lite"), create_model("spm-nano")
    assert all(torch.equal(a, b) for a, b in zip(lite.state_dict().values(), nano.state_dict().values()))
    t, s = exported("spm-nano", "onnx", "fp32")
    net = SiameseNet(t, s, "spm-nano", threads=1)
    assert (net.x_size, net.score_size) == (223, 21)
    out = net.search(np.zeros((223, 223, 3), np.uint8), net.template(np.zeros((127, 127, 3), np.uint8)))
    assert out["cls"].shape[-2:] == (21, 21)
    res, gt = _follow_dev_pedestrian(SPMTracker(net))
    assert np.mean([iou(r.box, g) for r, g in zip(res, gt)]) > 0.4


class _FakeNet:
    """Just the geometry and a template of ones: enough for Siam-BM's template mask."""
    z_size, x_size, stride, score_size, context = 127, 255, 8, 25, 0.5
    geometry = {"tracker": "sasiam"}

    def template(self, crop):
        return {"z_a": np.ones((1, 4, 8, 8), np.float32), "z_s": np.ones((1, 4, 4, 4), np.float32)}


def test_siambm_masks_the_template_beside_an_elongated_target():
    """Siam-BM's spatial mask: a tall target keeps only the template columns it covers, a wide one only
    the rows, and a squarish one (ratio ≤ mask_ratio) is left alone."""
    from edgecv.runtime.track.siambm import SiamBMTracker

    trk = SiamBMTracker(_FakeNet(), default_params("siambm-lite0"))
    trk._reference = lambda frame: 1.0
    frame = np.zeros((480, 640, 3), np.uint8)
    trk._init(frame, (300, 100, 30, 90))           # tall: 1:3
    za = trk.z["z_a"][0, 0]
    assert (za == za[0:1, :]).all(), "a tall target's mask must be whole columns"
    kept = za[0].astype(bool)
    assert 2 <= kept.sum() < 8 and kept[3] and kept[4] and not kept[0] and not kept[7]
    assert (trk.z["z_s"][0, 0] == trk.z["z_s"][0, 0][0:1, :]).all()
    trk._init(frame, (200, 200, 120, 40))          # wide: 3:1 → rows
    za = trk.z["z_a"][0, 0]
    assert (za == za[:, 0:1]).all() and 2 <= za[:, 0].sum() < 8
    trk._init(frame, (200, 200, 50, 60))           # squarish: no mask
    assert trk.z["z_a"].min() == 1 and trk.mask is None


def test_spm_aspect_lr_zero_keeps_the_aspect_and_follows_the_scale():
    """``aspect_lr=0``: the box grows toward a regressed size of the same area but another shape while
    keeping its own aspect ratio; the default (None) moves w and h each toward the regression."""
    cand = {"centre": (100.0, 100.0), "dx": 0.0, "dy": 0.0, "w": 80.0, "h": 80.0, "penalty": 1.0, "coarse": 1.0,
            "f": 1.0}
    for aspect_lr, keeps in ((0.0, True), (None, False)):
        trk = SPMTracker.__new__(SPMTracker)
        trk.p = spm_values(aspect_lr=aspect_lr)
        trk.frame_shape, trk.w, trk.h = (480, 640, 3), 40.0, 120.0
        trk._accept(cand)
        assert trk.w * trk.h > 40 * 120
        assert (abs(trk.w / trk.h - 1 / 3) < 1e-9) == keeps, (trk.w, trk.h)


def _zoomed(frame, box, n, zoom):
    """A real frame seen by a camera that closes in on ``box``'s centre by ``zoom`` over ``n`` views
    (the centre drifting a little): views and the target's exact box in each."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    H, W = 288, 360
    views, truth = [], []
    for t in range(n):
        k = zoom ** (t / (n - 1))                    # view pixels per frame pixel
        ox, oy = cx + 1.5 * t, cy + 0.8 * t          # the view's centre in frame pixels
        m = np.array([[k, 0, W / 2 - k * ox], [0, k, H / 2 - k * oy]])
        views.append(cv2.warpAffine(frame, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        truth.append((W / 2 + k * (x - ox), H / 2 + k * (y - oy), k * w, k * h))
    return views, truth


def test_spm_scale_pyramid_follows_a_camera_that_zooms(exported):
    """A camera closing in ×1.8 on (or backing away ×0.6 from) a real held-out pedestrian: spm-nano's
    regressed box alone lags far behind; the SiamFC-style scale pyramid (``num_scales=3``, here on every frame)
    must follow it much more closely."""
    frames = data.video_part("vtest.avi", "heldout", step=1)
    src, gt = _dev_target()
    frame = frames[src["start"] - int(round(795 * 0.7))]
    t, s = exported("spm-nano", "onnx", "fp32")
    net = SiameseNet(t, s, "spm-nano", threads=1)
    for zoom in (1.8, 0.6):
        views, truth = _zoomed(frame, tuple(gt[0]), 40, zoom)
        got = {}
        for n in (3, 1):
            trk = SPMTracker(net, spm_values(num_scales=n, scale_every=1))
            trk.init(views[0], truth[0])
            res = [trk.update(v) for v in views[1:]]
            area = res[-1].box[2] * res[-1].box[3] / (truth[-1][2] * truth[-1][3])
            got[n] = (float(np.mean([iou(r.box, g) for r, g in zip(res, truth[1:])])), abs(np.log(area)))
        assert got[3][0] > 0.6 and got[3][0] > got[1][0] + 0.03, (zoom, got)
        assert got[3][1] < 0.7 * got[1][1], (zoom, got)
