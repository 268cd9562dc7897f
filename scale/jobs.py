"""Every job a unit can name, in :data:`JOBS`: what a worker runs for one unit. Each takes the unit's JSON inputs
and the folder holding its files (artifacts, videos) by name, and returns a JSON-able dict; a ``"files"`` entry
(relative path → bytes) is written under the sweep's output folder by the driver."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from edgecv.runtime.manifest import sha256_file

from .content import (
    colorize_clip_digest,
    encode_png,
    pack_masks,
    propagation_clip_digest,
    weights_digest,
)
from .errors import ScaleError

__all__ = ["JOBS"]


def _build(spec: dict, folder: Path | None):
    if spec["kind"] == "nanotrack":
        from edgecv.eval.anchors import NanoTrackModel, NanoTrackTracker

        m = NanoTrackModel(spec["name"], spec["version"], spec["runner"], folder / spec["backbone"],
                           folder / spec["head"], spec.get("source"))
        return NanoTrackTracker(m, spec["threads"])
    from edgecv.runtime.track import make_tracker

    if spec["backend"] is None:
        return make_tracker(spec["name"])
    return make_tracker(spec["name"], folder, spec["backend"], spec["precision"], spec["threads"])


def track_sequence(inputs: dict, folder: Path | None) -> dict:
    """One tracker over one sequence from one start: the per-frame boxes, scores, lost flags and times."""
    from edgecv.eval.track import perturbed_box, run_sequence
    from edgecv.runtime.track.sequences import GROUNDTRUTH, load_sequence

    seq_dir = Path(inputs["dataset"]) / inputs["sequence"]
    if not (seq_dir / GROUNDTRUTH).is_file():
        raise ScaleError(f"sequence {seq_dir} is not on this node (fetch the dataset to the same path)")
    got = sha256_file(seq_dir / GROUNDTRUTH)
    if got != inputs["groundtruth_sha256"]:
        raise ScaleError(f"{seq_dir / GROUNDTRUTH} on this node differs from the driver's (sha256 {got[:12]}...)")
    seq = load_sequence(seq_dir)
    k = int(inputs["init"])
    run = run_sequence(_build(inputs["tracker"], folder), seq, None,
                       perturbed_box(seq.groundtruth[0], k) if k else None)
    return {"boxes": run["boxes"].tolist(), "scores": [float(s) for s in run["scores"]],
            "lost": [bool(v) for v in run["lost"]], "times": run["times"].tolist(),
            "init_time": float(run["init_time"])}


def _read_outputs(folder: Path, stem: str) -> dict:
    return {f"{stem}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def batch_track(inputs: dict, folder: Path | None) -> dict:
    from edgecv.runtime.track import make_tracker
    from edgecv.runtime.track.video import track_video

    s = inputs["settings"]
    tracker = (make_tracker(s["tracker"], folder, s["backend"], s["precision"], s["threads"])
               if s.get("artifacts") else make_tracker(s["tracker"]))
    stem = Path(inputs["video"]).stem
    with tempfile.TemporaryDirectory(prefix="edgecv-batch-") as tmp:
        out = Path(tmp)
        run = track_video(tracker, folder / inputs["video"], inputs["box"], out / "track.mp4", out / "boxes.txt",
                          progress=False, max_frames=s.get("max_frames"), warn=lambda m: None,
                          keep_results=False)
        (out / "stats.json").write_text(json.dumps(
            {"video": inputs["video"], "tracker": s["tracker"], "frames": run.frames, "skipped": run.skipped,
             "lost": run.lost}, indent=1) + "\n")
        return {"frames": run.frames, "skipped": run.skipped, "lost": run.lost, "files": _read_outputs(out, stem)}


def batch_mot(inputs: dict, folder: Path | None) -> dict:
    from edgecv.runtime.mot import PersonDetector, get_params, mot_video

    s = inputs["settings"]
    det = PersonDetector(folder / s["artifact"], s["backend"], s["threads"], s.get("score_threshold") or 0.0,
                         spin=False)
    params = det.fit_params(get_params(s["variant"]), s.get("score_threshold"))
    stem = Path(inputs["video"]).stem
    with tempfile.TemporaryDirectory(prefix="edgecv-batch-") as tmp:
        out = Path(tmp)
        res = mot_video(folder / inputs["video"], det, params, out / "mot.mp4", out / "tracks.txt",
                        out / "stats.json", progress=False, max_frames=s.get("max_frames"), warn=lambda m: None,
                        keep_results=False)
        st = res.stats
        return {"frames": st["frames"], "skipped": st["skipped"], "tracks": st["tracks"],
                "files": _read_outputs(out, stem)}


def export_model(inputs: dict, folder: Path | None) -> dict:
    """``edgecv export`` of one model × format × precision on this worker (needs edgecv[export] there); the
    artifacts and their manifests come back as files. The shipped weights are this node's installed ones: the
    unit's key holds their sha256 (:func:`.content.weights_digest`) and the worker checks it."""
    from edgecv.export import ExportError, export

    if weights_digest() != inputs["weights_sha256"]:
        raise ScaleError("this node's edgecv weights differ from the driver's: install the same edgecv version")
    calib = folder / inputs["calib"] if inputs.get("calib") else None
    with tempfile.TemporaryDirectory(prefix="edgecv-export-") as tmp:
        try:
            paths = export(inputs["model"], inputs["format"], inputs["precision"], inputs.get("ops"), calib=calib,
                           out_dir=tmp, keep_failed=inputs.get("keep_failed", False), progress=None)
        except ExportError as e:  # a multi-graph model's passing parts were written to this temporary folder
            msg = str(e).split("; written: ")[0]
            if msg != str(e):
                msg += (f" (its other parts passed, but a unit keeps all or nothing: `edgecv export {inputs['model']}"
                        f" --format {inputs['format']} --precision {inputs['precision']}` alone writes them)")
            raise ExportError(msg) from None
        paths = paths if isinstance(paths, list) else [paths]
        files = {}
        for p in Path(tmp).iterdir():
            if p.is_file():
                files[p.name] = p.read_bytes()
        return {"artifacts": [Path(p).name for p in paths], "files": files}


def profile_artifact(inputs: dict, folder: Path | None) -> dict:
    """Latency of one artifact × backend × threads on this node (one profiling unit per node at a time: the
    ``edgecv_profiler`` resource); the entry records the node's host and CPU."""
    from edgecv.runtime.profile import profile_artifacts

    prof = profile_artifacts([folder / inputs["artifact"]], [inputs["threads"]], [inputs["backend"]],
                             inputs["runs"], inputs["warmup"], inputs.get("device"), command=inputs.get("command"))
    (entry,) = prof["entries"]
    entry["provenance"]["cpu"] = prof["device"].get("cpu")
    return {"entry": entry, "device": prof["device"]}


def mot_detections(inputs: dict, folder: Path | None) -> dict:
    """The person detector over one MOT sequence: its ``det.txt`` (with embeddings) comes back as a file."""
    from edgecv.eval.mot import write_detections
    from edgecv.runtime.mot import PersonDetector

    seq_dir = Path(inputs["dataset"]) / inputs["sequence"]
    if not (seq_dir / "source.json").is_file() or sha256_file(seq_dir / "source.json") != inputs["source_sha256"]:
        raise ScaleError(f"sequence {seq_dir} is not on this node or differs from the driver's (fetch the dataset "
                         "to the same path)")
    s = inputs["settings"]
    det = PersonDetector(folder / s["artifact"], s["backend"], s["threads"], s["score_threshold"], spin=False)
    with tempfile.TemporaryDirectory(prefix="edgecv-det-") as tmp:
        per_seq = write_detections(inputs["dataset"], det, tmp, sequences=[inputs["sequence"]])
        rel = f"{inputs['sequence']}/det/det.txt"
        stats = {k: v for k, v in per_seq[inputs["sequence"]].items() if k != "det_txt"}
        return {"stats": stats, "describe": det.describe(), "operating_point": det.operating_point,
                "files": {rel: (Path(tmp) / rel).read_bytes()}}


def _propagator(spec: dict, folder: Path):
    from edgecv.runtime.propagate import Propagator

    return Propagator.from_dir(folder, spec["model"], spec["backend"], spec["precision"], spec["ops"], 1,
                               spec["threads"], spec["part_precision"], aggregate=spec["aggregate"])


def propagate_clip(inputs: dict, folder: Path | None) -> dict:
    """One propagation bundle over one labelled clip under one key-frame policy: its confusion matrix."""
    from edgecv.eval.propagate import Confusion, load_clip, run_policy

    d = Path(inputs["dataset"]) / inputs["clip"]
    if not d.is_dir() or propagation_clip_digest(d) != inputs["clip_sha256"]:
        raise ScaleError(f"clip {d} is not on this node or differs from the driver's (same dataset, same path)")
    frames, labels = load_clip(d)
    masks, ms, keys = run_policy(_propagator(inputs["bundle"], folder), inputs["policy"], frames)
    conf = Confusion()
    for m, lab in zip(masks, labels):
        conf.add(m, lab)
    return {"confusion": conf.m.tolist(), "ms": ms, "keys": keys}


def propagate_real(inputs: dict, folder: Path | None) -> dict:
    """One propagation bundle over frames of an unlabelled real video under one policy: its masks."""
    from edgecv.eval.propagate import run_policy
    from edgecv.runtime.track.sequences import read_video

    start, count = inputs["start"], inputs["count"]
    frames = list(read_video(folder / inputs["video"], start, start + count - 1))
    masks, ms, keys = run_policy(_propagator(inputs["bundle"], folder), inputs["policy"], frames)
    return {"masks": pack_masks(masks), "ms": ms, "keys": keys}


def colorize_clip(inputs: dict, folder: Path | None) -> dict:
    """One colorizer method (the model, recurrent or not, or the global-transfer baseline) over one clip: the
    per-frame values :class:`edgecv.eval.colorize.Scores` adds, and the contact-sheet frames."""
    import time

    from edgecv.eval import colorize as ev

    d = Path(inputs["dataset"]) / inputs["clip"]
    if not d.is_dir() or colorize_clip_digest(d) != inputs["clip_sha256"]:
        raise ScaleError(f"clip {d} is not on this node or differs from the driver's (same dataset, same path)")
    (clip,) = [c for c in ev.load_clips(inputs["dataset"]) if c["name"] == inputs["clip"]]
    truth, ref = clip["frames"], ev.clip_reference(clip, inputs["reference"])
    grey = ev.grey_frames(truth)
    spec = inputs["method"]
    outs, ms = [], []
    if spec["kind"] == "global":
        for f in grey:
            t0 = time.perf_counter()
            outs.append(ev.global_transfer(f, ref))
            ms.append((time.perf_counter() - t0) * 1e3)
    else:
        from edgecv.runtime.colorize import Colorizer

        col = Colorizer.from_dir(folder, spec["model"], spec["backend"], spec["precision"], None, spec["size"],
                                 spec["threads"])
        col.recurrent = spec["recurrent"]
        col.set_reference(ref)
        for f in grey:
            o, info = col.step(f)
            outs.append(o)
            ms.append(info["ms"])
    scores = ev.Scores()
    ev.score_clip(outs, truth, scores)
    values = [list(ev.frame_values(o, g)) for o, g in zip(outs, truth)]
    sheet = {t: encode_png(outs[t]) for t in inputs["sheet_frames"] if t < len(outs)}
    return {"values": values, "temp": scores.temp, "temp_truth": scores.temp_truth, "ms": [float(m) for m in ms],
            "sheet": sheet}


def batch_propagate(inputs: dict, folder: Path | None) -> dict:
    from edgecv.runtime.propagate import propagate_video

    s = inputs["settings"]
    stem = Path(inputs["video"]).stem
    key = s["key_interval"]
    with tempfile.TemporaryDirectory(prefix="edgecv-batch-") as tmp:
        out = Path(tmp)
        res = propagate_video(folder / inputs["video"], out / "propagate.mp4", None,
                              int(key) if str(key).isdigit() else key, s["model"], s["backend"], s["precision"],
                              s["ops"], folder, s["threads"], progress=False, stats=out / "stats.json",
                              max_frames=s.get("max_frames"), warn=lambda m: None)
        return {"frames": int(res.get("frames", 0)), "key_frames": int(res.get("key_frames", 0)),
                "files": _read_outputs(out, stem)}


def batch_colorize(inputs: dict, folder: Path | None) -> dict:
    from edgecv.runtime.colorize import colorize_video

    s = inputs["settings"]
    stem = Path(inputs["video"]).stem
    with tempfile.TemporaryDirectory(prefix="edgecv-batch-") as tmp:
        out = Path(tmp)
        res = colorize_video(folder / inputs["video"], folder / s["ref"], out / "colorize.mp4", s["backend"],
                             s["precision"], s["size"], s["model"], None, folder, s["threads"], progress=False,
                             max_frames=s.get("max_frames"), warn=lambda m: None)
        (out / "stats.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
        skipped = res["skipped"]
        return {"frames": int(res["frames"]), "skipped": len(skipped) if isinstance(skipped, list) else int(skipped),
                "files": _read_outputs(out, stem)}


JOBS = {"track.sequence": track_sequence, "mot.detections": mot_detections, "propagate.clip": propagate_clip,
        "propagate.real": propagate_real, "colorize.clip": colorize_clip, "batch.track": batch_track,
        "batch.mot": batch_mot, "batch.propagate": batch_propagate, "batch.colorize": batch_colorize,
        "export.model": export_model, "profile.artifact": profile_artifact}
