"""Bring your own PyTorch module (issue 24, part 1): ``edgecv export --module pkg.mod:factory --input ...``.

The user's module below is plain PyTorch — ``torch.nn.functional.grid_sample`` in two of its bilinear settings,
no edgecv import — written into tmp_path as a package and exported unchanged to ONNX (standard and portable)
and TFLite, each checked against the module on real frames. Bad input is one line, exit 2, nothing written.
"""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from edgecv.cli import main  # noqa: E402

from .interop import USER_CODE  # noqa: E402


@pytest.fixture()
def user_pkg(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userpkg.nets"
    for m in [m for m in sys.modules if m.startswith("userpkg")]:
        del sys.modules[m]


@pytest.mark.slow
def test_a_plain_module_with_grid_sample_exports_unchanged_three_ways(user_pkg, tmp_path):
    import importlib

    import cv2
    import onnx
    import torch

    from edgecv import data
    from edgecv.runtime import load, read_manifest

    out = tmp_path / "art"
    frame = data.check_frames(3, photos=False)[1]  # a held-out real frame, run here, not by the exporter
    x = np.ascontiguousarray(cv2.resize(frame, (64, 64), interpolation=cv2.INTER_AREA)[..., ::-1]
                             .transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    with torch.no_grad():
        ref = importlib.import_module(user_pkg).build()(torch.from_numpy(x)).numpy()
    for fmt, ops in (("onnx", "standard"), ("onnx", "portable"), ("tflite", "portable")):
        r = CliRunner().invoke(main, ["export", "--module", f"{user_pkg}:build", "--input", "image=1x3x64x64",
                                      "--format", fmt, "--ops", ops, "--out", str(out)])
        assert r.exit_code == 0, r.output
        path = [p for p in out.iterdir() if p.suffix in (".onnx", ".tflite") and
                (fmt == "tflite") == (p.suffix == ".tflite") and (ops in p.name or fmt == "tflite")][0]
        m = read_manifest(path)
        assert m["parity"]["passed"] and m["parity"]["max_rel_err"] < 1e-4, (fmt, ops, m["parity"])
        assert "user module" in m["model_info"]["origin"]
        got = next(iter(load(path).run({"image": x}).values()))
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), (fmt, ops)
        if fmt == "onnx":
            nodes = {n.op_type for n in onnx.load(str(path)).graph.node}
            assert ("GridSample" in nodes) == (ops == "standard"), nodes


def test_bad_module_inputs_are_one_line_and_write_nothing(user_pkg, tmp_path):
    out = tmp_path / "o"
    cases = [
        (["--module", "nowhere.at_all:build", "--input", "image=1x3x64x64"], "cannot import nowhere.at_all"),
        (["--module", f"{user_pkg}:broken", "--input", "image=1x3x64x64"],
         "broken() raised RuntimeError: weights file missing"),
        (["--module", f"{user_pkg}:build", "--input", "image=1x3xbad"], "--input 'image=1x3xbad': expected NAME=DxDx"),
        (["--module", f"{user_pkg}:build", "--input", "image=1x3x64x64", "--ops", "portable"], None),
        (["--module", f"{user_pkg}:bicubic", "--input", "image=1x3x16x16", "--ops", "portable"],
         "grid_sample in module 'warp': grid_sample: only bilinear"),
        (["--module", f"{user_pkg}:build"], "--module needs at least one --input"),
    ]
    for args, msg in cases:
        if msg is None:
            continue
        r = CliRunner().invoke(main, ["export", *args, "--out", str(out)])
        assert r.exit_code == 2 and msg in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1, r.output
    assert not out.exists() or not any(out.iterdir())
    r = CliRunner().invoke(main, ["export", "siamfc", "--module", f"{user_pkg}:build"])
    assert r.exit_code == 2 and "one of the two" in r.output


def test_the_wrapper_runs_the_module_as_it_is(user_pkg):
    import importlib

    import torch

    from edgecv.export.user_module import UserModule, parse_inputs
    from edgecv.ops import ops_mode

    inner = importlib.import_module(user_pkg).build()
    x = torch.rand(1, 3, 64, 64)
    ref = inner(x)
    m = UserModule(inner, parse_inputs(["image=1x3x64x64"]), "build", f"{user_pkg}:build")
    with ops_mode("portable"):
        got = m(x)
    assert torch.allclose(got, ref, atol=1e-5)
    assert np.array_equal(m(image=x).detach().numpy(), ref.detach().numpy())
    import torch.nn.functional as F
    assert F.grid_sample.__module__ == "torch.nn.functional"  # put back after the call
