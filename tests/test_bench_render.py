"""BENCHMARKS.md is generated from bench/results/*.json by bench/render.py: the two cannot drift apart, every
result says where and how it was measured, and the links into it from README/DEVELOPERS resolve."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _module(name: str):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(REPO / "bench"))


render = _module("render")


def test_benchmarks_md_is_what_render_generates():
    expected = render.render(render.load())
    assert (REPO / "BENCHMARKS.md").read_text() == expected, \
        "BENCHMARKS.md differs from bench/results/*.json: run `python bench/render.py` (never edit it by hand)"


def test_every_result_says_machine_date_and_command():
    docs = render.load()
    assert docs
    for path in sorted(render.RESULTS.glob("*.json")):
        doc = json.loads(path.read_text())
        assert doc.get("area") == path.stem, path
        assert render.problems(doc) == [], (path.name, render.problems(doc))
        if doc["rows"]:
            for key in ("machine", "date", "command"):
                assert doc[key] and doc[key] != "pending", (path.name, key)


def test_links_into_benchmarks_resolve():
    areas = {d["area"] for d in render.load()}
    for name in ("README.md", "DEVELOPERS.md"):
        for anchor in re.findall(r"BENCHMARKS\.md#([a-z0-9-]+)", (REPO / name).read_text()):
            assert anchor in areas, f"{name} links to BENCHMARKS.md#{anchor}, which no result defines"
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", render.render(render.load())):
        assert anchor in areas, f"BENCHMARKS.md links to #{anchor}, which no result defines"


def test_write_result_is_atomic_and_keeps_the_reading(tmp_path, monkeypatch):
    common = _module("common")
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    (tmp_path / "demo.json").write_text(json.dumps({
        "area": "demo", "title": "Demo", "machine": "m0", "date": "2026-01-01 00:00 UTC", "command": "c0",
        "columns": ["a"], "rows": [["1"]], "notes": [], "reading": ["a is 1"]}))
    common.write_result("demo", "m1", "python bench/x.py", ["a", "b"], [[2, "x"]], "how")
    doc = json.loads((tmp_path / "demo.json").read_text())
    assert (doc["machine"], doc["command"], doc["columns"], doc["rows"], doc["notes"]) == \
        ("m1", "python bench/x.py", ["a", "b"], [[2, "x"]], ["how"])
    assert doc["title"] == "Demo" and doc["reading"] == ["a is 1"]
    assert doc["reading_date"] == "2026-01-01 00:00 UTC" != doc["date"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]          # no temporary file left behind
    assert "Reading, written for the run of 2026-01-01 00:00 UTC" in render.render([doc])
    with pytest.raises(ValueError):
        common.write_result("demo", "m", "c", ["a", "b"], [[1]], [])
    assert json.loads((tmp_path / "demo.json").read_text()) == doc        # a refused write changes nothing
