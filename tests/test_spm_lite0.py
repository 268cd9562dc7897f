"""``spm-lite0``: SPM's coarse-to-fine loop on boxtrack-fc's graphs. The fine stage re-scores only the coarse
stage's few peaks, by the candidate's own appearance; the variant is boxtrack-fc but for it; on real frames the lost
state holds (must-show 3 for the new tracker)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edgecv.runtime.track import make_tracker
from edgecv.runtime.track.boxtrack import BoxTrackTracker, appearance
from edgecv.runtime.track.registry import default_params, get_variant

from .views import assert_follows_then_lost


@pytest.fixture(scope="module")
def arts(exported):
    t, _ = exported("boxtrack-fc", "onnx", "fp32")
    return Path(t).parent


def test_params_are_boxtrack_fcs_but_the_fine_stage():
    a, b = default_params("boxtrack-fc"), default_params("spm-lite0")
    diff = {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}
    assert diff == {"fine_k"} and a.fine_k == 0 and b.fine_k > 1
    v = get_variant("spm-lite0")
    assert (v.model, v.tracker) == ("boxtrack-fc", "BoxTrackTracker")
    assert v.search_passes() == get_variant("boxtrack-fc").search_passes()  # no extra graph pass


def test_fine_stage_rescores_only_the_coarse_peaks_by_appearance():
    """Two target-like peaks: the higher one looks unlike the target, the lower one like it. The fine stage keeps
    only the k best 3×3 local maxima of the coarse map (every other cell −1) and the look-alike loses to the target;
    at T = 0 the coarse order stands."""
    n, c = 13, 16
    rng = np.random.default_rng(0)
    feat = np.abs(rng.normal(0.2, 0.05, size=(c, n, n))).astype(np.float32)
    target, other = np.repeat([[1.0, 0.0], [0.0, 1.0]], c // 2, axis=1)  # unlike channels (features are >= 0)
    feat[:, 3:6, 3:6] += target[:, None, None].astype(np.float32)   # the target at cell (4, 4)
    feat[:, 7:10, 7:10] += other[:, None, None].astype(np.float32)  # a look-alike at (8, 8)
    yy, xx = np.mgrid[:n, :n]
    coarse = 0.6 * np.exp(-((yy - 4) ** 2 + (xx - 4) ** 2) / 2) + 0.8 * np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 2)
    half = np.full((n, n), 1.5)

    trk = BoxTrackTracker.__new__(BoxTrackTracker)
    trk.p = default_params("spm-lite0", fine_k=2)
    trk.looks = [appearance(feat, 1.5, 1.5, trk.p.reacquire_bands)[4, 4]]
    out, fine = trk._fine(coarse, coarse, feat, half, half)
    assert set(map(tuple, np.argwhere(out > -1))) == {(4, 4), (8, 8)}
    assert fine[4, 4] == pytest.approx(1.0, abs=1e-6) and fine[8, 8] < 0.5
    assert np.unravel_index(out.argmax(), out.shape) == (4, 4)
    trk.p = default_params("spm-lite0", fine_k=2, fine_temperature=0.0)
    out, _ = trk._fine(coarse, coarse, feat, half, half)
    assert np.unravel_index(out.argmax(), out.shape) == (8, 8)


def test_lost_within_10_frames_of_the_target_leaving(arts):
    """Must-show 3 for spm-lite0: the pan over real held-out frames carries the pedestrian out of view; it follows
    her while she is in view and says lost within 10 frames of her last pixel leaving."""
    trk = make_tracker("spm-lite0", arts, "ort", "fp32", threads=1)
    assert trk.name == "spm-lite0" and trk.p.fine_k > 0
    assert_follows_then_lost(trk)
