"""Soak (marker ``soak``, run by ``make soak`` and CI, not by the default test run): 10k frames through the
tracking loop engine as ``edgecv track`` runs it (video and boxes written, no per-frame results kept); RSS
may grow by less than 5 MiB after warm-up."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.soak
def test_tracking_loop_10k_frames_rss_flat(exported):
    paths = exported("siamfc", "onnx", "fp32")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "soak.py"), "--frames", "10000", "--warmup", "500",
                        "--artifacts", str(Path(paths[0]).parent)], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["frames"] == out["box_lines"] == 10000
    assert out["growth_mib"] < 5.0, out
