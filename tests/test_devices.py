"""Device profiles: schema validation, lookup, `edgecv profile --import`, `edgecv devices`, `edgecv report`."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from edgecv import devices as dv
from edgecv.devices import schema
from edgecv.runtime.errors import EdgeCVError

REQUIRED = {"jetson-orin-nano", "jetson-agx-orin", "pixel-4", "nvidia-t4", "desktop-amd-epyc-2c", "desktop-xeon-2c"}
SHA = "a" * 64


def _measured(artifact="mnv2-dcn-standard-fp32.onnx", backend="ort-trt", precision="fp32", threads=1, ms=2.0,
              sha=SHA):
    return {"artifact": artifact, "model": "mnv2-dcn", "format": "onnx", "precision": precision,
            "ops_mode": "standard", "sha256": sha, "backend": backend, "threads": threads,
            "latency_ms": {"median": ms, "p90": ms * 1.1, "mean": ms, "min": ms * 0.9, "runs": 50, "warmup": 5},
            "process_peak_rss_mib": 120.0,
            "provenance": {"kind": "measured", "host": "orin", "date": "2026-11-30T10:00:00+00:00",
                           "tools": {"onnxruntime-gpu": "1.20.0"}, "command": "edgecv profile ..."}}


def _predicted(artifact="mnv2-dcn-standard-fp32.onnx", backend="ort-trt", precision="fp32", threads=1, ms=3.0,
               sha=SHA):
    e = _measured(artifact, backend, precision, threads, ms, sha)
    e["provenance"] = {"kind": "predicted", "predictor": "edgecv-predict/0.1", "inputs": {"flops": 3.1e8},
                       "calibrated_on": ["mobilenet_v2_1.0_224"]}
    return e


def _err(d, match):
    with pytest.raises(dv.ProfileError) as ei:
        dv.validate_profile(d, "bad.yaml")
    assert match in str(ei.value), str(ei.value)
    return str(ei.value)


# ---------------------------------------------------------------------------------------------- shipped
def test_shipped_profiles_validate_and_are_named_after_their_file():
    names = dv.known_devices()
    assert REQUIRED <= set(names)
    for n in names:
        p = dv.load_profile(n)
        assert p["device"]["name"] == n
        assert p["device"]["kind"] in dv.KINDS
        assert p["schema"] == dv.SCHEMA
        for e in p["entries"]:
            assert e["compute_unit"] in dv.COMPUTE_UNITS  # filled in from the backend where absent
        # loading by path gives the same profile
        assert dv.load_profile(dv.profile_path(n))["device"] == p["device"]


@pytest.mark.parametrize("device,cfg,ms", [
    ("jetson-orin-nano", ("mobilenet_v2_1.0_224", "opencv", "cpu", "fp32", None), 17.1),
    ("jetson-orin-nano", ("mobilenet_v2_1.0_224", "opencv", "cuda", "fp32", None), 9.4),
    ("jetson-orin-nano", ("mobilenet_v2_1.0_224", "opencv", "cuda", "fp16", None), 7.5),
    ("pixel-4", ("mobilenet_v1_1.0_224", "litert", "cpu", "fp32", 4), 14.0),
    ("pixel-4", ("mobilenet_v1_1.0_224", "litert", "gpu-delegate", "fp32", None), 9.0),
    ("pixel-4", ("mobilenet_v1_1.0_224_quant", "litert", "cpu", "int8", 4), 5.0),
    ("nvidia-t4", ("resnet50", "tensorrt", "tensorrt", "fp32", None), 2.97),
    ("nvidia-t4", ("resnet50", "tensorrt", "tensorrt", "fp16", None), 1.26),
    ("nvidia-t4", ("resnet50", "tensorrt", "tensorrt", "int8", None), 1.21),
])
def test_published_reference_figures_are_cited(device, cfg, ms):
    art, backend, unit, prec, threads = cfg
    e = dv.find_entry(dv.load_profile(device), artifact=art, backend=backend, compute_unit=unit, precision=prec)
    assert e is not None and e["threads"] == threads
    assert e["latency_ms"]["median"] == ms and e["latency_ms"]["p90"] is None
    assert e["provenance"]["kind"] == "published"
    assert e["provenance"]["source"] and e["provenance"]["url"].startswith("https://")


def test_spec_blocks_cite_sources_and_agx_orin_says_how_it_is_calibrated():
    for n in ("jetson-orin-nano", "jetson-agx-orin", "pixel-4", "nvidia-t4"):
        d = dv.load_profile(n)["device"]
        assert d["sources"] and all(s["url"].startswith("https://") for s in d["sources"])
        assert d["memory_bandwidth_gbps"] and d["peak_throughput"]
    assert set(dv.load_profile("pixel-4")["device"]["compute_units"]) >= {"cpu", "gpu-delegate"}
    agx = dv.load_profile("jetson-agx-orin")
    assert agx["calibration"]["scaled_from"] == "jetson-orin-nano"
    # no published figure of its own: every entry is predicted (bench/predict_devices.py)
    assert agx["entries"] and all(e["provenance"]["kind"] == "predicted" for e in agx["entries"])


# ---------------------------------------------------------------------------------------------- bad input
def test_broken_profile_names_the_failing_field():
    good = dv.load_profile("desktop-amd-epyc-2c")
    d = copy.deepcopy(good)
    del d["entries"][2]["provenance"]["host"]
    msg = _err(d, "entries[2].provenance.host")
    assert msg.startswith("bad.yaml: ") and "required" in msg
    assert isinstance(pytest.raises(EdgeCVError, dv.validate_profile, d, "x").value, dv.ProfileError)

    d = copy.deepcopy(good)
    d["device"]["kind"] = "laptop"
    _err(d, "device.kind: 'laptop' is not one of jetson, phone, desktop")
    d = copy.deepcopy(good)
    d["entries"][0]["latency_msec"] = d["entries"][0].pop("latency_ms")
    _err(d, "entries[0].latency_msec: unknown field (did you mean 'latency_ms'?)")
    d = copy.deepcopy(good)
    d["entries"][1]["latency_ms"]["median"] = "fast"
    _err(d, "entries[1].latency_ms.median: expected a number")
    d = copy.deepcopy(good)
    d["entries"][3]["provenance"] = {"kind": "predicted", "inputs": {}}
    _err(d, "entries[3].provenance.predictor: required field is missing")
    d = copy.deepcopy(good)
    d["entries"][0]["provenance"] = {"kind": "published"}
    _err(d, "entries[0].provenance.source")
    d = copy.deepcopy(good)
    d["entries"][0]["sha256"] = "xyz"
    _err(d, "entries[0].sha256")
    d = copy.deepcopy(good)
    d["schema"] = "edgecv.device-profile/9"
    _err(d, "schema: expected 'edgecv.device-profile/1'")
    d = copy.deepcopy(good)
    d["device"]["peak_throughput"] = {"fp32_gflops": 3}
    _err(d, "device.peak_throughput.fp32_gflops")


def test_unknown_fields_are_kept_and_explicit_nulls_allowed():
    d = {"schema": dv.SCHEMA, "device": {"name": "x", "kind": "desktop", "cpu": None, "gpu": None, "npu": None,
                                         "memory_bandwidth_gbps": None, "peak_throughput": None,
                                         "sources": None, "future_field": 1},
         "entries": [dict(_measured(), extra_thing={"a": 1})]}
    out = dv.validate_profile(d, "ok.yaml")
    assert out["entries"][0]["extra_thing"] == {"a": 1} and out["device"]["future_field"] == 1


def test_bad_yaml_and_missing_file_say_which_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("schema: [unclosed\n")
    with pytest.raises(dv.ProfileError, match=re.escape(str(f)) + ": not valid YAML"):
        dv.load_profile(f)
    with pytest.raises(dv.ProfileError, match="no such profile file"):
        dv.load_profile(tmp_path / "none.yaml")


def test_unknown_device_lists_the_known_ones():
    with pytest.raises(dv.ProfileError) as ei:
        dv.load_profile("jetson-nano")
    msg = str(ei.value)
    assert "unknown device 'jetson-nano'" in msg and "did you mean 'jetson-orin-nano'" in msg
    for n in dv.known_devices():
        assert n in msg
    with pytest.raises(dv.ProfileError, match="known devices: "):
        dv.profile_path("nope")


# ---------------------------------------------------------------------------------------------- lookup
def test_find_entry_prefers_measured_then_newest():
    p = {"schema": dv.SCHEMA, "device": {"name": "x", "kind": "jetson"},
         "entries": [_predicted(ms=3.0), _measured(ms=2.0)]}
    dv.validate_profile(p, "x")
    e = dv.find_entry(p, artifact="mnv2-dcn-standard-fp32.onnx", backend="ort-trt", precision="fp32", threads=1)
    assert e["provenance"]["kind"] == "measured"
    assert dv.find_entry(p, artifact="mnv2-dcn", provenance="predicted")["latency_ms"]["median"] == 3.0
    assert dv.find_entry(p, artifact="mnv2-dcn-portable-fp32.onnx") is None
    assert dv.find_entry(p, artifact="mnv2-dcn-standard-fp32.onnx", sha256="b" * 64) is None


def test_profile_artifacts_output_validates():
    from edgecv.runtime.profile import PROFILE_SCHEMA, this_device

    out = {"schema": PROFILE_SCHEMA, "device": this_device("my-box"), "entries": [_measured(backend="ort")]}
    out["entries"][0]["process_peak_rss_mib"] = None
    out["entries"][0]["ops_mode"] = None
    dv.validate_profile(out, "measured")
    assert out["entries"][0]["compute_unit"] == "cpu"


# ---------------------------------------------------------------------------------------------- import
def _base(tmp_path):
    base = dv.load_profile("jetson-orin-nano")
    base["entries"] = [e for e in base["entries"] if e["provenance"]["kind"] != "predicted"]  # the shipped ones
    base["entries"] += [_predicted(), _predicted(precision="fp16"), _predicted(backend="ort", threads=2)]
    path = tmp_path / "jetson-orin-nano.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def _imported(tmp_path, name="orin"):
    imp = {"schema": dv.SCHEMA, "device": {"name": name, "kind": "desktop", "cpu": "ARMv8 rev 1", "cores": 6,
                                           "memory_gib": 7.4, "arch": "aarch64", "os": "Linux 5.15-tegra"},
           "entries": [_measured(ms=2.0), _measured(artifact="warp-head-standard-fp32.onnx", ms=1.0),
                       _predicted(artifact="other.onnx")]}
    f = tmp_path / "measured.yaml"
    f.write_text(yaml.safe_dump(imp, sort_keys=False))
    return f


def test_import_replaces_predicted_entries_and_keeps_others(tmp_path):
    base = _base(tmp_path)
    path, s = schema.import_measured(_imported(tmp_path), "jetson-orin-nano", out=base)
    assert path == base
    assert s["added"] == 2 and s["replaced"]["predicted"] == 1 and s["skipped_not_measured"] == 1
    merged = dv.load_profile(base)
    kinds = dv.provenance_counts(merged)
    assert kinds == {"measured": 2, "predicted": 2, "published": 3}
    e = dv.find_entry(merged, artifact="mnv2-dcn-standard-fp32.onnx", backend="ort-trt", precision="fp32")
    assert e["provenance"]["kind"] == "measured" and e["latency_ms"]["median"] == 2.0
    # the spec block of the shipped profile is kept; only its nulls are filled from the import
    assert merged["device"]["name"] == "jetson-orin-nano" and merged["device"]["kind"] == "jetson"
    assert merged["device"]["cpu"].startswith("Arm Cortex-A78AE") and merged["device"]["os"] == "Linux 5.15-tegra"
    assert not list(tmp_path.glob("*.tmp"))
    # a newer measurement replaces the older one
    f = tmp_path / "again.yaml"
    again = yaml.safe_load(_imported(tmp_path).read_text())
    again["entries"] = [_measured(ms=1.5)]
    again["entries"][0]["provenance"]["date"] = "2026-12-01T10:00:00+00:00"
    f.write_text(yaml.safe_dump(again))
    _, s2 = schema.import_measured(f, "jetson-orin-nano", out=base)
    assert s2["replaced"]["measured"] == 1
    e = dv.find_entry(dv.load_profile(base), artifact="mnv2-dcn-standard-fp32.onnx", backend="ort-trt",
                      precision="fp32")
    assert e["latency_ms"]["median"] == 1.5


def test_import_keys_by_sha256_where_present(tmp_path):
    base = _base(tmp_path)
    f = tmp_path / "m.yaml"
    imp = yaml.safe_load(_imported(tmp_path).read_text())
    imp["entries"] = [_measured(sha="b" * 64)]  # another build of the same file name
    f.write_text(yaml.safe_dump(imp))
    _, s = schema.import_measured(f, "jetson-orin-nano", out=base)
    assert s["replaced"]["predicted"] == 0 and s["added"] == 1


def test_cli_import_into_shipped_profile_by_device_name(tmp_path, monkeypatch):
    from edgecv.cli import main

    base = _base(tmp_path)
    shipped = dict(schema.profile_paths())
    shipped["jetson-orin-nano"] = base  # never touch the real devices/ folder
    monkeypatch.setattr(schema, "profile_paths", lambda: shipped)
    r = CliRunner().invoke(main, ["profile", "--import", str(_imported(tmp_path)), "--device", "jetson-orin-nano"])
    assert r.exit_code == 0, r.output
    assert "imported 2 measured entries" in r.output and "replaced 1 predicted" in r.output
    assert dv.provenance_counts(yaml.safe_load(base.read_text()))["measured"] == 2

    # default --device: the imported file's device.name, which must be a known device
    r = CliRunner().invoke(main, ["profile", "--import", str(_imported(tmp_path, name="my-orin"))])
    assert r.exit_code == 2 and "unknown device 'my-orin'" in r.output and "jetson-orin-nano" in r.output

    bad = tmp_path / "bad.yaml"
    d = yaml.safe_load(_imported(tmp_path).read_text())
    del d["entries"][0]["provenance"]["host"]
    bad.write_text(yaml.safe_dump(d))
    before = base.read_text()
    r = CliRunner().invoke(main, ["profile", "--import", str(bad), "--device", "jetson-orin-nano"])
    assert r.exit_code == 2 and "entries[0].provenance.host" in r.output
    assert base.read_text() == before

    r = CliRunner().invoke(main, ["profile", "x.onnx", "--import", str(bad)])
    assert r.exit_code == 2 and "not both" in r.output


# ---------------------------------------------------------------------------------------------- report
def test_devices_command_lists_known_devices():
    from edgecv.cli import main

    r = CliRunner().invoke(main, ["devices"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for n in REQUIRED:
        assert n in r.output


def test_report_writes_html_and_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from edgecv.cli import main

    val = tmp_path / "validation.json"
    val.write_text(json.dumps([
        {"name": "mnv2 ort x1", "group": "desktop", "config": {"threads": 1}, "measured_ms": 4.0, "predicted_ms": 4.2},
        {"name": "warp ort x1", "group": "desktop", "config": {"threads": 1}, "measured_ms": 1.0, "predicted_ms": 1.4},
        {"name": "broken", "group": "x", "measured_ms": None, "predicted_ms": 1.0}]))
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "a.json").write_text(json.dumps({"device": "jetson-orin-nano", "pipeline": "dff-seg", "fps_target": 30,
                                              "predicted_fps": 41.5, "settings": {"key_every": 5, "precision": "fp16"},
                                              "why": ["fp16 on tensorrt", "key frame every 5"]}))
    (plans / "b.json").write_text("{not json")
    out = tmp_path / "rep" / "report.html"
    r = CliRunner().invoke(main, ["report", "--out", str(out), "--devices", "jetson-orin-nano,desktop-amd-epyc-2c",
                                  "--plans", str(plans), "--predictor-validation", str(val)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    for src in re.findall(r'<img src="([^"]+)"', page):
        png = out.parent / src
        assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"
    assert (out.parent / "report-predictor.png").exists() and (out.parent / "report-jetson-orin-nano.png").exists()
    for text in ("measured", "published", "opencv_zoo", "Predictor validation", "within ±10%", "dff-seg",
                 "key_every=5", "b.json: skipped"):
        assert text in page, text
    assert "warning:" in r.output  # the broken record and the bad plan file
    assert not list(out.parent.glob(".*tmp*"))

    r = CliRunner().invoke(main, ["report", "--out", str(out), "--devices", "jetson-nano"])
    assert r.exit_code == 2 and "known devices" in r.output


def test_devices_package_is_torch_free_and_light():
    code = ("import sys, edgecv.devices as d; d.load_profile('pixel-4'); "
            "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)


def test_device_profile_json_schema_is_current():
    """docs/schemas/device-profile.schema.json is generated: ``python -c "import json; from
    edgecv.devices.schema import json_schema; print(json.dumps(json_schema(), indent=2, sort_keys=True))"
    > docs/schemas/device-profile.schema.json``."""
    path = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "device-profile.schema.json"
    assert path.read_text() == json.dumps(schema.json_schema(), indent=2, sort_keys=True) + "\n"


def test_devices_import_nothing_from_the_runtime():
    import ast

    root = Path(schema.__file__).parent
    bad = [f"{f.name}: {n.module}" for f in root.rglob("*.py") for n in ast.walk(ast.parse(f.read_text()))
           if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("edgecv.runtime")]
    assert not bad, bad
    assert EdgeCVError is dv.ProfileError.__mro__[1]   # one base class, re-exported by edgecv.runtime.errors
