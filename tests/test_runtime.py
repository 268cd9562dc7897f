"""The torch-free runtime: loading, checks, error messages, profiling."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from edgecv import runtime
from edgecv.cli import main
from edgecv.runtime import ArtifactError, BackendUnavailable, InputError

REPO = Path(__file__).resolve().parents[1]


def test_runtime_import_never_imports_torch(exported):
    onnx_p = exported("mnv2-dcn", "onnx", "fp32", "standard")
    tfl_p = exported("mnv2-dcn", "tflite", "fp32")
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import edgecv.runtime as rt
        for p in [{str(onnx_p)!r}, {str(tfl_p)!r}]:
            s = rt.load(p, threads=1)
            out = s.run({{"image": np.random.rand(1, 3, 128, 128).astype(np.float32)}})
            assert out["logits"].shape == (1, {len(__import__('edgecv.data', fromlist=['x']).SCENES)}), out
        assert "torch" not in sys.modules, "edgecv.runtime imported torch"
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")


def test_wrong_inputs_are_named(exported):
    s = runtime.load(exported("mnv2-dcn", "onnx", "fp32", "standard"))
    x = np.zeros((1, 3, 128, 128), np.float32)
    with pytest.raises(InputError, match=r"unknown \['img'\], missing \['image'\]"):
        s.run({"img": x})
    with pytest.raises(InputError, match=r"input 'image' has shape \(1, 3, 64, 64\).*expects \(1, 3, 128, 128\)"):
        s.run({"image": np.zeros((1, 3, 64, 64), np.float32)})
    with pytest.raises(InputError, match="input 'image' has dtype int64"):
        s.run({"image": np.zeros((1, 3, 128, 128), np.int64)})
    # float64 is accepted and cast (same kind)
    assert s.run({"image": x.astype(np.float64)})["logits"].dtype == np.float32


def _copy(p: Path, dst: Path) -> Path:
    shutil.copy(p, dst / p.name)
    shutil.copy(str(p) + ".json", dst / (p.name + ".json"))
    return dst / p.name


def test_corrupt_truncated_and_mismatched_artifacts(exported, tmp_path):
    src = exported("mnv2-dcn", "onnx", "fp32", "portable")
    p = _copy(src, tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        runtime.load(p)
    p.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    with pytest.raises(ArtifactError, match="sha256 .* does not match"):
        runtime.load(p)
    # Without a manifest the runtime cannot check the hash, but the backend's refusal is still clear.
    os.remove(str(p) + ".json")
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ArtifactError, match="onnxruntime cannot load"):
        runtime.load(p)
    with pytest.raises(ArtifactError, match="does not exist"):
        runtime.load(tmp_path / "missing.onnx")
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ArtifactError, match="is empty"):
        runtime.load(tmp_path / "empty.tflite")
    bad_tfl = tmp_path / "junk.tflite"
    bad_tfl.write_bytes(b"\x00" * 64)
    with pytest.raises(ArtifactError, match="LiteRT cannot load"):
        runtime.load(bad_tfl)


def test_backend_mismatch_and_missing_package(exported):
    p = exported("mnv2-dcn", "onnx", "fp32", "standard")
    with pytest.raises(ArtifactError, match="runs .tflite artifacts"):
        runtime.load(p, backend="litert")
    code = textwrap.dedent(f"""
        import sys
        sys.modules["ai_edge_litert"] = None; sys.modules["tflite_runtime"] = None
        sys.modules["onnxruntime"] = None
        import edgecv.runtime as rt
        for p in [{str(p)!r}, {str(exported("mnv2-dcn", "tflite", "fp32"))!r}]:
            try:
                rt.load(p)
            except rt.BackendUnavailable as e:
                print("ERR", e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "onnxruntime is not installed" in lines[0] and "pip install edgecv" in lines[0]
    assert "no LiteRT interpreter" in lines[1] and "ai-edge-litert" in lines[1]
    if "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        with pytest.raises(BackendUnavailable, match=r"edgecv\[gpu\]"):
            runtime.load(p, backend="ort-cuda")


def test_litert_session_uses_manifest_names_and_dequantizes(exported):
    s = runtime.load(exported("mnv2-dcn", "tflite", "int8"))
    assert s.input_names == ["image"] and s.output_names == ["logits"]
    out = s.run({"image": np.random.rand(1, 3, 128, 128).astype(np.float32)})["logits"]
    assert out.dtype == np.float32


def test_profile_writes_measured_device_profile(exported, tmp_path):
    a = exported("mnv2-dcn", "onnx", "fp32", "standard")
    b = exported("mnv2-dcn", "tflite", "fp32")
    out = tmp_path / "devices" / "this-host.yaml"
    r = CliRunner().invoke(main, ["profile", str(a), str(b), "--threads", "1,2", "--runs", "5", "--warmup", "1",
                                  "--device", "this-host", "--out", str(out)])
    assert r.exit_code == 0, r.output
    prof = yaml.safe_load(out.read_text())
    assert prof["device"]["name"] == "this-host" and prof["device"]["cores"] >= 1
    assert len(prof["entries"]) == 4
    for e in prof["entries"]:
        assert e["provenance"]["kind"] == "measured" and e["provenance"]["tools"]["onnxruntime"]
        assert 0 < e["latency_ms"]["median"] <= e["latency_ms"]["p90"]
    assert {e["backend"] for e in prof["entries"]} == {"ort", "litert"}
    # a second run merges: same keys replaced, not duplicated
    r = CliRunner().invoke(main, ["profile", str(a), "--runs", "3", "--warmup", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(yaml.safe_load(out.read_text())["entries"]) == 4


def test_info_prints_manifest(exported):
    p = exported("mnv2-dcn", "onnx", "int8", "standard")
    r = CliRunner().invoke(main, ["info", str(p)])
    assert r.exit_code == 0, r.output
    assert "DeformConv" in r.output and "PASSED" in r.output and "top1" in r.output
    r = CliRunner().invoke(main, ["info", "/nonexistent.onnx"])
    assert r.exit_code == 2 and "no manifest" in r.output


def test_manifest_describes_io_and_tools(exported):
    p = exported("mnv2-dcn", "tflite", "int8")
    m = json.loads(Path(str(p) + ".json").read_text())
    assert m["inputs"][0]["name"] == "image" and m["inputs"][0]["shape"] == [1, 3, 128, 128]
    assert m["outputs"][0]["name"] == "logits"
    assert m["tools"]["litert-torch"] and m["tools"]["torch"]
    assert m["op_counts"].get("CONV_2D", 0) > 0 and m["bytes"] == p.stat().st_size


def test_litert_falls_back_to_tflite_runtime(exported):
    """Older Jetson / Raspberry Pi images ship `tflite_runtime` instead of `ai_edge_litert`."""
    p = exported("mnv2-dcn", "tflite", "fp32")
    code = textwrap.dedent(f"""
        import sys, types
        from ai_edge_litert import interpreter as real
        shim = types.ModuleType("tflite_runtime"); shim.interpreter = types.ModuleType("tflite_runtime.interpreter")
        shim.interpreter.Interpreter = real.Interpreter
        sys.modules["tflite_runtime"] = shim; sys.modules["tflite_runtime.interpreter"] = shim.interpreter
        sys.modules["ai_edge_litert"] = None; sys.modules["ai_edge_litert.interpreter"] = None
        import numpy as np
        import edgecv.runtime as rt
        s = rt.load({str(p)!r})
        out = s.run({{"image": np.zeros((1, 3, 128, 128), np.float32)}})
        print(s.package, out["logits"].shape)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.split()[0] == "tflite_runtime"
