"""Shared fixtures: artifacts exported once per test session from the shipped weights."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def art_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def exported(art_dir):
    """Export on first use, then reuse: ``exported("mnv2-dcn", "onnx", "fp32", "standard")``."""
    from edgecv.export import export

    cache: dict = {}

    def get(model="mnv2-dcn", fmt="onnx", precision="fp32", ops=None):
        key = (model, fmt, precision, ops)
        if key not in cache:
            cache[key] = export(model, fmt, precision, ops, out_dir=art_dir, progress=None)
        return cache[key]

    return get


@pytest.fixture
def dev_cut(tmp_path):
    """``dev_cut("vtest_woman", 20)``: an OTB-format dataset in tmp_path holding the first ``frames``
    frames of a committed dev sequence (its video range and groundtruth cut to match). Returns its folder."""
    import json
    from pathlib import Path

    def make(name: str, frames: int) -> Path:
        src_dir = Path(__file__).resolve().parents[1] / "datasets" / "otb-dev" / name
        seq = tmp_path / "ds" / f"{name}{frames}"
        seq.mkdir(parents=True)
        src = json.loads((src_dir / "source.json").read_text())
        frames_from = {k: src[k] for k in ("video", "images") if k in src}  # a video or numbered images
        (seq / "source.json").write_text(json.dumps({**frames_from, "start": src["start"],
                                                     "end": src["start"] + frames - 1}))
        (seq / "groundtruth_rect.txt").write_text("\n".join((src_dir / "groundtruth_rect.txt").read_text()
                                                            .splitlines()[:frames]) + "\n")
        return tmp_path / "ds"

    return make
