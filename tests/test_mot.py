"""Multi-object tracking (edgecv.runtime.mot, edgecv.eval.mot, `edgecv eval mot`): torch-free, fast.

The trackers run on synthetic scenes (:func:`synth_scene`): boxes moving at constant velocity with detection
noise, isolated missed detections, low-score clutter, and per scene one hard part (a partial occlusion that
lowers a target's detection scores, or two targets crossing with the one behind hidden).
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgecv.eval.mot import accumulate, average_precision, detection_ap, summarize
from edgecv.runtime.mot import (
    KalmanBoxFilter,
    MotError,
    MotTable,
    MultiTracker,
    get_params,
    iou_matrix,
    linear_assignment,
    read_det,
    read_gt,
    read_mot,
    read_seqinfo,
    track_detections,
    write_mot,
    xyah_to_xyxy,
    xyxy_to_xyah,
)

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("sort", "appearance", "bytetrack")


# -- the synthetic scene ---------------------------------------------------------------------------------------
@dataclass
class Target:
    cx: float                 # centre at frame 1
    cy: float
    vx: float                 # pixels per frame
    vy: float
    w: float = 40.0
    h: float = 100.0
    low: tuple = ()           # frames detected with a low score (partial occlusion)
    hidden: tuple = ()        # frames not detected at all (full occlusion)

    def box(self, f: int) -> np.ndarray:
        cx, cy = self.cx + self.vx * (f - 1), self.cy + self.vy * (f - 1)
        return np.array([cx - self.w / 2, cy - self.h / 2, self.w, self.h])


def synth_scene(targets, n_frames: int = 60, seed: int = 0, noise: float = 1.5, miss: float = 0.08,
                clutter: float = 0.3, emb_dim: int | None = None):
    """(gt, det) MotTables. Detections: groundtruth boxes plus Gaussian noise (``noise`` px), scores in
    [0.7, 0.95] ([0.2, 0.45] on a target's ``low`` frames); a target is missed with probability ``miss`` on a
    frame (never two frames in a row) and always on its ``hidden`` frames; ``clutter``: chance per frame of a
    false positive scoring below 0.3 somewhere away from the targets. With ``emb_dim``, each detection carries
    its target's embedding (random unit vectors, nearly orthogonal) plus noise; clutter carries random ones."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(len(targets), emb_dim or 1))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    gt, det, emb = [], [], []
    missed_last = [False] * len(targets)
    for f in range(1, n_frames + 1):
        for k, t in enumerate(targets):
            b = t.box(f)
            gt.append((f, k + 1, *b, 1.0))
            drop = f in t.hidden or (f not in t.low and not missed_last[k] and rng.random() < miss)
            missed_last[k] = drop and f not in t.hidden
            if drop:
                continue
            score = rng.uniform(0.2, 0.45) if f in t.low else rng.uniform(0.7, 0.95)
            det.append((f, -1, *(b + rng.normal(0.0, noise, 4)), score))
            emb.append(base[k] + rng.normal(0.0, 0.05, base.shape[1]))
        if rng.random() < clutter:
            det.append((f, -1, rng.uniform(500, 600), rng.uniform(350, 400), 30.0, 60.0, rng.uniform(0.1, 0.3)))
            emb.append(rng.normal(size=base.shape[1]))

    def table(rows, embs=None):
        a = np.asarray(rows, dtype=np.float64)
        return MotTable(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2:6], a[:, 6],
                        embedding=None if embs is None else np.asarray(embs))

    return table(gt), table(det, emb if emb_dim else None)


def straight_scene(seed):
    """Three well-separated targets on straight lines."""
    return synth_scene([Target(60, 80, 4, 0), Target(500, 250, -3, 1), Target(100, 420, 2, -2)], seed=seed)


def occlusion_scene(seed):
    """Two separated targets; the second is partly occluded for frames 20–35 (low-score detections only)."""
    return synth_scene([Target(60, 80, 4, 0), Target(80, 300, 3, 0, low=tuple(range(20, 36)))], seed=seed)


def crossing_scene(seed, emb_dim=None):
    """Two targets of one size crossing head-on on one line, slowly for the detection noise (2 px/frame each,
    noise 4 px; centres meet at frame 31); the one behind is not detected while they overlap most (frames
    29–33), and reappears still overlapping the other. A third target stays apart."""
    front = Target(190, 200, 2, 0)
    back = Target(310, 200, -2, 0, hidden=tuple(range(29, 34)))
    return synth_scene([front, back, Target(250, 420, 1, -1)], seed=seed, noise=4.0, emb_dim=emb_dim)


def metrics(gt, det, variant, use_embeddings=True):
    hyp = track_detections(det, variant, n_frames=gt.last_frame, use_embeddings=use_embeddings)
    return summarize({"s": accumulate(gt, hyp, gt.last_frame)})["s"]


# -- Kalman filter, IoU, matching ----------------------------------------------------------------------------------
def test_kalman_predicts_a_moving_box_forward():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(xyxy_to_xyah([[0, 0, 20, 40]]))
    for k in range(1, 8):                           # the box moves 5 px right and 2 px down per frame
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, xyxy_to_xyah([[5 * k, 2 * k, 20 + 5 * k, 40 + 2 * k]]))
    assert mean[0, 4] == pytest.approx(5.0, abs=0.5) and mean[0, 5] == pytest.approx(2.0, abs=0.5)
    pred, pcov = kf.predict(mean, cov)
    np.testing.assert_allclose(xyah_to_xyxy(pred)[0], [40, 16, 60, 56], atol=1.0)   # frame 8's box
    assert np.trace(pcov[0]) > np.trace(cov[0])     # prediction grows the uncertainty
    d2 = kf.gating_distance(pred, pcov, xyxy_to_xyah([[40, 16, 60, 56], [140, 16, 160, 56]]))
    assert d2.shape == (1, 2) and d2[0, 0] < 9.4877 < d2[0, 1]


def test_kalman_is_vectorised_over_tracks():
    kf = KalmanBoxFilter()
    boxes = np.array([[0, 0, 20, 40], [100, 50, 130, 110], [7, 9, 17, 29.0]])
    means, covs = kf.initiate(xyxy_to_xyah(boxes))
    pm, pc = kf.predict(means, covs)
    for i in range(3):                              # the batch equals one track at a time
        m1, c1 = kf.predict(means[i:i + 1], covs[i:i + 1])
        np.testing.assert_allclose(pm[i], m1[0])
        np.testing.assert_allclose(pc[i], c1[0])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes)


def test_iou_matrix_against_hand_computed_values():
    a = [[0, 0, 10, 10], [0, 0, 4, 4]]
    b = [[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]]
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    # 5x5 overlap of two 10x10 boxes: 25 / (100 + 100 - 25); a 4x4 box inside a 10x10 one: 16 / 100
    np.testing.assert_allclose(iou, [[25 / 175, 1.0, 0.0], [0.0, 16 / 100, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_hungarian_threshold_leaves_a_far_detection_unmatched():
    tracks = [[0, 0, 10, 10], [50, 50, 60, 60]]
    dets = [[51, 50, 61, 60], [1, 0, 11, 10], [200, 200, 210, 210]]   # the third is far from every track
    m = linear_assignment(1.0 - iou_matrix(tracks, dets), max_cost=0.7)
    assert sorted(map(tuple, m.matches.tolist())) == [(0, 1), (1, 0)]
    assert m.unmatched_rows.tolist() == [] and m.unmatched_cols.tolist() == [2]
    # a pair above the threshold stays unmatched even when it is the only one
    m = linear_assignment([[0.75]], max_cost=0.7)
    assert len(m.matches) == 0 and m.unmatched_rows.tolist() == [0] and m.unmatched_cols.tolist() == [0]
    # forbidden pairs (inf) are never matched, and empty matrices are fine
    m = linear_assignment([[np.inf, 0.1]], max_cost=0.7)
    assert m.matches.tolist() == [[0, 1]]
    assert len(linear_assignment(np.zeros((0, 3)), 0.7).unmatched_cols) == 3


def test_tracker_births_after_min_hits_and_dies_after_max_age():
    mt = MultiTracker(get_params("sort").with_(max_age=2))
    box = np.array([[10.0, 10, 50, 110]])
    assert [t.id for t in mt.update(box, [0.9])] == [1]          # first frames: reported at once (SORT's rule)
    for _ in range(4):
        mt.update(box, [0.9])
    late = np.array([[300.0, 10, 340, 110]])                     # a new target after the start-up frames
    out = [mt.update(np.concatenate([box, late]), [0.9, 0.9]) for _ in range(3)]
    assert [sorted(t.id for t in o) for o in out] == [[1], [1], [1, 2]]   # id 2 only on its 3rd hit
    for _ in range(3):                                            # nothing detected: lost, then removed
        assert mt.update(np.zeros((0, 4)), []) == []
    assert all(t.state == "removed" for t in mt.tracks)
    with pytest.raises(MotError, match="scores"):
        mt.update(box, [0.9, 0.8])


# -- the variants on synthetic scenes ------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_keeps_ids_on_separated_straight_tracks(variant):
    for seed in range(3):
        gt, det = straight_scene(seed)
        m = metrics(gt, det, variant)
        assert m["id_switches"] == 0, (variant, seed, m)
        assert m["mota"] > 0.8 and m["idf1"] > 0.85, (variant, seed, m)


def test_bytetrack_recovers_the_low_score_stretch_that_sort_drops():
    fn = {"sort": 0, "bytetrack": 0}
    for seed in range(3):
        gt, det = occlusion_scene(seed)
        ms = {v: metrics(gt, det, v) for v in fn}
        for v in fn:
            fn[v] += ms[v]["fn"]
        assert ms["bytetrack"]["id_switches"] == 0, ms
        assert ms["bytetrack"]["fn"] < ms["sort"]["fn"] - 10, ms    # 16 frames of low scores
    assert fn["bytetrack"] < fn["sort"] / 3, fn


def test_appearance_keeps_ids_at_the_crossing_where_sort_switches():
    sw = {"sort": 0, "appearance": 0, "appearance without embeddings": 0}
    for seed in range(6):
        gt, det = crossing_scene(seed, emb_dim=16)
        ms = {v: metrics(gt, det, v) for v in ("sort", "appearance")}
        ms["appearance without embeddings"] = metrics(gt, det, "appearance", use_embeddings=False)
        for v in sw:
            sw[v] += ms[v]["id_switches"]
        assert ms["appearance"]["id_switches"] < ms["sort"]["id_switches"], (seed, ms)
    assert sw["appearance"] == 0, sw
    # the embeddings are what keeps the ids, not only the longer max_age: without them the same variant
    # swaps the two targets when the hidden one reappears on top of the other
    assert sw["appearance without embeddings"] >= 3, sw


def test_bytetrack_does_not_start_tracks_from_low_score_clutter():
    gt, det = straight_scene(0)
    hyp = track_detections(det, "bytetrack", n_frames=gt.last_frame)
    assert not ((hyp.xywh[:, 0] > 480) & (hyp.xywh[:, 1] > 340) & (hyp.xywh[:, 2] < 35)).any()
    assert len(set(hyp.id.tolist())) == 3


# -- MOTChallenge files --------------------------------------------------------------------------------------------
def test_mot_text_round_trip(tmp_path):
    _, det = crossing_scene(1, emb_dim=4)
    p = write_mot(tmp_path / "det" / "det.txt", det)
    assert not [f for f in p.parent.iterdir() if f.name != "det.txt"]      # no temp file left beside it
    back = read_det(p)
    order = np.lexsort((det.id, det.frame))
    np.testing.assert_array_equal(back.frame, det.frame[order])
    np.testing.assert_allclose(back.xywh, det.xywh[order], atol=0.006)
    np.testing.assert_allclose(back.conf, det.conf[order], rtol=1e-3)
    np.testing.assert_allclose(back.embedding, det.embedding[order], rtol=1e-4, atol=1e-5)
    first = p.read_text().splitlines()[0].split(",")
    assert first[0] == "1" and first[1] == "-1" and first[7:10] == ["-1", "-1", "-1"] and len(first) == 14
    # tracker output round trip, and gt reading drops the rows flagged "not considered"
    gt, _ = straight_scene(0)
    hyp = track_detections(read_det(p), "bytetrack", n_frames=60)
    back = read_mot(write_mot(tmp_path / "res.txt", hyp))
    np.testing.assert_array_equal(back.id, hyp.id[np.lexsort((hyp.id, hyp.frame))])
    (tmp_path / "gt.txt").write_text("1,1,10,10,5,5,1,1,1.0\n1,2,30,30,5,5,0,1,1.0\n2,1,11,10,5,5,1,1,0.8\n")
    g = read_gt(tmp_path / "gt.txt")
    assert g.id.tolist() == [1, 1] and g.frame.tolist() == [1, 2]


@pytest.mark.parametrize("text, line, needle", [
    ("1,-1,10,10,5,5,0.9\n2,-1,abc,10,5,5,0.9\n", 2, "left is 'abc'"),
    ("1,-1,10,10,5,5,0.9\n\n1,-1,10,10\n", 3, "4 columns"),
    ("0,-1,10,10,5,5,0.9\n", 1, "frames start at 1"),
    ("1,-1,10,10,0,5,0.9\n", 1, "width 0"),
    ("1.5,-1,10,10,5,5,0.9\n", 1, "not an integer"),
    ("1,-1,10,10,5,5,0.9,-1,-1,-1,0.1,0.2\n2,-1,10,10,5,5,0.9,-1,-1,-1,0.1\n", 2, "11 columns"),
])
def test_malformed_line_names_file_and_line(tmp_path, text, line, needle):
    p = tmp_path / "det.txt"
    p.write_text(text)
    with pytest.raises(MotError) as e:
        read_det(p)
    assert f"{p}:{line}:" in str(e.value) and needle in str(e.value), str(e.value)


def test_seqinfo(tmp_path):
    p = tmp_path / "seqinfo.ini"
    p.write_text("[Sequence]\nname=S1\nseqLength=42\nframeRate=30\n")
    assert read_seqinfo(p) == {"name": "S1", "seq_length": 42, "frame_rate": 30, "im_width": None,
                               "im_height": None}
    p.write_text("[Sequence]\nseqLength=many\n")
    with pytest.raises(MotError, match="seqLength"):
        read_seqinfo(p)


# -- evaluation and the CLI ----------------------------------------------------------------------------------------
def test_detection_ap():
    gt = MotTable(np.array([1, 1]), np.array([1, 2]), np.array([[0, 0, 10, 10], [50, 50, 10, 10.0]]),
                  np.ones(2))
    det = MotTable(np.array([1, 1, 1]), -np.ones(3, np.int64),
                   np.array([[0, 0, 10, 10], [100, 100, 10, 10], [51, 50, 10, 10.0]]), np.array([0.9, 0.8, 0.7]))
    # ranked: TP (P 1, R .5), FP, TP (P 2/3, R 1) → AP = .5·1 + .5·2/3
    assert detection_ap(gt, det) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([0.9, 0.8], [True, True], 2) == pytest.approx(1.0)
    assert average_precision([], [], 0) is None


def make_dataset(root: Path) -> Path:
    for name, (gt, det) in {"SYN-01": crossing_scene(0, emb_dim=8), "SYN-02": occlusion_scene(1)}.items():
        write_mot(root / name / "gt" / "gt.txt", gt)
        write_mot(root / name / "det" / "det.txt", det)
        (root / name / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nseqLength={gt.last_frame}\n")
    return root


def test_cli_eval_mot_writes_results(tmp_path):
    from edgecv.cli import main

    ds, out = make_dataset(tmp_path / "ds"), tmp_path / "out"
    r = CliRunner().invoke(main, ["eval", "mot", "--dataset", str(ds), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "MOTA" in r.output and "IDF1" in r.output
    res = json.loads((out / "results.json").read_text())
    assert set(res["variants"]) == set(VARIANTS) and set(res["sequences"]) == {"SYN-01", "SYN-02"}
    for v in res["variants"].values():
        assert set(v["per_sequence"]) == {"SYN-01", "SYN-02"}
        assert {"mota", "idf1", "id_switches", "fp", "fn", "motp"} <= set(v["overall"])
        assert 0.0 < v["overall"]["motp"] <= 1.0
    assert res["variants"]["bytetrack"]["overall"]["fn"] < res["variants"]["sort"]["overall"]["fn"]
    assert 0.5 < res["detection_ap"]["OVERALL"] <= 1.0
    assert res["variants"]["appearance"]["embeddings_used"]
    assert (out / "bytetrack" / "SYN-02.txt").is_file() and (out / "results.md").read_text().startswith("| variant")


def _error_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.strip()]


@pytest.mark.parametrize("case", ["missing", "malformed", "variant", "no-det"])
def test_cli_eval_mot_bad_input_is_one_line_exit_2(tmp_path, case):
    from edgecv.cli import main

    ds = tmp_path / "ds"
    args = ["eval", "mot", "--dataset", str(ds), "--out", str(tmp_path / "out")]
    needle = {"missing": "does not exist", "malformed": "det.txt:2:", "variant": "unknown MOT variant 'kcf'",
              "no-det": "no detections file"}[case]
    if case != "missing":
        make_dataset(ds)
    if case == "malformed":
        p = ds / "SYN-02" / "det" / "det.txt"
        lines = p.read_text().splitlines()
        p.write_text("\n".join([lines[0], "2,-1,1,2,3\n", *lines[1:]]))
    if case == "variant":
        args += ["--variants", "sort,kcf"]
    if case == "no-det":
        (ds / "SYN-01" / "det" / "det.txt").unlink()
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = _error_lines(r.output)
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.output
    assert "Traceback" not in r.output


def test_mot_runtime_and_eval_import_without_torch():
    code = ("import sys, edgecv.runtime.mot, edgecv.eval.mot\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'scipy', 'motmetrics', 'pandas'))\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]   # scipy, motmetrics (pandas) load only when used


def test_variant_thresholds_follow_the_detectors_operating_point():
    """The papers' score thresholds are for YOLOX's scores: for_detector moves τ_high to the detector's operating
    point, keeps ByteTrack's birth margin (ε − τ_high = 0.1) and τ_low (capped), and refuses a point outside (0, 1)."""
    from edgecv.runtime.mot import MotError, get_params

    b = get_params("bytetrack").for_detector(0.25)
    assert (b.high_thresh, b.low_thresh, b.new_track_thresh) == (0.25, 0.1, 0.35)
    low = get_params("bytetrack").for_detector(0.05)
    assert low.low_thresh == 0.05 <= low.high_thresh
    s = get_params("sort").for_detector(0.3)
    assert s.high_thresh == s.low_thresh == s.new_track_thresh == 0.3 and s.max_age == 1
    assert get_params("appearance").for_detector(None) == get_params("appearance")
    with pytest.raises(MotError, match="operating point"):
        get_params("sort").for_detector(1.5)
