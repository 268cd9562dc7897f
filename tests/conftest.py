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
