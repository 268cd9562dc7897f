"""Key-frame feature propagation (Deep Feature Flow): policies, bundle checks, the torch-free loop, damaged
input, the CLI. The graphs are exported once per session from the shipped ``dff-seg`` weights."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edgecv import data, runtime
from edgecv.cli import main
from edgecv.runtime import ArtifactError
from edgecv.runtime.manifest import seal_manifest
from edgecv.runtime.propagate import (
    Adaptive,
    AdaptiveParams,
    FixedInterval,
    PropagateError,
    Propagator,
    Signals,
    find_artifacts,
    flow_signals,
    make_policy,
    open_source,
    propagate_video,
)

# Megamind.avi's shot cuts: the first frame of each new shot (mean |frame − previous| jumps from < 5 to
# 39–43 grey levels there; frame 0 is black, so frame 1 is a "cut" too, from the leader).
MEGAMIND_CUTS = (98, 154, 200)


@pytest.fixture(scope="module")
def dff(exported):
    return exported("dff-seg", "onnx", "fp32")  # feature, flow, head


@pytest.fixture(scope="module")
def vtest12():
    return data.read_frames(data.ensure_samples(verbose=False) / "vtest.avi", max_frames=12)


def _write_video(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()


def _texture(seed, h=32, w=40):
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    t = cv2.GaussianBlur(noise, (0, 0), 1.2)
    return (t - t.min()) / (t.max() - t.min())


def test_flow_signals_and_policies_on_synthetic_input():
    key = _texture(0)
    # the content moves 2 cells right: each current cell finds its content 2 cells left in the key (flow x = −2)
    m = np.float32([[1, 0, 2], [0, 1, 0]])
    cur = cv2.warpAffine(key, m, (40, 32), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    right = np.zeros((2, 32, 40), np.float32)
    right[0] = -2
    good = flow_signals(key, cur, right)
    assert good.unreliable < 0.02 and good.photometric < 0.01
    assert good.flow_mean == pytest.approx(2.0) and good.flow_max == pytest.approx(2.0)
    still = flow_signals(key, cur, np.zeros_like(right))
    assert still.unreliable > 0.2 and still.flow_mean == 0
    cut = flow_signals(key, _texture(1), np.zeros_like(right))
    assert cut.unreliable > 0.25

    ad = Adaptive()
    assert ad.params == AdaptiveParams(tau=0.08, max_unreliable=0.15, max_flow=3.0, max_interval=10)
    assert ad.after_flow(good, 1) is None
    assert ad.after_flow(cut, 1) == "unreliable"
    assert ad.after_flow(Signals(0.1, 0.02, 3.5, 6.0), 1) == "motion"
    assert ad.before_flow(9) is None and ad.before_flow(10) == "max-interval"
    fixed = FixedInterval(3)
    assert [fixed.before_flow(s) for s in (1, 2, 3)] == [None, None, "interval"]
    assert fixed.after_flow(cut, 1) is None

    assert isinstance(make_policy("auto"), Adaptive) and make_policy("4").params.k == 4
    assert make_policy(ad) is ad
    for bad in (0, -2, "x", 2.5, True, "1.5"):
        with pytest.raises(PropagateError, match="key interval"):
            make_policy(bad)
    with pytest.raises(PropagateError, match="tau"):
        Adaptive(AdaptiveParams(tau=0))


def _net_input(frame):
    small = cv2.resize(frame, (320, 256), interpolation=cv2.INTER_AREA)
    # × float32(1/255), as the runtime's one-pass blobFromImage does (bit for bit)
    return np.ascontiguousarray(small[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)


def test_fixed_interval_keys_and_k1_is_per_frame_inference(dff, vtest12):
    frames = vtest12[:8]
    prop = Propagator(dff, policy=3, threads=1)
    res = [prop.step(f) for f in frames]
    assert [r.index for r in res if r.is_key] == [0, 3, 6]
    assert [r.reason for r in res if r.is_key] == ["first", "interval", "interval"]
    assert [r.since_key for r in res] == [0, 1, 2, 0, 1, 2, 0, 1]
    for r, f in zip(res, frames):
        assert r.mask.shape == f.shape[:2] and r.mask.dtype == np.uint8 and r.mask.max() <= 1
        assert (r.signals is None) == r.is_key  # the flow net ran on every propagated frame
        assert set(r.ms) == {"pre", "feature", "flow", "head", "post", "total"}
        assert (r.ms["feature"] > 0) == r.is_key and (r.ms["flow"] > 0) != r.is_key

    feature, flow, head = (runtime.load(p, "ort", threads=1) for p in dff)
    # a propagated frame is exactly head(key features, flow(key, current), scale)
    k, c = _net_input(frames[0]), _net_input(frames[1])
    fo = flow.run({"key": k, "current": c})
    want = head.run({"features": feature.run({"image": k})["features"], **fo})["logits"]
    np.testing.assert_allclose(res[1].logits, want, rtol=0, atol=1e-6)

    # K = 1: every frame is a key frame, and the logits are feature → head with zero flow and unit scale
    prop1 = Propagator(dff, policy=1, threads=1)
    for f in frames[:3]:
        r = prop1.step(f)
        x = _net_input(f)
        direct = head.run({"features": feature.run({"image": x})["features"],
                           "flow": np.zeros((1, 2, 32, 40), np.float32),
                           "scale": np.ones((1, 64, 32, 40), np.float32)})["logits"]
        assert r.is_key
        np.testing.assert_allclose(r.logits, direct, rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["dff-seg-ctx", "dff-seg-fast", "dff-seg-thin"])
def test_context_bundle_feeds_the_current_frames_context_to_the_head(exported, vtest12, model):
    """dff-seg-ctx: the feature graph returns the key frame's context and the flow graph the current frame's; the
    loop gives the head the right one on key and on propagated frames, and matches PyTorch. dff-seg-fast: the feature
    graph also returns the key frame's pyramid levels, which the loop caches at the key frame and feeds to the flow
    graph on every propagated frame (it has no ``key`` image input). dff-seg-thin: the same at 32 feature channels
    (the loop's unit scale map takes the manifest's width)."""
    import torch

    from edgecv.models import create_model

    paths = exported(model, "onnx", "fp32")
    frames = vtest12[:4]
    prop = Propagator(paths, policy=3, threads=1)
    assert prop.context
    res = [prop.step(f) for f in frames]
    feature, flow, head = (runtime.load(p, "ort", threads=1) for p in paths)
    k, c = _net_input(frames[0]), _net_input(frames[2])
    fk = feature.run({"image": k})
    width = 32 if model == "dff-seg-thin" else 64
    assert fk["features"].shape == (1, width, 32, 40) and prop.channels == width
    key = head.run({"features": fk["features"], "flow": np.zeros((1, 2, 32, 40), np.float32),
                    "scale": np.ones((1, width, 32, 40), np.float32), "context": fk["context"]})["logits"]
    np.testing.assert_allclose(res[0].logits, key, rtol=0, atol=1e-6)
    if model != "dff-seg-ctx":
        assert prop.key_cache_names == ["key_e2", "key_e3"] and "key" not in flow.input_names
        fo = flow.run({"current": c, "key_e2": fk["key_e2"], "key_e3": fk["key_e3"]})
    else:
        fo = flow.run({"key": k, "current": c})
    want = head.run({"features": fk["features"], **fo})["logits"]
    np.testing.assert_allclose(res[2].logits, want, rtol=0, atol=1e-6)
    m = create_model(model).eval()
    with torch.no_grad():
        ref = m(torch.from_numpy(k), torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(res[2].logits, ref, rtol=0, atol=1e-3 * np.abs(ref).max())


def test_key_cached_flow_graph_needs_a_feature_graph_that_returns_the_pyramid(exported, tmp_path):
    """A dff-seg-fast flow graph beside a feature graph without the key frame's pyramid (here dff-seg-ctx's, as an
    export from before the cache would be) is refused by name, before any frame runs."""
    fast = [Path(p) for p in exported("dff-seg-fast", "onnx", "fp32")]
    ctx_feature = Path(exported("dff-seg-ctx", "onnx", "fp32")[0])
    src = _copy_bundle(fast[1:], tmp_path / "arts")
    old = src / fast[0].name
    shutil.copy(ctx_feature, old)
    shutil.copy(str(ctx_feature) + ".json", str(old) + ".json")
    _edit(Path(str(old) + ".json"), model="dff-seg-fast-feature")
    with pytest.raises(ArtifactError, match=r"takes 'key_e2' from the key frame, but .*dff-seg-fast-feature.* does "
                                            r"not return it"):
        Propagator([old, src / fast[1].name, src / fast[2].name], policy=3, threads=1)


def _copy_bundle(paths, dest):
    dest.mkdir()
    for p in paths:
        shutil.copy(p, dest / p.name)
        shutil.copy(str(p) + ".json", dest / (p.name + ".json"))
    return dest


def _edit(path, **info):
    m = json.loads(path.read_text())
    for k, v in info.items():
        if k == "model":
            m["model"] = v
        else:
            m["model_info"][k] = v
    path.write_text(json.dumps(seal_manifest(m)))  # as a genuine export of another model would be


def test_bundle_checks_refuse_mismatched_manifests(dff, tmp_path):
    src = _copy_bundle([Path(p) for p in dff], tmp_path / "arts")
    arts = find_artifacts(src, "dff-seg", "onnx", "fp32", "standard")
    assert arts.frame_size == (256, 320) and arts.feature_size == (32, 40) and arts.classes == ["background", "person"]
    flow_json = src / "dff-seg-flow-standard-fp32.onnx.json"
    head_json = src / "dff-seg-head-standard-fp32.onnx.json"
    keep_flow, keep_head = flow_json.read_text(), head_json.read_text()

    _edit(flow_json, feature_stride=16)
    with pytest.raises(ArtifactError, match="feature_stride") as e:
        find_artifacts(src)
    assert "dff-seg-flow-standard-fp32.onnx" in str(e.value) and "dff-seg-feature-standard-fp32.onnx" in str(e.value)
    flow_json.write_text(keep_flow)

    for edit, needle in [(dict(part="flow"), "'flow' graph"), (dict(pipeline=None), "not a Deep Feature Flow"),
                         (dict(model="dff-seg-nodcn-head"), "one model"),
                         (dict(feature_size=[16, 20]), "feature_size")]:
        _edit(head_json, **edit)
        with pytest.raises(ArtifactError, match=needle):
            Propagator(sorted(src.glob("*.onnx")), threads=1)  # feature, flow, head: sorted by name
        head_json.write_text(keep_head)

    with pytest.raises(FileNotFoundError, match="edgecv export dff-seg --format onnx --precision int8"):
        find_artifacts(src, precision="int8")
    # per-part precision: every part overridden back to fp32
    ok = find_artifacts(src, precision="int8", part_precision={"feature": "fp32", "flow": "fp32", "head": "fp32"})
    assert ok.precisions == {"feature": "fp32", "flow": "fp32", "head": "fp32"}
    with pytest.raises(PropagateError, match="unknown part"):
        find_artifacts(src, part_precision={"trunk": "fp32"})


def test_damaged_input_is_skipped_and_size_changes_are_resized(dff, vtest12, tmp_path, art_dir):
    frames = vtest12[:9]
    # an image folder with an unreadable file at frame 3 and a half-size frame at 6
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        if i == 6:
            f = cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2))
        cv2.imwrite(str(folder / f"{i:06d}.png"), f)
    (folder / "000003.png").write_bytes(b"\x89PNG not really")
    msgs = []
    masks = tmp_path / "masks"
    res = propagate_video(folder, masks=masks, key_interval=10, art_dir=art_dir, threads=1, progress=False,
                          warn=msgs.append)
    assert res["skipped"] == [3] and res["frames"] == 8
    assert [(f["index"], f["reason"]) for f in res["per_frame"] if f["key"]] == [
        (0, "first"), (4, "after-skip"), (6, "size-change")]
    assert any("000003.png" in m and "frame 3" in m for m in msgs)
    assert sum("frame 6 is 384×288" in m for m in msgs) == 1
    pngs = sorted(p.name for p in masks.iterdir())
    assert pngs == [f"{i:06d}.png" for i in range(9) if i != 3]
    assert all(cv2.imread(str(masks / p), cv2.IMREAD_UNCHANGED).shape == frames[0].shape[:2] for p in pngs)

    # a video whose frame 6 cannot be decoded: OpenCV's read() fails there and then goes on
    clip = tmp_path / "clip.avi"
    _write_video(clip, frames)
    raw = bytearray(clip.read_bytes())
    soi = [i for i in range(len(raw) - 1) if raw[i] == 0xFF and raw[i + 1] == 0xD8]
    assert len(soi) == len(frames)
    raw[soi[6]:soi[6] + 3000] = bytes(3000)  # the JPEG header of frame 6 gone
    broken = tmp_path / "broken.avi"
    broken.write_bytes(bytes(raw))
    msgs.clear()
    res = propagate_video(broken, key_interval=3, art_dir=art_dir, threads=1, progress=False, warn=msgs.append)
    assert res["skipped"] == [6] and res["frames"] == 8
    assert [f["index"] for f in res["per_frame"]] == [0, 1, 2, 3, 4, 5, 7, 8]
    assert [(f["index"], f["reason"]) for f in res["per_frame"] if f["key"]] == [
        (0, "first"), (3, "interval"), (7, "after-skip")]
    assert any("broken.avi" in m and "frame 6" in m for m in msgs)

    # a video shorter than K: one key frame, frame 0
    res = propagate_video(frames[:2], key_interval=10, art_dir=art_dir, threads=1, progress=False)
    assert res["key_indices"] == [0] and res["frames"] == 2


def test_megamind_bugy_decodes_whole_and_gross_damage_starts_key_frames(dff):
    """``Megamind_bugy.avi`` reads without a failed read (its damage is in the pixels); the adaptive
    policy re-keys on the mirrored frame 75 and the green band of frame 100."""
    src = open_source(data.ensure_samples(verbose=False) / "Megamind_bugy.avi")
    assert src.total == 270
    windows = {75: {}, 100: {}}  # from 3 frames before (a shot cut at 98: the window of 100 starts there)
    n = 0
    for i, frame, _ in src.frames:
        n += frame is not None
        for c, w in windows.items():
            if max(c - 3, 98 if c > 98 else 0) <= i <= c:
                w[i] = frame
    assert n == 270
    for c, w in windows.items():
        prop = Propagator(dff, policy="auto", threads=1)
        res = {i: prop.step(f) for i, f in w.items()}
        got = [(i, r.reason, r.signals) for i, r in res.items()]
        assert res[c].is_key and res[c].reason == "unreliable", got
        assert not any(r.is_key for i, r in res.items() if min(w) < i < c), got


@pytest.mark.trained_weights
def test_adaptive_policy_starts_key_frames_at_megamind_shot_cuts(dff):
    """Each of Megamind.avi's real shot cuts starts a new key frame, and frames within a shot do not.

    Meant for the trained weights (a trained flow net must not explain a cut away); it holds with the
    untrained placeholder too, whose flow net answers zero flow, since the photometric signal does not
    trust the flow."""
    cap = cv2.VideoCapture(str(data.ensure_samples(verbose=False) / "Megamind.avi"))
    wanted = {c: list(range(c - 5, c + 3)) for c in MEGAMIND_CUTS}
    frames, i = {}, 0
    while i <= max(MEGAMIND_CUTS) + 2:
        ok, f = cap.read()
        assert ok, f"Megamind.avi ended at frame {i}"
        if any(i in w for w in wanted.values()):
            frames[i] = f
        i += 1
    cap.release()
    for cut, idx in wanted.items():
        prop = Propagator(dff, policy="auto", threads=1)
        res = {j: prop.step(frames[j]) for j in idx}
        got = [(j, r.reason, r.signals) for j, r in res.items()]
        assert res[cut].is_key and res[cut].reason in ("unreliable", "motion"), got
        assert not res[cut + 1].is_key and not res[cut + 2].is_key, got
        assert sum(res[j].is_key for j in idx[1:5]) <= 1, got  # within the shot before the cut: propagated


def test_errors_leave_nothing_half_written(vtest12, tmp_path, art_dir):
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def frames():
        yield from vtest12[:4]
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="unplugged"):
        propagate_video(frames(), out_dir / "o.mp4", out_dir / "masks", 2, art_dir=art_dir, threads=1,
                        progress=False, stats=out_dir / "s.json")
    assert list(out_dir.iterdir()) == []
    # an earlier run's masks folder is replaced; a folder holding other files is refused
    (out_dir / "masks").mkdir()
    (out_dir / "masks" / "000099.png").write_bytes(b"old")
    propagate_video(vtest12[:3], masks=out_dir / "masks", key_interval=2, art_dir=art_dir, threads=1, progress=False)
    assert sorted(p.name for p in (out_dir / "masks").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    (out_dir / "masks" / "notes.txt").write_text("mine")
    with pytest.raises(PropagateError, match="holds other files"):
        propagate_video(vtest12[:3], masks=out_dir / "masks", key_interval=2, art_dir=art_dir, progress=False)
    assert sorted(p.name for p in out_dir.iterdir()) == ["masks"]


def test_cli_propagate_end_to_end_and_bad_input(tmp_path, art_dir, dff, vtest12):
    video = tmp_path / "clip.avi"
    _write_video(video, vtest12)
    out, masks, stats = tmp_path / "overlay.mp4", tmp_path / "masks", tmp_path / "stats.json"
    runner = CliRunner()
    r = runner.invoke(main, ["propagate", str(video), "--key-interval", "4", "--artifacts", str(art_dir),
                             "--threads", "1", "--out", str(out), "--masks", str(masks), "--stats", str(stats)])
    assert r.exit_code == 0, r.output
    assert "12 frames, 3 key frames" in r.output and "fps" in r.output and "ms/frame" in r.output
    assert len(list(masks.glob("*.png"))) == 12
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 12 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10)
    s = json.loads(stats.read_text())
    assert s["frames"] == 12 and s["key_indices"] == [0, 4, 8] and len(s["per_frame"]) == 12
    assert s["fps"] > 0 and s["median_ms"] > 0 and s["policy"]["name"] == "fixed"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left

    r = runner.invoke(main, ["propagate", str(video), "--key-interval", "auto", "--artifacts", str(art_dir),
                             "--threads", "1", "--max-frames", "5"])
    assert r.exit_code == 0 and "5 frames" in r.output and "(adaptive)" in r.output, r.output

    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"not a video at all" * 10)
    for args, needle in [([str(tmp_path / "nope.avi"), "--key-interval", "4"], "nope.avi"),
                         ([str(garbage), "--key-interval", "4"], "garbage.avi"),
                         ([str(video), "--key-interval", "zero"], "key interval"),
                         ([str(video), "--key-interval", "4", "--part-precision", "flow"], "PART=PRECISION")]:
        r = runner.invoke(main, ["propagate", *args, "--artifacts", str(art_dir)])
        assert r.exit_code == 2 and needle in r.output, (args, r.output)


def test_cli_without_torch_says_which_export_to_run(tmp_path, monkeypatch, vtest12):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else find_spec(name, *a))
    video = tmp_path / "clip.avi"
    _write_video(video, vtest12[:2])
    r = CliRunner().invoke(main, ["propagate", str(video), "--key-interval", "4", "--artifacts", str(tmp_path / "a"),
                                  "--precision", "int8", "--part-precision", "flow=fp32"])
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert "dff-seg-feature-standard-int8.onnx, dff-seg-flow-standard-fp32.onnx" in out and "torch" in out
    for prec in ("fp32", "int8"):
        assert f"edgecv export dff-seg --format onnx --precision {prec} --ops standard --out {tmp_path / 'a'}" in out


def test_loop_never_imports_torch(dff, vtest12, tmp_path):
    import subprocess
    import sys

    frame = tmp_path / "f.png"
    cv2.imwrite(str(frame), vtest12[0])
    code = ("import sys, cv2\n"
            "from edgecv.runtime.propagate import Propagator\n"
            f"p = Propagator({[str(x) for x in dff]!r}, policy='auto', threads=1)\n"
            f"f = cv2.imread({str(frame)!r})\n"
            "r = [p.step(f), p.step(f)]\n"
            "assert r[0].is_key and not r[1].is_key\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_eval_propagate_speed_accuracy_table_plot_and_json(dff, art_dir, tmp_path):
    from edgecv.train.clips import write_clip_dataset

    ds = tmp_path / "clips"
    write_clip_dataset(ds, n=2, length=6, seed=21)
    assert sorted(p.name for p in ds.iterdir()) == ["clip00", "clip01", "source.json"]
    out = tmp_path / "eval"
    r = CliRunner().invoke(main, ["eval", "propagate", "--dataset", str(ds), "--policies", "1,3,auto",
                                  "--artifacts", str(art_dir), "--threads", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    rows = {row["policy"]: row for row in res["rows"]}
    assert set(rows) == {"K=1", "K=3", "auto"} and res["frames"] == 12
    assert rows["K=1"]["key_fraction"] == 1.0 and rows["K=3"]["key_fraction"] == pytest.approx(4 / 12)
    assert rows["K=1"]["speedup"] == pytest.approx(1.0)
    # the speed-up is a measured time ratio: a shared 2-core machine makes any threshold on it flaky
    # (CI once saw 1.16), so only its presence is checked here; bench/ records the real figures
    assert all(np.isfinite(row["speedup"]) and row["speedup"] > 0 for row in rows.values()), rows
    for row in rows.values():
        assert 0.0 <= row["miou"] <= 1.0
    assert rows["K=1"]["miou"] > 0.5  # background alone would give ≈ 0.5: people are found
    assert (out / "speed_accuracy.png").stat().st_size > 1000
    assert "| K=3 |" in r.output
    r = CliRunner().invoke(main, ["eval", "propagate", "--dataset", str(tmp_path / "nope"),
                                  "--artifacts", str(art_dir), "--out", str(out)])
    assert r.exit_code != 0 and "nope" in r.output


def test_aggregate_features_keeps_agreeing_cells_and_ignores_contradicting_ones():
    from edgecv.runtime.propagate import aggregate_features

    rng = np.random.default_rng(0)
    new = rng.normal(size=(1, 8, 4, 5)).astype(np.float32)
    zero = np.zeros((1, 2, 4, 5), np.float32)
    assert np.allclose(aggregate_features(new, new, zero), new, atol=1e-5)  # same features: unchanged
    prev = new.copy()
    prev[..., 0, 0] *= -1  # one cell contradicts the new frame: its weight is e^-2 of the new one's
    out = aggregate_features(new, prev, zero)
    w = np.exp(-2.0)
    assert np.allclose(out[..., 0, 0], new[..., 0, 0] * (1 - w) / (1 + w), atol=1e-5)
    # a one-cell shift of the previous features is undone by the flow
    shifted = np.roll(new, 1, axis=3)
    flow = zero.copy()
    flow[:, 0] = 1.0
    out = aggregate_features(new, shifted, flow)
    assert np.allclose(out[..., :4], new[..., :4], atol=1e-5)


def test_best_policy_is_the_fastest_that_keeps_the_floor():
    from edgecv.eval.propagate import best_policies

    def row(b, p, speed, rel):
        return {"bundle": b, "policy": p, "speedup": speed, "relative_miou": rel}

    rows = [row("a", "K=1", 1.0, 1.0), row("a", "K=5", 2.7, 0.974), row("a", "K=10", 3.5, 0.91),
            row("a", "auto", 3.0, 0.975), row("b", "K=1", 1.0, 1.0), row("b", "K=5", 1.8, 0.96)]
    best = best_policies(rows)
    assert best["a"]["policy"] == "auto" and best["a"]["speedup"] == 3.0
    assert best["b"]["policy"] == "K=1"  # nothing but per-frame keeps 97%
    assert best_policies(rows, floor=0.9)["a"]["policy"] == "K=10"
    # a bundle whose per-frame baseline is broken (a failed int8 graph) "keeps" over 100% and is not ranked
    rows = [dict(r, miou=0.85) for r in rows] + [dict(row("c", "K=1", 1.0, 1.0), miou=0.77),
                                                 dict(row("c", "K=15", 4.3, 1.03), miou=0.79)]
    best = best_policies(rows)
    assert "unranked" in best["c"] and "0.770" in best["c"]["unranked"] and best["a"]["policy"] == "auto"
