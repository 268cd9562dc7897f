"""A tracker edgecv did not train, through edgecv (issue 24, part 3): NanoTrack-format ONNX pairs read by
``edgecv.export.onnx_import``, regrouped into edgecv's template/search graphs (``export/nanotrack.py``),
exported, and run by the runtime's ``nanotrack`` family with edgecv's loop.

The public NanoTrack V2/V3 models live outside the repository (``<repo>/../shared/anchors`` or
``$EDGECV_ANCHORS``); the tests that need them skip, saying where they looked. Graphs that edgecv did not write
are also built here with ``onnx.helper``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from edgecv.cli import main  # noqa: E402
from edgecv.eval.anchors import anchors_dir  # noqa: E402
from edgecv.export.errors import ExportError, UnsupportedOpError  # noqa: E402
from edgecv.export.onnx_import import OnnxModule  # noqa: E402
from edgecv.ops import ops_mode  # noqa: E402
from edgecv.ops.warp import grid_sample  # noqa: E402
from edgecv.runtime.track import TrackError, load_sequence, make_tracker  # noqa: E402
from edgecv.runtime.track.base import iou  # noqa: E402
from edgecv.runtime.track.foreign import foreign_artifacts  # noqa: E402

from .interop import dcn_grid_graph  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "datasets" / "otb-dev"


def _nano(version: str) -> Path:
    root = anchors_dir() / "nanotrack" / version
    if not (root / "backbone.onnx").is_file():
        pytest.skip(f"NanoTrack {version} not found at {root} (set $EDGECV_ANCHORS to the anchor folder)")
    return root


@pytest.mark.parametrize("padding", ["zeros", "border"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_portable_grid_sample_equals_torch(padding, align_corners):
    """Every bilinear setting of F.grid_sample, points inside and outside the map, batch of 2."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 9, 11, generator=g)
    grid = torch.rand(2, 7, 6, 2, generator=g) * 2.6 - 1.3
    ref = F.grid_sample(x, grid, padding_mode=padding, align_corners=align_corners)
    with ops_mode("portable"):
        got = grid_sample(x, grid, "bilinear", padding, align_corners)
    assert torch.allclose(got, ref, atol=1e-5)
    assert torch.equal(grid_sample(x, grid, "bilinear", padding, align_corners), ref)  # standard: the op itself


def _helper_graph(tmp_path, op="GridSample", **attrs):
    """A two-input ONNX graph made with onnx.helper (not by edgecv): out = OP(x, grid) + 1."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node(op, ["x", "grid"], ["s"], name="sample0", **attrs),
             helper.make_node("Add", ["s", "one"], ["y"], name="add0")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 10]),
                     helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 5, 6, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 5, 6])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), path)
    return path


def test_onnx_module_runs_a_foreign_gridsample_graph_as_onnxruntime_does(tmp_path):
    import onnxruntime as ort

    path = _helper_graph(tmp_path, mode="linear", padding_mode="border", align_corners=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 3, 8, 10)).astype(np.float32)
    grid = rng.uniform(-1.2, 1.2, size=(1, 5, 6, 2)).astype(np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x, "grid": grid})[0]
    m = OnnxModule(path)
    for mode in ("standard", "portable"):
        with ops_mode(mode):
            got = m(torch.from_numpy(x), torch.from_numpy(grid)).numpy()
        assert np.abs(got - ref).max() < 1e-5, mode


def test_onnx_module_names_the_op_it_cannot_lower_and_a_file_the_checker_refuses(tmp_path):
    with pytest.raises(UnsupportedOpError, match=r"op Einsum \(node 'sample0'\) has no torch lowering"):
        OnnxModule(_helper_graph(tmp_path, op="Einsum", equation="ij,jk->ik"))
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x08\x07not a model at all")
    with pytest.raises(ExportError, match="garbage.onnx: not a valid ONNX model"):
        OnnxModule(bad)
    with ops_mode("portable"), pytest.raises(UnsupportedOpError, match="reflection"):
        OnnxModule(_helper_graph(tmp_path, padding_mode="reflection"))(torch.zeros(1, 3, 8, 10),
                                                                       torch.zeros(1, 5, 6, 2))


def test_onnx_module_reproduces_nanotrack_v2_as_onnxruntime_does():
    import onnxruntime as ort

    root = _nano("v2")
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(1, 3, 255, 255)).astype(np.float32)
    bb = ort.InferenceSession(str(root / "backbone.onnx"), providers=["CPUExecutionProvider"])
    hd = ort.InferenceSession(str(root / "head.onnx"), providers=["CPUExecutionProvider"])
    xf = bb.run(None, {"input": x})[0]
    mb, mh = OnnxModule(root / "backbone.onnx"), OnnxModule(root / "head.onnx")
    with torch.no_grad():
        got = mb(torch.from_numpy(x)).numpy()
        z = mb(torch.from_numpy(x[:, :, 64:191, 64:191].copy())).numpy()  # a 127² template crop: 8×8 features
        ref_h = hd.run(None, {"input1": z, "input2": xf})
        got_h = mh(torch.from_numpy(z), torch.from_numpy(xf))
    assert z.shape == (1, 48, 8, 8)
    assert np.abs(got - xf).max() <= 1e-5 * np.abs(xf).max()
    for r, g in zip(ref_h, got_h):
        assert np.abs(g.numpy() - r).max() <= 1e-5 * np.abs(r).max()


def test_a_mismatched_or_incomplete_nanotrack_folder_is_named(tmp_path):
    from edgecv.export.nanotrack import NanoTrackImport

    v2, v3 = _nano("v2"), _nano("v3")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "backbone.onnx").symlink_to(v2 / "backbone.onnx")
    (mixed / "head.onnx").symlink_to(v3 / "head.onnx")
    with pytest.raises(ExportError, match=r"head.onnx: input 'input1' expects \(1, 96, 8, 8\), the backbone "
                                          r"backbone.onnx gives \(1, 48, 8, 8\)"):
        NanoTrackImport(mixed)
    half = tmp_path / "half"
    half.mkdir()
    (half / "backbone.onnx").symlink_to(v2 / "backbone.onnx")
    with pytest.raises(ExportError, match="no unique head ONNX file"):
        NanoTrackImport(half)
    with pytest.raises(TrackError, match="no unique head ONNX file"):
        foreign_artifacts("nanotrack", half, tmp_path / "art", "onnx", "fp32")
    with pytest.raises(TrackError, match="not a folder"):
        foreign_artifacts("nanotrack", tmp_path / "nowhere", tmp_path / "art", "onnx", "fp32")


def test_cli_nanotrack_needs_its_model_folder_and_only_it_takes_one(tmp_path):
    import cv2

    seq = tmp_path / "clip.avi"  # a real little video: the option checks come before it is read
    w = cv2.VideoWriter(str(seq), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for k in range(3):
        w.write(np.full((48, 64, 3), 40 * k, np.uint8))
    w.release()
    r = CliRunner().invoke(main, ["track", str(seq), "--init", "10,10,40,40", "--tracker", "nanotrack"])
    assert r.exit_code == 2 and "nanotrack runs a model you bring: pass --model DIR" in r.output, r.output
    r = CliRunner().invoke(main, ["track", str(seq), "--init", "10,10,40,40", "--tracker", "siamfc",
                                  "--model", str(tmp_path)])
    assert r.exit_code == 2 and "only nanotrack runs a model you bring" in r.output, r.output
    r = CliRunner().invoke(main, ["export", "nanotrack", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "nanotrack needs --model DIR" in r.output, r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_converted_nanotrack_tracks_as_opencv_trackernano_does(tmp_path):
    """V2 converted to edgecv's graphs (parity in the manifests) and run by the runtime's loop follows the same
    path as cv2.TrackerNano on the original files: a real dev sequence, 60 frames, box by box."""
    import cv2

    from edgecv.export import export
    from edgecv.export.nanotrack import NanoTrackImport
    from edgecv.runtime import read_manifest

    root = _nano("v2")
    paths = export(NanoTrackImport(root), "onnx", "fp32", out_dir=tmp_path, progress=None)
    for p in paths:
        m = read_manifest(p)
        assert m["parity"]["passed"] and m["parity"]["max_rel_err"] < 1e-4
        assert m["model_info"]["source"]["backbone"]["file"] == "backbone.onnx"
    seq = load_sequence(DEV / "visp_cube_desk")
    frames = [f for _, f in zip(range(60), seq.frames())]
    box = tuple(float(v) for v in seq.groundtruth[0])
    ours = make_tracker("nanotrack", tmp_path, "ort", "fp32", 1)
    p = cv2.TrackerNano_Params()
    p.backbone, p.neckhead = str(root / "backbone.onnx"), str(root / "head.onnx")
    ref = cv2.TrackerNano_create(p)
    ours.init(frames[0], box)
    ref.init(frames[0], tuple(int(v) for v in box))
    ious = []
    for f in frames[1:]:
        r = ours.update(f)
        _, b = ref.update(f)
        assert not r.lost
        ious.append(iou(r.box, tuple(float(v) for v in b)))
    assert np.median(ious) > 0.95 and min(ious) > 0.8, (np.median(ious), min(ious))


@pytest.mark.slow
def test_a_foreign_deformconv_gridsample_file_converts_to_portable_onnx_and_tflite(tmp_path):
    """`edgecv export model.onnx`: the portable ONNX has neither op left and the TFLite runs; both follow
    onnxruntime on the original file within 1e-3 relative (on real frames)."""
    import cv2
    import onnx
    import onnxruntime as ort

    from edgecv import data
    from edgecv.export import export
    from edgecv.runtime import load, read_manifest

    frames = data.check_frames(3, photos=False)
    src = dcn_grid_graph(tmp_path / "dcn_grid.onnx")
    ref_sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    out = tmp_path / "art"
    for fmt in ("onnx", "tflite"):
        art = export(str(src), fmt, "fp32", "portable", out_dir=out, progress=None)
        m = read_manifest(art)
        assert m["model_info"]["source_parity"]["max_rel_err"] < 1e-5
        assert m["parity"]["passed"]
        if fmt == "onnx":
            ops = {n.op_type for n in onnx.load(str(art)).graph.node}
            assert not ops & {"DeformConv", "GridSample"}, ops
        sess = load(art)
        for f in frames:
            x = cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA)[..., ::-1].transpose(2, 0, 1)[None]
            x = np.ascontiguousarray(x, dtype=np.float32) / 255.0
            ref = ref_sess.run(None, {"x": x})[0]
            got = next(iter(sess.run({"x": x}).values()))
            assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max(), fmt


def test_cli_export_of_a_foreign_onnx_file_fails_in_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["export", str(bad), "--out", str(out)])
    assert r.exit_code == 2 and "broken.onnx: not a valid ONNX model" in r.output, r.output
    einsum = _helper_graph(tmp_path, op="Einsum", equation="ij,jk->ik")
    r = CliRunner().invoke(main, ["export", str(einsum), "--format", "tflite", "--out", str(out)])
    assert r.exit_code == 2 and "op Einsum (node 'sample0') has no torch lowering" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_plan_chooses_a_brought_nanotrack_with_the_auc_of_the_user_s_own_eval(tmp_path, dev_cut):
    """`edgecv plan --trackers nanotrack --accuracy results.json`: the converted model's latency predicted from its
    artifacts, its accuracy from the user's `eval track` run, both named in the plan."""
    import json

    from edgecv.export import export
    from edgecv.export.nanotrack import NanoTrackImport

    art = tmp_path / "nt"
    export(NanoTrackImport(_nano("v2")), "onnx", "fp32", out_dir=art, progress=None)
    r = CliRunner().invoke(main, ["eval", "track", "--dataset", str(dev_cut("visp_cube", 15)), "--trackers",
                                  "nanotrack", "--model", str(art), "--out", str(tmp_path / "ev"), "--no-anchors"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    row = res["trackers"]["nanotrack"]
    assert row["settings"] == {"tracker": "nanotrack", "backend": "ort", "precision": "fp32", "artifacts": str(art)}
    plan_file = tmp_path / "plan.json"
    r = CliRunner().invoke(main, ["plan", "--device", "desktop-xeon-2c", "--pipeline", "track", "--fps", "30",
                                  "--trackers", "nanotrack", "--accuracy", str(tmp_path / "ev" / "results.json"),
                                  "--artifacts", str(art), "--backends", "ort", "--threads", "1",
                                  "--out", str(plan_file)])
    assert r.exit_code == 0, r.output
    plan = json.loads(plan_file.read_text())
    assert plan["settings"]["tracker"] == "nanotrack"
    assert plan["expected_accuracy"]["value"] == pytest.approx(row["overall"]["auc"], abs=1e-4)
    assert "results.json" in plan["expected_accuracy"]["note"]
    assert plan["latency_provenance"] == ["predicted"]   # the profile has no nanotrack figure: from the artifacts


def test_plan_accuracy_file_and_tracker_list_are_checked(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text('{"trackers": {"klt": {"overall": {"auc": 0.5}}}}')
    base = ["plan", "--device", "desktop-xeon-2c", "--pipeline", "track", "--fps", "30"]
    r = CliRunner().invoke(main, base + ["--accuracy", str(bad)])
    assert r.exit_code == 2 and "no row says how it ran" in r.output and str(bad) in r.output, r.output
    bad.write_text("not json")
    r = CliRunner().invoke(main, base + ["--accuracy", str(bad)])
    assert r.exit_code == 2 and "not an `edgecv eval track` results.json" in r.output, r.output
    r = CliRunner().invoke(main, base + ["--trackers", "boxtrack,klt"])
    assert r.exit_code == 2 and "klt: not a Siamese tracker" in r.output, r.output
    r = CliRunner().invoke(main, ["plan", "--device", "desktop-xeon-2c", "--pipeline", "colorize", "--fps", "30",
                                  "--trackers", "boxtrack"])
    assert r.exit_code == 2 and "go with --pipeline track" in r.output, r.output
