"""edgecv.scale: the same sweeps and batch jobs on a local Ray cluster of two workers as in this process
(identical boxes and AUCs), resumable, surviving a killed worker; and nothing of Ray without --ray."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
ray = pytest.importorskip("ray", reason="edgecv[scale] not installed")

from edgecv.cli import main  # noqa: E402
from edgecv.scale import ResultStore, make_unit, run_units  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _ray_down():
    yield
    if ray.is_initialized():
        ray.shutdown()


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def _boxes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*.txt"))}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """Two real sequences cut short: a pedestrian (vtest) and a rigid object under camera motion (ViSP)."""
    root = tmp_path_factory.mktemp("scale-ds")
    for name, frames in (("vtest_woman", 40), ("visp_cube", 40)):
        src = REPO / "datasets" / "otb-dev" / name
        seq = root / name
        seq.mkdir()
        spec = json.loads((src / "source.json").read_text())
        keep = {k: spec[k] for k in ("video", "images") if k in spec}
        if "video" in keep:  # source.json names the video relative to its own folder
            from edgecv.runtime.track.sequences import resolve_video

            keep["video"] = str(resolve_video(spec["video"], src, src / "source.json"))
        end = spec["start"] + frames - 1
        (seq / "source.json").write_text(json.dumps({**keep, "start": spec["start"], "end": end}))
        lines = (src / "groundtruth_rect.txt").read_text().splitlines()[:frames]
        (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return root


def test_eval_track_on_ray_matches_the_local_path(small_set, exported, art_dir, tmp_path):
    exported("boxtrack", "onnx", "int8")
    common = ["eval", "track", "--dataset", small_set, "--trackers", "mosse,klt,boxtrack", "--precisions", "int8",
              "--artifacts", art_dir, "--no-anchors", "--inits", "2"]
    _cli(*common, "--out", tmp_path / "local")
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    assert _boxes(tmp_path / "local" / "boxes") == _boxes(tmp_path / "ray" / "boxes")
    a = json.loads((tmp_path / "local" / "results.json").read_text())["trackers"]
    b = json.loads((tmp_path / "ray" / "results.json").read_text())["trackers"]
    assert set(a) == set(b) == {"mosse", "klt", "boxtrack"}
    for t in a:
        assert a[t]["overall"]["auc"] == b[t]["overall"]["auc"]
        assert a[t]["overall"]["precision20"] == b[t]["overall"]["precision20"]
    assert a["boxtrack"]["overall"]["auc"] > 0.3  # a real run, not empty boxes
    units = list((tmp_path / "ray" / ".units" / "track-sequence").glob("*.json"))
    assert len(units) == 3 * 2 * 2  # trackers x sequences x starts, one file each
    # a rerun finds every unit done and runs nothing: same results
    before = {p: p.stat().st_mtime_ns for p in units}
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    assert {p: p.stat().st_mtime_ns for p in units} == before
    assert _boxes(tmp_path / "local" / "boxes") == _boxes(tmp_path / "ray" / "boxes")


def test_batch_track_on_ray_matches_the_local_path(exported, art_dir, tmp_path):
    from edgecv.runtime.samples import samples_dir

    exported("boxtrack", "onnx", "int8")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("vtest.avi", "Megamind_bugy.avi", "tree.avi"):
        (videos / name).symlink_to(samples_dir() / name)
    common = ["batch", "track", "--videos", videos, "--boxes", REPO / "datasets" / "sample-boxes.json",
              "--precision", "int8", "--artifacts", art_dir, "--max-frames", "30"]
    _cli(*common, "--out", tmp_path / "local")
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    for stem in ("vtest", "Megamind_bugy", "tree"):
        for f in ("boxes.txt", "stats.json"):
            assert (tmp_path / "local" / stem / f).read_bytes() == (tmp_path / "ray" / stem / f).read_bytes()
        assert (tmp_path / "ray" / stem / "track.mp4").stat().st_size > 10_000
        assert len((tmp_path / "ray" / stem / "boxes.txt").read_text().splitlines()) == 30
    s = json.loads((tmp_path / "ray" / "batch.json").read_text())
    assert set(s["videos"]) == {"vtest.avi", "Megamind_bugy.avi", "tree.avi"}
    # a removed output is redone on the next run; the others are skipped
    (tmp_path / "ray" / "tree" / "boxes.txt").unlink()
    _cli(*common, "--out", tmp_path / "ray")
    redone = (tmp_path / "ray" / "tree" / "boxes.txt").read_bytes()
    assert redone == (tmp_path / "local" / "tree" / "boxes.txt").read_bytes()


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(small_set, exported, art_dir, tmp_path):
    """SIGKILL a Ray worker while it runs a unit of a real sweep (another process, as in production): Ray
    retries that unit, the sweep finishes, and every unit has exactly one result, equal to the local run's."""
    exported("boxtrack", "onnx", "int8")
    trace = tmp_path / "trace"
    out = tmp_path / "ray"
    args = ["eval", "track", "--dataset", small_set, "--trackers", "boxtrack", "--precisions", "int8",
            "--artifacts", art_dir, "--no-anchors", "--inits", "3"]
    env = {**os.environ, "EDGECV_SCALE_TRACE": str(trace)}
    proc = subprocess.Popen([sys.executable, "-m", "edgecv.cli", *map(str, args), "--out", str(out), "--ray",
                             "--workers", "2"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed_pid = None
    deadline = time.time() + 180
    while killed_pid is None and time.time() < deadline and proc.poll() is None:
        for f in sorted(trace.glob("*.start.*")) if trace.is_dir() else []:
            key, _, pid = f.name.split(".")
            if not list(trace.glob(f"{key}.done.*")):
                os.kill(int(pid), signal.SIGKILL)
                killed_pid = pid
                break
        time.sleep(0.01)
    output = proc.communicate(timeout=300)[0].decode(errors="replace")
    assert proc.returncode == 0, output
    assert killed_pid is not None, "no unit was caught running"
    # the unit(s) that process had started and not finished: each ran again elsewhere and finished once
    cut = [f.name.split(".")[0] for f in trace.glob(f"*.start.{killed_pid}")
           if not (trace / f.name.replace(".start.", ".done.")).exists()]
    assert len(cut) == 1, cut
    assert len(list(trace.glob(f"{cut[0]}.start.*"))) >= 2, "the killed unit was not run again"
    assert len(list(trace.glob(f"{cut[0]}.done.*"))) == 1
    units = sorted((out / ".units" / "track-sequence").glob("*.json"))
    assert len(units) == 2 * 3 and cut[0] in {p.stem for p in units}
    _cli(*args, "--out", tmp_path / "local")
    assert _boxes(tmp_path / "local" / "boxes") == _boxes(out / "boxes")


def test_units_are_keyed_by_content_not_path(tmp_path):
    a, b = tmp_path / "a" / "m.onnx", tmp_path / "b" / "m.onnx"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"same bytes")
    assert make_unit("track.sequence", {"x": 1}, [a]).key == make_unit("track.sequence", {"x": 1}, [b]).key
    b.write_bytes(b"other bytes")
    assert make_unit("track.sequence", {"x": 1}, [a]).key != make_unit("track.sequence", {"x": 1}, [b]).key
    assert make_unit("track.sequence", {"x": 1}, [a]).key != make_unit("track.sequence", {"x": 2}, [a]).key


def test_cas_refuses_bytes_that_do_not_match_their_hash(tmp_path, monkeypatch):
    from edgecv.scale import ScaleError
    from edgecv.scale.cas import FileRef, materialise

    monkeypatch.setenv("EDGECV_CAS", str(tmp_path / "cas"))
    good = FileRef("m.onnx", __import__("hashlib").sha256(b"graph").hexdigest())
    with pytest.raises(ScaleError, match="content hash mismatch"):
        materialise([good], lambda sha: b"tampered")
    assert not (tmp_path / "cas" / good.sha256).exists()
    folder = materialise([good], lambda sha: b"graph")
    assert (folder / "m.onnx").read_bytes() == b"graph"


def test_a_unit_error_names_the_unit_and_keeps_finished_units(tmp_path):
    from edgecv.scale import ScaleError

    store = ResultStore(tmp_path / "units")
    ok = make_unit("track.sequence", {"label": "x", "dataset": str(tmp_path), "sequence": "nope",
                                      "groundtruth_sha256": "0", "init": 0, "tracker": {}})
    with pytest.raises(ScaleError, match="nope"):
        run_units([ok], store, address=False, progress=False)
    assert not list((tmp_path / "units").rglob("*.json"))


def test_without_ray_nothing_imports_ray():
    code = ("import sys\nimport edgecv.cli, edgecv.scale, edgecv.scale.jobs, edgecv.scale.batch\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(edgecv.cli.main, ['batch', 'track', '--help'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'torch')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(d.split(">")[0].split("=")[0].strip() == "ray" for d in deps["dependencies"])
    assert any(d.startswith("ray") for d in deps["optional-dependencies"]["scale"])


def test_export_matrix_on_ray_writes_verified_artifacts_and_resumes(tmp_path):
    from edgecv.runtime.manifest import read_manifest, verify_artifact

    out = tmp_path / "art"
    r = _cli("export", "siamfc", "--format", "onnx", "--precision", "fp32", "--out", out, "--ray", "--workers", "2")
    paths = [Path(line) for line in r.output.splitlines() if line.endswith(".onnx")]
    assert sorted(p.name for p in paths) == ["siamfc-search-standard-fp32.onnx", "siamfc-template-standard-fp32.onnx"]
    for p in paths:
        verify_artifact(p, read_manifest(p, required=True))   # size and sha256 against its own manifest
    before = {p: p.stat().st_mtime_ns for p in paths}
    _cli("export", "siamfc", "--format", "onnx", "--precision", "fp32", "--out", out, "--ray", "--workers", "2")
    assert {p: p.stat().st_mtime_ns for p in paths} == before   # nothing exported twice
    (out / "siamfc-search-standard-fp32.onnx").unlink()
    _cli("export", "siamfc", "--format", "onnx", "--precision", "fp32", "--out", out, "--ray", "--workers", "2")
    p = out / "siamfc-search-standard-fp32.onnx"
    verify_artifact(p, read_manifest(p, required=True))


def test_profile_on_ray_records_the_node(exported, tmp_path):
    import socket

    import yaml

    t, s = exported("boxtrack", "onnx", "int8")
    out = tmp_path / "prof.yaml"
    _cli("profile", t, s, "--threads", "1", "--runs", "5", "--warmup", "1", "--out", out, "--ray", "--workers", "2")
    prof = yaml.safe_load(out.read_text())
    assert sorted(e["artifact"] for e in prof["entries"]) == sorted([Path(t).name, Path(s).name])
    for e in prof["entries"]:
        assert e["provenance"]["kind"] == "measured" and e["provenance"]["host"] == socket.gethostname()
        assert e["provenance"]["cpu"] and e["latency_ms"]["median"] > 0
    assert len(list((tmp_path / "prof.yaml.units").rglob("*.json"))) == 2


def test_eval_mot_detector_pass_on_ray_matches_the_local_path(exported, art_dir, tmp_path):
    """The detector over each MOT sequence as units: the same det.txt bytes, so the same tracks and scores."""
    exported("persondet-lite0", "onnx", "int8")
    common = ["eval", "mot", "--dataset", REPO / "datasets" / "mot-dev", "--detector", "persondet-lite0",
              "--precision", "int8", "--artifacts", art_dir, "--variants", "bytetrack"]
    _cli(*common, "--out", tmp_path / "local")
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    for seq in ("vtest-a", "vtest-b"):
        rel = Path("detections") / seq / "det" / "det.txt"
        assert (tmp_path / "local" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes()
        assert (tmp_path / "local" / "bytetrack" / f"{seq}.txt").read_bytes() == \
            (tmp_path / "ray" / "bytetrack" / f"{seq}.txt").read_bytes()
    a = json.loads((tmp_path / "local" / "results.json").read_text())["variants"]["bytetrack"]["overall"]
    b = json.loads((tmp_path / "ray" / "results.json").read_text())["variants"]["bytetrack"]["overall"]
    assert a["idf1"] == b["idf1"] and a["mota"] == b["mota"] and a["mota"] > 0.5


def test_eval_propagate_on_ray_matches_the_local_path(exported, art_dir, tmp_path):
    """bundle x policy x clip units (and the real video's): the same mIoU, key fractions and real agreement."""
    from edgecv.runtime.samples import samples_dir

    exported("dff-seg", "onnx", "fp32")
    common = ["eval", "propagate", "--policies", "1,5", "--artifacts", art_dir, "--real-video",
              samples_dir() / "vtest.avi", "--real-frames", "12"]
    _cli(*common, "--out", tmp_path / "local")
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    a = json.loads((tmp_path / "local" / "results.json").read_text())["rows"]
    b = json.loads((tmp_path / "ray" / "results.json").read_text())["rows"]
    assert [r["policy"] for r in a] == [r["policy"] for r in b] == ["K=1", "K=5"]
    for x, y in zip(a, b):
        for k in ("miou", "person_iou", "key_fraction", "real_agreement_miou"):
            assert x[k] == y[k], k
    assert a[1]["key_fraction"] == pytest.approx(0.2, abs=0.05) and a[1]["real_agreement_miou"] < 1.0


def test_eval_colorize_on_ray_matches_the_local_path(exported, art_dir, tmp_path):
    exported("excolor", "onnx", "fp32")
    _cli("eval", "colorize", "--artifacts", art_dir, "--out", tmp_path / "local")
    _cli("eval", "colorize", "--artifacts", art_dir, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    a = json.loads((tmp_path / "local" / "colorize_eval.json").read_text())["results"]
    b = json.loads((tmp_path / "ray" / "colorize_eval.json").read_text())["results"]
    assert set(a) == set(b) and "global" in a
    for m in a:
        for k in ("psnr_rgb", "ab_mae", "temporal", "temporal_truth"):
            assert a[m][k] == b[m][k], (m, k)
    sheet = (tmp_path / "local" / "contact_sheet.png").read_bytes()
    assert sheet == (tmp_path / "ray" / "contact_sheet.png").read_bytes()


def test_ray_missing_is_a_clear_error(tmp_path):
    """Without edgecv[scale], --ray says what to install (exit code 2), and writes nothing."""
    code = ("import sys\nsys.modules['ray'] = None\n"   # as if Ray were not installed
            "from edgecv.cli import main\nsys.argv = ['edgecv'] + sys.argv[1:]\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code, "eval", "track", "--dataset", str(REPO / "datasets" / "otb-seen"),
                        "--trackers", "mosse", "--no-anchors", "--out", str(tmp_path / "o"), "--ray"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "pip install 'edgecv[scale]'" in r.stdout + r.stderr
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("loop", ["propagate", "colorize"])
def test_batch_propagate_and_colorize_on_ray_match_the_local_path(loop, exported, art_dir, tmp_path):
    from edgecv.runtime.samples import samples_dir

    exported("dff-seg" if loop == "propagate" else "excolor", "onnx", "fp32")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("vtest.avi", "tree.avi"):
        (videos / name).symlink_to(samples_dir() / name)
    extra = (["--key-interval", "5"] if loop == "propagate" else ["--ref", samples_dir() / "fruits.jpg"])
    common = ["batch", loop, "--videos", videos, "--artifacts", art_dir, "--max-frames", "12", *extra]
    _cli(*common, "--out", tmp_path / "local")
    _cli(*common, "--out", tmp_path / "ray", "--ray", "--workers", "2")
    for stem in ("vtest", "tree"):
        a = (tmp_path / "local" / stem / f"{loop}.mp4").read_bytes()
        assert len(a) > 5_000 and a == (tmp_path / "ray" / stem / f"{loop}.mp4").read_bytes()
        st = json.loads((tmp_path / "ray" / stem / "stats.json").read_text())
        assert st["frames"] == 12
    s = json.loads((tmp_path / "ray" / "batch.json").read_text())
    assert set(s["videos"]) == {"vtest.avi", "tree.avi"}
