"""The frame-budget planner: cost models, the choice under a budget, impossible budgets, plan files, and the
loops taking a plan (on real held-out frames, with the shipped dff-seg weights)."""
from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from edgecv.cli import main
from edgecv.runtime.plan import PlanError, accuracy_table, load_plan, make_plan, settings_for, write_plan
from edgecv.runtime.plan.pipelines import artifact_name


def _entry(artifact, backend, threads, ms, kind="measured"):
    prov = {"kind": kind}
    if kind == "measured":
        prov.update(host="test", date="2026-12-01T00:00:00+00:00", tools={}, command="test")
    return {"artifact": artifact, "backend": backend, "threads": threads, "precision": "fp32",
            "latency_ms": {"median": ms, "p90": ms * 1.1}, "provenance": prov}


def _profile(feature=20.0, flow=4.0, head=1.0, loop=2.0):
    """A profile with dff-seg on litert at 1 thread: feature 20, flow 4, head 1 ms; the loop's own 2 ms."""
    entries = [_entry(artifact_name("dff-seg", p, "litert", "fp32"), "litert", 1, ms)
               for p, ms in (("feature", feature), ("flow", flow), ("head", head))]
    return {"schema": "edgecv.device-profile/1", "device": {"name": "testdev", "kind": "desktop"},
            "entries": entries, "loops": {"propagate": {"default": {"overhead_ms": loop,
                                                                     "provenance": {"kind": "measured"}}}}}


def test_propagate_cost_model_and_choice():
    acc = accuracy_table()
    prof = _profile()
    # K=1: 2 + 20 + 1 = 23 ms → 43.5 fps, the most accurate: chosen when the budget allows it
    p = make_plan(prof, "propagate", fps=40, accuracy=acc, options={"models": ["dff-seg"], "precisions": ["fp32"]})
    assert p["settings"]["key_interval"] == 1 and p["predicted_mean_ms"] == pytest.approx(23.0)
    # 60 fps (16.7 ms): K=1 no longer fits; K=2 costs 2 + 21/2 + 5/2 = 15 ms and is the most accurate that does
    p = make_plan(prof, "propagate", fps=60, accuracy=acc, options={"models": ["dff-seg"], "precisions": ["fp32"]})
    assert p["settings"]["key_interval"] == 2 and p["predicted_mean_ms"] == pytest.approx(15.0)
    assert p["worst_frame_ms"] == pytest.approx(23.0)  # a key frame
    assert p["latency_provenance"] == ["measured"]
    # a worst-frame budget under a key frame's cost leaves no fixed-K plan at all
    with pytest.raises(PlanError, match="lowest worst-frame latency is 23.0 ms"):
        make_plan(prof, "propagate", fps=30, latency_ms=10, accuracy=acc, options={"models": ["dff-seg"]})
    # the more fps asked, the longer the interval and the lower the expected accuracy
    ks = [make_plan(prof, "propagate", fps=f, accuracy=acc,
                    options={"models": ["dff-seg"], "precisions": ["fp32"], "key_intervals": [1, 2, 5, 10]}
                    )["settings"]["key_interval"] for f in (40, 60, 90)]
    assert ks == [1, 2, 5]


def test_interpolated_key_interval_says_so():
    prof = _profile()
    p = make_plan(prof, "propagate", fps=80, options={"models": ["dff-seg"], "precisions": ["fp32"],
                                                      "key_intervals": [3, 4]})
    assert "interpolated" in p["expected_accuracy"]["note"]
    a2, a5 = (next(r["value"] for r in accuracy_table()["propagate"]["entries"]
                   if r["model"] == "dff-seg" and r["backend"] == "litert" and r["precision"] == "fp32"
                   and r["key_interval"] == k) for k in (2, 5))
    assert min(a2, a5) <= p["expected_accuracy"]["value"] <= max(a2, a5)


def test_impossible_budget_names_the_best_reachable_fps():
    with pytest.raises(PlanError, match=r"impossible budget: 1000 fps .* best reachable is \d+\.\d fps"):
        make_plan(_profile(), "propagate", fps=1000)


def test_missing_artifacts_are_predicted_and_said():
    prof = _profile()
    prof["entries"] = [e for e in prof["entries"] if "flow" not in e["artifact"]]

    def predictor(artifact, backend, threads):
        return 4.0 if "flow" in artifact else None

    p = make_plan(prof, "propagate", fps=60, predictor=predictor, options={"models": ["dff-seg"],
                                                                          "precisions": ["fp32"]})
    assert p["predicted_mean_ms"] == pytest.approx(15.0)
    assert "predicted" in p["latency_provenance"]
    with pytest.raises(PlanError, match="no candidate settings"):
        make_plan(prof, "propagate", fps=60, options={"models": ["dff-seg"]})


def test_bad_input_named():
    with pytest.raises(PlanError, match="unknown pipeline 'segment'"):
        make_plan(_profile(), "segment", fps=30)
    with pytest.raises(PlanError, match="positive --fps"):
        make_plan(_profile(), "propagate", fps=0)


def test_plan_file_round_trip_and_pipeline_check(tmp_path):
    p = make_plan(_profile(), "propagate", fps=60, options={"models": ["dff-seg"]})
    path = write_plan(p, tmp_path / "plan.json")
    assert load_plan(path, "propagate")["settings"] == p["settings"]
    assert settings_for(path, "propagate")["backend"] == "litert"
    with pytest.raises(PlanError, match="for the 'propagate' pipeline, not 'track'"):
        load_plan(path, "track")
    (tmp_path / "bad.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(PlanError, match="not an edgecv plan"):
        load_plan(tmp_path / "bad.json")
    with pytest.raises(PlanError, match="does not exist"):
        load_plan(tmp_path / "none.json")


def test_cli_plan_and_propagate_takes_the_plan(exported, art_dir, tmp_path):
    """`edgecv plan` on a profile measured here for the exported ORT dff-seg graphs, then `edgecv propagate
    --plan` runs real held-out frames with the plan's settings."""
    import numpy as np

    from edgecv import data
    from edgecv.runtime import load
    from edgecv.runtime.profile import random_feeds, time_session

    paths = exported("dff-seg", "onnx", "fp32")
    entries = []
    for path in paths:
        sess = load(path, "ort", 1)
        entries.append(_entry(path.name, "ort", 1, time_session(sess, random_feeds(sess), 5, 1)["median"]))
    prof = {"schema": "edgecv.device-profile/1", "device": {"name": "here", "kind": "desktop"}, "entries": entries}
    (tmp_path / "here.yaml").write_text(__import__("yaml").safe_dump(prof))
    key_ms = sum(e["latency_ms"]["median"] for e in entries if "flow" not in e["artifact"])
    fps = 0.99 * 1000.0 / key_ms   # per-frame inference just fits
    r = CliRunner().invoke(main, ["plan", "--device", str(tmp_path / "here.yaml"), "--pipeline", "propagate",
                                  "--fps", f"{fps:.3f}", "--out", str(tmp_path / "plan.json")])
    assert r.exit_code == 0, r.output
    plan = load_plan(tmp_path / "plan.json")
    assert plan["settings"]["key_interval"] == 1 and plan["settings"]["backend"] == "ort"
    frames = data.video_part("vtest.avi", "heldout")[:6]
    video = tmp_path / "clip.avi"
    import cv2
    wr = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for f in frames:
        wr.write(f)
    wr.release()
    r = CliRunner().invoke(main, ["propagate", str(video), "--plan", str(tmp_path / "plan.json"), "--artifacts",
                                  str(art_dir), "--stats", str(tmp_path / "stats.json")])
    assert r.exit_code == 0, r.output
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["key_frames"] == stats["frames"] == 6   # K=1 from the plan: every frame is a key frame
    # an impossible budget exits non-zero with the best reachable rate
    r = CliRunner().invoke(main, ["plan", "--device", str(tmp_path / "here.yaml"), "--pipeline", "propagate",
                                  "--fps", "100000"])
    assert r.exit_code == 2 and "best reachable" in r.output
    assert np.isfinite(plan["predicted_fps"])


def test_track_cost_counts_the_search_passes_each_tracker_runs():
    """The planner's per-frame tracker cost multiplies the search graph by the passes the tracker's own
    parameters run: a scale pyramid's crops, Siam-BM's 5 candidates, SPM's pyramid every n-th frame."""
    from edgecv.runtime.plan.core import Latencies
    from edgecv.runtime.plan.pipelines import track_candidates
    from edgecv.runtime.track.registry import default_params, get_variant, tracker_names

    def search_passes(name, params=None):
        return get_variant(name).search_passes(params)

    assert search_passes("siambm-lite0") == 5
    assert search_passes("siamfc") == default_params("siamfc").num_scales == 3
    assert search_passes("spm-lite0") == search_passes("boxtrack-fc")  # the fine stage runs on the same pass
    assert search_passes("boxtrack", default_params("boxtrack", template_lr=0.0)) == 1
    from edgecv.runtime.track.registry import graph_params  # the SPM graphs' values (spm-nano's, retired)
    from edgecv.runtime.track.spm import SPMTracker

    spm = graph_params("spm-nano", "spm-nano")
    assert SPMTracker.search_passes(spm) == 2       # 3 crops on every other frame, 1 between
    assert SPMTracker.search_passes(dataclasses.replace(spm, num_scales=1)) == 1
    assert SPMTracker.search_passes(dataclasses.replace(spm, num_scales=3, scale_every=3)) == pytest.approx(5 / 3)
    assert search_passes("mosse") == 0              # a baseline runs no graph
    siamese = tracker_names(siamese=True)
    models = sorted({get_variant(n).model for n in siamese})
    profile = {"entries": [_entry(artifact_name(m, "search", "litert", "fp32"), "litert", 1, 4.0) for m in models]}
    acc = {"entries": [{"tracker": n, "backend": "litert", "precision": "fp32", "value": 0.5} for n in siamese]}
    cands = track_candidates(profile, Latencies(profile), acc, {"precisions": ["fp32"]})
    assert {c["settings"]["tracker"] for c in cands} == set(siamese)
    for c in cands:
        assert c["mean_ms"] == pytest.approx(4.0 * search_passes(c["settings"]["tracker"])), c["cost_note"]


def test_track_plan_can_choose_boxtrack_and_its_file_loads(tmp_path):
    """Every registered tracker is a valid plan setting (the plan schema reads the registry): boxtrack, the most
    accurate and fast enough here, is chosen over siamfc, and its plan file loads back."""
    entries = [_entry(artifact_name(m, part, "ort", "fp32"), "ort", 1, ms)
               for m, part, ms in (("boxtrack", "search", 8.0), ("boxtrack", "template", 3.0),
                                   ("siamfc", "search", 6.0), ("siamfc", "template", 2.0))]
    prof = {"schema": "edgecv.device-profile/1", "device": {"name": "testdev", "kind": "desktop"},
            "entries": entries,
            "loops": {"track": {"default": {"overhead_ms": 1.0, "provenance": {"kind": "measured"}}}}}
    acc = {"track": {"metric": "AUC", "higher_is_better": True, "tie": 0.002, "entries": [
        {"tracker": "boxtrack", "backend": "ort", "precision": "fp32", "value": 0.66},
        {"tracker": "siamfc", "backend": "ort", "precision": "fp32", "value": 0.60}]}}
    p = make_plan(prof, "track", fps=30, accuracy=acc, options={"trackers": ["boxtrack", "siamfc"]})
    assert p["settings"]["tracker"] == "boxtrack"
    assert load_plan(write_plan(p, tmp_path / "plan.json"), "track")["settings"]["tracker"] == "boxtrack"
    # a model the user brought (nanotrack, planned with --accuracy) is a valid setting; a name no variant has is not
    write_plan(dict(p, settings=dict(p["settings"], tracker="nanotrack")), tmp_path / "brought.json")
    with pytest.raises(PlanError, match="tracker"):
        write_plan(dict(p, settings=dict(p["settings"], tracker="no-such-tracker")), tmp_path / "bad.json")
