"""Package layout: root folders mapped onto edgecv.* in editable and regular installs; bare install."""
from __future__ import annotations

import os
import subprocess
import textwrap
import venv
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_editable_layout_maps_root_folders():
    import edgecv
    import edgecv.devices
    import edgecv.eval
    import edgecv.export
    import edgecv.runtime
    import edgecv.scale

    assert Path(edgecv.__file__).parent == REPO / "edgecv"
    assert Path(edgecv.export.__file__).parent == REPO / "export"
    assert Path(edgecv.runtime.__file__).parent == REPO / "runtime"
    assert Path(edgecv.devices.__file__).parent == REPO / "devices"
    assert Path(edgecv.eval.__file__).parent == REPO / "eval"
    assert Path(edgecv.scale.__file__).parent == REPO / "scale"
    assert any(p.name.endswith(".yaml") for p in resources.files("edgecv.devices").iterdir())


@pytest.mark.slow
def test_bare_install_runs_artifacts_without_torch(exported, tmp_path):
    """`pip install .` with no extras into a fresh venv: runtime + CLI info/profile work, no torch."""
    onnx_p = exported("mnv2-dcn", "onnx", "fp32", "portable")
    tfl_p = exported("mnv2-dcn", "tflite", "fp32")
    env_dir = tmp_path / "bare"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    code = textwrap.dedent(f"""
        import importlib.util, sys
        from importlib import resources
        from pathlib import Path
        import numpy as np
        assert importlib.util.find_spec("torch") is None, "torch must not be installed by the bare install"
        for heavy in ("onnx", "scipy", "matplotlib"):  # predictor / plotting extras, not the device runtime
            assert importlib.util.find_spec(heavy) is None, heavy + " came with the bare install"
        import edgecv.runtime as rt
        assert "site-packages" in rt.__file__, rt.__file__
        assert any(p.name.endswith(".yaml") for p in resources.files("edgecv.devices").iterdir())
        for p in [{str(onnx_p)!r}, {str(tfl_p)!r}]:
            s = rt.load(p, threads=1)
            out = s.run({{"image": np.random.rand(1, 3, 128, 128).astype(np.float32)}})
            assert np.isfinite(out["logits"]).all()
        import edgecv.runtime.track  # the tracking loop is part of the bare runtime too
        import edgecv.runtime.colorize, edgecv.runtime.propagate  # and so are the other loops
        assert "torch" not in sys.modules
        print("bare-ok", sorted(rt.available_backends()))
    """)
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "bare-ok" in r.stdout and "litert" in r.stdout and "ort" in r.stdout
    r = subprocess.run([str(env_dir / "bin" / "edgecv"), "info", str(onnx_p)], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0 and "PASSED" in r.stdout, r.stderr[-2000:]
    r = subprocess.run([str(env_dir / "bin" / "edgecv"), "export", "mnv2-dcn"], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode != 0 and "edgecv[export]" in (r.stdout + r.stderr)
    # the Siamese tracking loop on a real video, through the installed CLI, without torch
    from edgecv import data

    t, _ = exported("siamfc", "onnx", "fp32")
    boxes = tmp_path / "boxes.txt"
    r = subprocess.run([str(env_dir / "bin" / "edgecv"), "track", str(data.samples_dir() / "vtest.avi"), "--init",
                        "198,393,48,145", "--tracker", "siamfc", "--artifacts", str(t.parent), "--boxes", str(boxes),
                        "--max-frames", "5"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    assert len(boxes.read_text().splitlines()) == 5
