"""The planner's multi-object tracking pipeline (issue 26): per frame = the person detector's graph latency from a
device profile + the mot loop's own work (resize, heatmap decoding, association) from the profile's
``loops: mot:`` block; accuracy IDF1 from ``devices/accuracy.json``; the plan file read back by ``edgecv mot
--plan`` on real held-out frames of vtest.avi."""
from __future__ import annotations

import json

import cv2
import pytest
import yaml
from click.testing import CliRunner

from edgecv.cli import main
from edgecv.devices import load_profile
from edgecv.devices.schema import profile_path
from edgecv.runtime.mot import variant_names
from edgecv.runtime.plan import PlanError, accuracy_table, load_plan, make_plan, settings_for, write_plan
from edgecv.runtime.plan.core import Latencies
from edgecv.runtime.plan.pipelines import artifact_name, mot_candidates, mot_loop
from edgecv.runtime.samples import heldout_frames, samples_dir

DEVICE = "desktop-amd-epyc-2c"
MODEL = "persondet-lite0"


@pytest.fixture(scope="module")
def desktop():
    """The shipped profile of the desktop this project measures on, as its YAML file holds it (not through the
    planner's own look-ups, so the arithmetic below is checked against the file)."""
    return yaml.safe_load(profile_path(DEVICE).read_text())


def _measured_ms(profile: dict, artifact: str, backend: str, threads: int) -> float:
    hits = [e for e in profile["entries"] if e["artifact"] == artifact and e["backend"] == backend
            and e.get("threads") == threads and e["provenance"]["kind"] == "measured"]
    assert len(hits) == 1, (artifact, backend, threads, len(hits))
    return float(hits[0]["latency_ms"]["median"])


def test_the_desktop_profile_holds_the_detector_and_the_mot_loop(desktop):
    """The four detector artifacts measured at 1 and 2 threads, and the loop's own work per backend × threads ×
    variant, each measured here and saying what it is made of."""
    for backend in ("ort", "litert"):
        for nt in (1, 2):
            for prec in ("fp32", "int8"):
                assert _measured_ms(desktop, artifact_name(MODEL, None, backend, prec), backend, nt) > 0
            for variant in variant_names():
                rec = desktop["loops"]["mot"][f"{backend}-t{nt}-{variant}"]
                assert rec["provenance"]["kind"] == "measured" and rec["provenance"]["command"]
                assert {"resize", "decode", "association", "graph_in_loop", "graph_alone"} <= set(rec["parts_ms"])
                assert 0 < rec["overhead_ms"] < 20
    assert load_profile(DEVICE)["loops"]["mot"]   # and it validates


def test_mot_cost_is_the_detector_plus_the_loop_from_the_profile(desktop):
    """Every candidate's ms per frame is the profile's detector median + its loops.mot record for that backend,
    threads and variant; nothing else."""
    acc = accuracy_table()["mot"]
    cands = mot_candidates(desktop, Latencies(desktop), acc, {})
    assert len(cands) == 2 * 2 * 2 * len(variant_names())   # backends × precisions × threads × variants
    for c in cands:
        s = c["settings"]
        det = _measured_ms(desktop, artifact_name(s["model"], None, s["backend"], s["precision"]), s["backend"],
                           s["threads"])
        loop = desktop["loops"]["mot"][f"{s['backend']}-t{s['threads']}-{s['variant']}"]["overhead_ms"]
        assert c["mean_ms"] == pytest.approx(det + loop), c["cost_note"]
        assert c["parts_ms"]["detector"] == pytest.approx(det, abs=1e-3)
        assert c["parts_ms"]["loop"] == pytest.approx(loop, abs=1e-3)
        assert c["worst_ms"] == c["mean_ms"] and c["loop_provenance"] == "measured"
        want = next(e["value"] for e in acc["entries"] if (e["model"], e["variant"], e["backend"], e["precision"])
                    == (s["model"], s["variant"], s["backend"], s["precision"]))
        assert c["accuracy"] == want
    # and the chosen plan carries the same sum
    p = make_plan(DEVICE, "mot", fps=30)
    assert p["predicted_mean_ms"] == pytest.approx(p["parts_ms"]["detector"] + p["parts_ms"]["loop"], abs=2e-3)
    assert p["predicted_fps"] == pytest.approx(1000.0 / p["predicted_mean_ms"], rel=1e-3)
    assert p["expected_accuracy"]["metric"] == "IDF1" and "BENCHMARKS.md#mot" in p["expected_accuracy"]["source"]
    assert p["latency_provenance"] == ["measured"]


def test_mot_loop_record_falls_back_from_variant_to_backend_to_default():
    rec = {"provenance": {"kind": "measured"}}
    prof = {"loops": {"mot": {"ort-t1-sort": dict(rec, overhead_ms=1.0), "ort-t1": dict(rec, overhead_ms=2.0),
                              "default": dict(rec, overhead_ms=3.0)}}}
    assert mot_loop(prof, "ort", 1, "sort")[::3] == (1.0, "ort-t1-sort")
    assert mot_loop(prof, "ort", 1, "bytetrack")[::3] == (2.0, "ort-t1")
    assert mot_loop(prof, "litert", 2, "sort")[::3] == (3.0, "default")
    assert mot_loop({}, "ort", 1, "sort") == (0.0, "unknown", {}, "")


def test_mot_plan_meets_a_feasible_fps_and_refuses_an_impossible_one(desktop):
    """At a rate some settings reach and others do not, the plan meets it with the best IDF1 among those that
    do; at a rate none reaches, a one-line refusal names the best reachable rate and its setting."""
    acc = accuracy_table()["mot"]
    cands = mot_candidates(desktop, Latencies(desktop), acc, {})
    fastest = min(c["mean_ms"] for c in cands)
    slowest = max(c["mean_ms"] for c in cands)
    fps = 2000.0 / (fastest + slowest)   # between the slowest and the fastest setting's rate
    p = make_plan(DEVICE, "mot", fps=fps)
    assert p["predicted_mean_ms"] <= 1000.0 / fps and p["predicted_fps"] >= fps
    ok = [c for c in cands if c["mean_ms"] <= 1000.0 / fps]
    assert 0 < len(ok) < len(cands)
    assert p["expected_accuracy"]["value"] >= max(c["accuracy"] for c in ok) - acc["tie"]
    assert any("loops.mot." in w for w in p["why"]) and any("meet" in w for w in p["why"])
    assert not any("upper bound" in w for w in p["why"])   # the loop's own work is in this profile
    impossible = 1.5 * 1000.0 / fastest
    with pytest.raises(PlanError, match=rf"impossible budget: {impossible:g} fps needs ≤ .* the best reachable is "
                                        rf"{1000.0 / fastest:.1f} fps \(model={MODEL}, variant="):
        make_plan(DEVICE, "mot", fps=impossible)
    r = CliRunner().invoke(main, ["plan", "--device", DEVICE, "--pipeline", "mot", "--fps", "100000"])
    assert r.exit_code == 2 and "impossible budget" in r.output and "best reachable" in r.output, r.output
    assert len([ln for ln in r.output.splitlines() if ln.strip()]) == 1


def test_mot_plan_cli_variants_option(tmp_path):
    r = CliRunner().invoke(main, ["plan", "--device", DEVICE, "--pipeline", "mot", "--fps", "30", "--variants",
                                  "byte,sort", "--out", str(tmp_path / "plan.json")])
    assert r.exit_code == 0, r.output
    plan = load_plan(tmp_path / "plan.json", "mot")
    assert plan["settings"]["variant"] in ("bytetrack", "sort")
    assert {a["settings"]["variant"] for a in plan["alternatives"]} <= {"bytetrack", "sort"}
    r = CliRunner().invoke(main, ["plan", "--device", DEVICE, "--pipeline", "mot", "--fps", "30", "--variants", "kcf"])
    assert r.exit_code == 2 and "unknown MOT variant 'kcf'" in r.output, r.output
    r = CliRunner().invoke(main, ["plan", "--device", DEVICE, "--pipeline", "track", "--fps", "30", "--variants",
                                  "sort"])
    assert r.exit_code == 2 and "--variants goes with --pipeline mot" in r.output, r.output


def test_mot_plan_file_validates(tmp_path):
    p = make_plan(DEVICE, "mot", fps=30)
    path = write_plan(p, tmp_path / "plan.json")
    assert settings_for(path, "mot")["variant"] in variant_names()
    with pytest.raises(PlanError, match="for the 'mot' pipeline, not 'track'"):
        load_plan(path, "track")
    with pytest.raises(PlanError, match="settings.variant"):
        write_plan(dict(p, settings=dict(p["settings"], variant="kcf")), tmp_path / "bad.json")
    with pytest.raises(PlanError, match="settings.model must be a model name"):
        write_plan(dict(p, settings=dict(p["settings"], model="../elsewhere/persondet")), tmp_path / "bad.json")
    with pytest.raises(PlanError, match="threads"):
        write_plan(dict(p, settings=dict(p["settings"], threads=0)), tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


def test_mot_takes_the_plan(exported, art_dir, tmp_path):
    """A plan for the ORT fp32 detector on this desktop's profile, written and read back by `edgecv mot --plan`: a
    short run on the first 5 held-out frames of vtest.avi with the plan's variant, backend, precision and threads."""
    video = samples_dir() / "vtest.avi"
    if not video.is_file():
        pytest.skip("vtest.avi not fetched (edgecv fetch-data)")
    exported(MODEL, "onnx", "fp32")
    p = make_plan(DEVICE, "mot", fps=30, options={"backends": ["ort"], "precisions": ["fp32"], "threads": [1]})
    write_plan(p, tmp_path / "plan.json")
    frames = heldout_frames("vtest.avi", 5)
    clip = tmp_path / "clip.avi"
    wr = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for f in frames:
        wr.write(f)
    wr.release()
    stats = tmp_path / "stats.json"
    # options on the command line are replaced by the plan's
    r = CliRunner().invoke(main, ["mot", str(clip), "--plan", str(tmp_path / "plan.json"), "--artifacts", str(art_dir),
                                  "--variant", "sort", "--precision", "int8", "--max-frames", "5",
                                  "--stats", str(stats)])
    assert r.exit_code == 0, r.output
    s = p["settings"]
    assert f"[mot] plan {tmp_path / 'plan.json'}: {MODEL} {s['variant']} ort fp32 x1" in r.output, r.output
    st = json.loads(stats.read_text())
    assert (st["variant"], st["backend"], st["precision"], st["frames"]) == (s["variant"], "ort", "fp32", 5)
    assert st["artifact"].endswith(artifact_name(MODEL, None, "ort", "fp32"))
    # a plan for another pipeline is refused, in one line, before any work
    track = dict(p, pipeline="track", settings={"tracker": "siamfc", "backend": "ort", "precision": "fp32",
                                                "threads": 1})
    (tmp_path / "track.json").write_text(json.dumps(track))
    r = CliRunner().invoke(main, ["mot", str(clip), "--plan", str(tmp_path / "track.json"), "--artifacts",
                                  str(art_dir)])
    assert r.exit_code == 2 and "is for the 'track' pipeline, not 'mot'" in r.output, r.output
