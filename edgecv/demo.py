"""``edgecv demo``: the spine end to end on the bundled sample media.

Exports the shipped ``mnv2-dcn`` scene classifier five ways (ONNX standard/portable fp32, ONNX int8,
TFLite fp32/int8), each verified against PyTorch; profiles them on this machine; then runs ONNX
Runtime fp32 and LiteRT int8 side by side on held-out frames of the real videos (through the
torch-free runtime) and writes an annotated MP4 plus a summary. Last, key-frame propagation
(``dff-seg``, adaptive key frames) segments the people in the held-out part of vtest.avi through the
torch-free loop and writes an overlay MP4.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

EXPORTS = [("onnx", "fp32", "standard"), ("onnx", "fp32", "portable"), ("onnx", "int8", "standard"),
           ("tflite", "fp32", "portable"), ("tflite", "int8", "portable")]


def _artifact_name(model, fmt, precision, ops):
    from edgecv.runtime.bundle import artifact_name

    return artifact_name(model, None, fmt, precision, ops)


def _preprocess(frame: np.ndarray, size: int) -> np.ndarray:
    h, w = frame.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    crop = cv2.resize(frame[y0:y0 + s, x0:x0 + s], (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def _letterbox(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    s = min(w / frame.shape[1], h / frame.shape[0])
    img = cv2.resize(frame, (max(1, int(frame.shape[1] * s)), max(1, int(frame.shape[0] * s))))
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - img.shape[0]) // 2, (w - img.shape[1]) // 2
    out[y:y + img.shape[0], x:x + img.shape[1]] = img
    return out


def _softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def run_demo(out_dir: Path, video=None, model: str = "mnv2-dcn") -> dict:
    from rich.console import Console

    from edgecv import data, runtime
    from edgecv.export import export
    from edgecv.runtime.manifest import read_manifest, verify_artifact
    from edgecv.runtime.profile import profile_artifacts, write_profile
    from edgecv.runtime.report import print_profile

    con = Console()
    out_dir = Path(out_dir)
    art_dir = out_dir / "artifacts"
    data.ensure_samples()
    arts = []
    for fmt, prec, ops in EXPORTS:
        p = art_dir / _artifact_name(model, fmt, prec, ops)
        try:  # reuse a verified artifact; an older, tampered or broken one is exported again
            man = read_manifest(p) if p.exists() else None
            if man is not None:
                verify_artifact(p, man)
                con.print(f"[dim]reusing {p}[/dim]")
                arts.append(p)
                continue
        except runtime.ArtifactError:
            pass
        arts.append(export(model, fmt, prec, ops, out_dir=art_dir, progress=con.print))

    con.rule("latency on this machine (2 threads)")
    prof = profile_artifacts(arts, threads=(2,), runs=20, warmup=3, command="edgecv demo")
    print_profile(prof, con)
    write_profile(prof, out_dir / "profile.yaml", merge=False)

    con.rule("held-out video frames: ONNX Runtime fp32 vs LiteRT int8")
    classes = list(data.SCENES)
    if video:
        clips = [(Path(video).name, data.read_frames(video), None, 1)]
    else:
        clips = []
        for name in data.SCENE_VIDEOS:
            clips.append((name, data.video_part(name, "heldout", step=2), classes.index(Path(name).stem.lower()), 1))
        # the held-out strip of each photo scene, held on screen for 8 frames
        clips += [(f"{f} (held-out strip)", [strip], c, 8) for c, f, strip in data.photo_parts("heldout")]
    s_fp32 = runtime.load(art_dir / _artifact_name(model, "onnx", "fp32", "standard"), threads=2)
    s_int8 = runtime.load(art_dir / _artifact_name(model, "tflite", "int8", "portable"), threads=2)
    size = s_fp32.inputs[0].shape[-1]
    out_video = out_dir / "scenes.mp4"
    tmp_video = out_dir / "scenes.partial.mp4"
    writer = None
    stats = {"frames": 0, "fp32_correct": 0, "int8_correct": 0, "agree": 0}
    from rich.progress import track
    for name, frames, truth, hold in track(clips, description="held-out clips and photo strips", console=con):
        for frame in frames:
            x = _preprocess(frame, size)
            p32 = _softmax(s_fp32.run({"image": x})["logits"][0])
            p8 = _softmax(s_int8.run({"image": x})["logits"][0])
            c32, c8 = int(p32.argmax()), int(p8.argmax())
            stats["frames"] += 1
            stats["agree"] += int(c32 == c8)
            if truth is not None:
                stats["fp32_correct"] += int(c32 == truth)
                stats["int8_correct"] += int(c8 == truth)
            vis = _letterbox(frame, 480, 360)
            if writer is None:
                writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (480, 360))
            for i, (tag, c, p) in enumerate((("ORT fp32", c32, p32), ("LiteRT int8", c8, p8))):
                ok = truth is None or c == truth
                cv2.rectangle(vis, (0, 4 + 26 * i), (300, 28 + 26 * i), (0, 0, 0), -1)
                cv2.putText(vis, f"{tag}: {classes[c]} {p[c]:.2f}", (6, 22 + 26 * i), cv2.FONT_HERSHEY_SIMPLEX,
                            0.6, (80, 255, 80) if ok else (60, 60, 255), 2)
            label = name if truth is None else f"{name} (truth: {classes[truth]})"
            cv2.putText(vis, label, (6, 350), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
            for _ in range(hold):
                writer.write(vis)
    if writer is not None:
        writer.release()
        tmp_video.replace(out_video)
    n = max(stats["frames"], 1)
    summary = {"frames": stats["frames"], "fp32_top1": stats["fp32_correct"] / n,
               "int8_top1": stats["int8_correct"] / n,
               "fp32_int8_agreement": stats["agree"] / n, "video": str(out_video),
               "artifacts": [str(a) for a in arts], "profile": str(out_dir / "profile.yaml")}
    if video is None:
        summary["propagation"] = _propagation_demo(out_dir, art_dir, con)
        summary["colorization"] = _colorization_demo(out_dir, art_dir, con)
        summary["mot"] = _mot_demo(out_dir, art_dir, con)
        summary["plans"] = _planning_demo(out_dir, con)
    from edgecv.runtime.outputs import write_text_atomic

    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    con.print(f"held-out frames and photo strips: {stats['frames']}; top-1 ORT fp32 {summary['fp32_top1']:.3f}, "
              f"LiteRT int8 {summary['int8_top1']:.3f}; fp32/int8 agreement {summary['fp32_int8_agreement']:.3f}")
    con.print(f"annotated video: {out_video}\nsummary: {out_dir / 'summary.json'}")
    return summary


def _propagation_demo(out_dir: Path, art_dir: Path, con) -> dict:
    """Key-frame propagation (``dff-seg``) on the held-out part of vtest.avi with adaptive key frames,
    through the torch-free loop: an overlay MP4 and the loop's stats."""
    from edgecv import data
    from edgecv.export import export
    from edgecv.runtime.propagate import find_artifacts, propagate_video

    con.rule("key-frame propagation (dff-seg, adaptive key frames) on held-out vtest.avi frames")
    try:
        find_artifacts(art_dir, "dff-seg", "onnx", "fp32", "standard")
    except Exception:  # missing, or from other weights: export afresh
        export("dff-seg", "onnx", "fp32", "standard", out_dir=art_dir, progress=con.print)
    frames = data.video_part("vtest.avi", "heldout")
    stats = propagate_video(frames, out=out_dir / "propagate.mp4", key_interval="auto", art_dir=art_dir,
                            threads=2, stats=out_dir / "propagate.json", progress=True)
    con.print(f"{stats['frames']} frames, {stats['key_frames']} key frames, {stats['fps']:.1f} fps "
              f"({stats['median_ms']:.1f} ms median per frame); overlay: {out_dir / 'propagate.mp4'}")
    keep = {k: stats[k] for k in ("frames", "key_frames", "fps", "median_ms")}
    return dict(keep, video=str(out_dir / "propagate.mp4"))


def _colorization_demo(out_dir: Path, art_dir: Path, con) -> dict:
    """Exemplar-based colorization (``excolor``) of held-out Megamind.avi frames made grey, with the shot's
    first frame as the colour reference, through the torch-free loop: a colour MP4 beside the grey input."""
    import cv2

    from edgecv import data
    from edgecv.export import export
    from edgecv.runtime.colorize import colorize_video, find_artifacts

    con.rule("exemplar-based colorization (excolor) of held-out Megamind.avi frames made grey")
    try:
        find_artifacts(art_dir, "excolor", "onnx", "fp32", "standard", "320x240")
    except Exception:
        export("excolor", "onnx", "fp32", "standard", out_dir=art_dir, progress=con.print)
    clip, (start, length) = data.ensure_samples(verbose=False) / "Megamind.avi", data.COLORIZE_CLIPS[0][1:]
    frames = data.read_frames(clip, max_frames=length * 2, start=start)
    grey = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for f in frames]
    cv2.imwrite(str(out_dir / "colorize_reference.png"), frames[0])
    stats = colorize_video(grey, frames[0], out_dir / "colorize.mp4", art_dir=art_dir, threads=2, progress=True)
    con.print(f"{stats['frames']} grey frames colorized at {stats['fps']:.1f} fps ({stats['median_ms']:.1f} ms "
              f"median per frame, reference {stats['reference_ms']:.1f} ms); video: {out_dir / 'colorize.mp4'}")
    return {k: stats[k] for k in ("frames", "fps", "median_ms")} | {"video": str(out_dir / "colorize.mp4")}


def _mot_demo(out_dir: Path, art_dir: Path, con) -> dict:
    """Multi-object tracking (``persondet-lite0`` int8 on onnxruntime + ByteTrack-style association) of the
    held-out part of vtest.avi through the torch-free loop: ids drawn in stable colours, MOTChallenge tracks."""
    from edgecv import data
    from edgecv.export import export
    from edgecv.runtime.mot import PersonDetector, mot_video

    con.rule("multi-object tracking (persondet-lite0 int8 + bytetrack) on held-out vtest.avi frames")
    try:
        det = PersonDetector.from_dir(art_dir, "persondet-lite0", "ort", "int8", threads=2)
    except Exception:  # missing, or from other weights: export afresh
        export("persondet-lite0", "onnx", "int8", out_dir=art_dir, progress=con.print)
        det = PersonDetector.from_dir(art_dir, "persondet-lite0", "ort", "int8", threads=2)
    params = det.fit_params("bytetrack")
    frames = data.video_part("vtest.avi", "heldout")
    res = mot_video(frames, det, params, out_dir / "mot.mp4", out_dir / "mot-tracks.txt", out_dir / "mot.json",
                    progress=True, keep_results=False)
    s = res.stats
    con.print(f"{s['frames']} frames, {s['tracks']} tracks, {s['boxes']} boxes; median "
              f"{s['ms_detector']['median']:.1f} ms detector + {s['ms_association']['median']:.2f} ms association per "
              f"frame; video: {out_dir / 'mot.mp4'}, tracks: {out_dir / 'mot-tracks.txt'}")
    return {"frames": s["frames"], "tracks": s["tracks"], "video": str(out_dir / "mot.mp4"),
            "tracks_file": str(out_dir / "mot-tracks.txt")}


def _planning_demo(out_dir: Path, con) -> list:
    """Would propagation hold 30 fps on devices we do not have? Plans from the shipped predicted profiles."""
    from edgecv.runtime.plan import PlanError, make_plan, write_plan

    out = []
    for device in ("jetson-orin-nano", "pixel-4"):
        try:
            plan = make_plan(device, "propagate", 30.0)
        except PlanError as e:
            con.print(f"plan for {device}: {e}")
            continue
        path = write_plan(plan, out_dir / f"plan-propagate-{device}.json")
        s = plan["settings"]
        unit = f":{s['compute_unit']}" if s.get("compute_unit") else ""
        con.print(f"plan for {device} at 30 fps: {s['backend']}{unit} "
                  f"{s['precision']}, K={s['key_interval']} → predicted {plan['predicted_fps']:.0f} fps, expected "
                  f"mIoU {plan['expected_accuracy']['value']:.3f} (latencies {', '.join(plan['latency_provenance'])}); "
                  f"{path}")
        out.append(str(path))
    return out
