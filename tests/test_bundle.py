"""The pipeline/bundle contract (runtime/bundle.py) and typed, bound manifests (runtime/manifest.py).

Issue 22 item 3 reproduced through the CLI: tampered manifests (stride 0, search_size "abc", score_size
removed, frame_size removed, a JSON list, model_info edited after export) and a tampered graph each give
exit 2 and one line naming the file and the field.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgecv.cli import main
from edgecv.runtime import ArtifactError, bundle
from edgecv.runtime import manifest as mf

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "manifest.schema.json"


def _copy(paths, dest: Path) -> Path:
    dest.mkdir(exist_ok=True)
    for p in map(Path, paths):
        shutil.copy(p, dest / p.name)
        shutil.copy(str(p) + ".json", dest / (p.name + ".json"))
    return dest


def _edit(path: Path, fn, seal: bool = False) -> None:
    m = json.loads(path.read_text())
    r = fn(m)
    m = r if isinstance(r, list) and r and r[0] is m else m   # [m]: the document becomes a list
    if seal and isinstance(m, dict):
        mf.seal_manifest(m)
    path.write_text(json.dumps(m, indent=2))


def _one_line_exit2(r, *needles):
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def video():
    from edgecv import data

    return data.ensure_samples(verbose=False) / "vtest.avi"


def test_naming_rule_and_backend_format_are_the_exporters(exported):
    assert bundle.artifact_name("siamfc", "search", "onnx", "int8", "portable") == "siamfc-search-portable-int8.onnx"
    assert bundle.artifact_name("dff-seg", "flow", "tflite", "fp32", "portable") == "dff-seg-flow-fp32.tflite"
    assert bundle.artifact_name("mnv2-dcn", None, "onnx", "fp32") == "mnv2-dcn-standard-fp32.onnx"
    with pytest.raises(ArtifactError, match="unknown artifact format"):
        bundle.artifact_name("m", None, "pt")
    assert {b: bundle.backend_format(b) for b in ("ort", "ort-trt", "opencv", "litert", "tflite", "litert:gpu")} == {
        "ort": "onnx", "ort-trt": "onnx", "opencv": "onnx", "litert": "tflite", "tflite": "tflite",
        "litert:gpu": "tflite"}
    assert bundle.runtime_backend("tflite") == "litert" and bundle.runtime_backend("onnx") == "ort"
    with pytest.raises(ArtifactError, match="unknown backend 'tpu'"):
        bundle.backend_format("tpu")
    # what export wrote is what the bundle finds
    t, s = exported("siamfc", "onnx", "fp32")
    assert Path(exported("mnv2-dcn", "onnx", "fp32", "standard")).name == bundle.artifact_name("mnv2-dcn")
    b = bundle.find_bundle("track", Path(t).parent, "siamfc")
    assert b.paths == {"template": Path(t), "search": Path(s)} and b.model == "siamfc"
    assert b.infos["search"].stride == 8 and b.geometry["score_size"] == 25
    with pytest.raises(FileNotFoundError, match="edgecv export siamfc --format tflite --precision int8"):
        bundle.find_bundle("track", Path(t).parent, "siamfc", "tflite", "int8")


def test_manifest_schema_file_is_current():
    """docs/schemas/manifest.schema.json is generated: ``python -c "import json; from edgecv.runtime.manifest
    import json_schema; print(json.dumps(json_schema(), indent=2, sort_keys=True))" > docs/schemas/...``."""
    assert SCHEMA_FILE.read_text() == json.dumps(mf.json_schema(), indent=2, sort_keys=True) + "\n"


def test_exported_manifest_is_typed_and_bound(exported):
    p = exported("mnv2-dcn", "onnx", "fp32", "standard")
    m = json.loads(Path(str(p) + ".json").read_text())
    typed = mf.check_manifest(m, p)
    assert typed.manifest_sha256 == mf.manifest_digest(m) and typed.model == "mnv2-dcn"
    assert typed.inputs[0].shape == [1, 3, 128, 128] and mf.info_type(m["model_info"]) is mf.ClassifyInfo


def test_tampered_tracker_manifests_exit_2_naming_file_and_field(exported, video, tmp_path):
    t, s = exported("siamfc", "onnx", "fp32")
    arts = _copy([t, s], tmp_path / "arts")
    sj = arts / "siamfc-search-standard-fp32.onnx.json"
    keep = sj.read_text()
    run = ["track", str(video), "--init", "300,200,40,90", "--max-frames", "3", "--threads", "1",
           "--artifacts", str(arts)]
    r = CliRunner().invoke(main, run)
    assert r.exit_code == 0, r.output

    def info(**kv):
        return lambda m: m["model_info"].update(kv)

    cases = [  # (edit, re-seal as an attacker could, what the one line must say)
        (info(stride=0), False, "model_info.stride must be an int >= 1, got 0"),
        (info(stride=0), True, "model_info.stride must be an int >= 1, got 0"),
        (info(search_size="abc"), True, "model_info.search_size must be an int, got 'abc'"),
        (lambda m: m["model_info"].pop("score_size"), True, "model_info.score_size is missing"),
        (info(search_size=100), True, "search_size (100) must be >= template_size (127)"),
        (info(stride=16), False, "was modified after export"),
        (lambda m: m.update(sha256="0" * 64), False, "was modified after export"),
        (lambda m: m.pop("manifest_sha256"), False,
         "older edgecv export, before manifests were bound to their graphs); re-export it: "
         "`edgecv export siamfc --format onnx --precision fp32 --ops standard`"),
        (lambda m: [m], False, "not an edgecv manifest (a JSON list"),
        (lambda m: m.pop("inputs"), True, "inputs is missing"),
    ]
    for edit, seal, needle in cases:
        sj.write_text(keep)
        _edit(sj, edit, seal)
        _one_line_exit2(CliRunner().invoke(main, run), str(sj), needle)
    sj.write_text(keep)


def test_tampered_dff_manifest_exit_2(exported, video, tmp_path):
    arts = _copy(exported("dff-seg", "onnx", "fp32"), tmp_path / "arts")
    fj = arts / "dff-seg-flow-standard-fp32.onnx.json"
    for seal in (False, True):
        _edit(fj, lambda m: m["model_info"].pop("frame_size", None), seal)
        r = CliRunner().invoke(main, ["propagate", str(video), "--key-interval", "4", "--max-frames", "3",
                                      "--threads", "1", "--artifacts", str(arts)])
        _one_line_exit2(r, str(fj), "model_info.frame_size is missing")  # types are checked before the binding
    _edit(fj, lambda m: m["model_info"].update(frame_size=[256, 0]), True)
    with pytest.raises(ArtifactError, match=r"model_info.frame_size\[1\] must be an int >= 1, got 0"):
        bundle.find_bundle("propagate", arts)


def test_info_and_profile_refuse_list_manifests_and_tampered_graphs(exported, tmp_path):
    p = _copy([exported("mnv2-dcn", "onnx", "fp32", "standard")], tmp_path / "arts") / "mnv2-dcn-standard-fp32.onnx"
    r = CliRunner().invoke(main, ["info", str(p)])
    assert r.exit_code == 0 and "verified" in r.output, r.output
    mj = Path(str(p) + ".json")
    keep = mj.read_text()
    mj.write_text(json.dumps([json.loads(keep)]))
    for cmd in (["info", str(p)], ["profile", str(p), "--runs", "1", "--warmup", "0"]):
        _one_line_exit2(CliRunner().invoke(main, cmd), str(mj), "not an edgecv manifest")
    mj.write_text(keep)
    data = bytearray(p.read_bytes())
    data[200] ^= 0xFF
    p.write_bytes(bytes(data))
    _one_line_exit2(CliRunner().invoke(main, ["info", str(p)]), str(p), "does not match the manifest")


def test_naming_rule_and_backend_map_are_written_once():
    """The file-name rule, the backend → format map and the manifest pipeline check live in runtime/bundle.py
    only (docstrings describing the names aside)."""
    import re

    root = Path(__file__).resolve().parents[1]
    rule = re.compile(r'(precision|prec)\}\.(onnx|tflite)"|"litert": "tflite"|-standard-fp32\.onnx"|'
                      r"model_info\.pipeline is|BACKEND_FORMAT = ")
    hits = [f"{p.relative_to(root)}:{i}" for folder in ("edgecv", "export", "runtime", "bench", "devices")
            for p in (root / folder).rglob("*.py") if p.name != "bundle.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if rule.search(line) and ">>>" not in line]
    assert hits == []
