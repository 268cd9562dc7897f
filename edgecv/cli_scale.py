"""`edgecv batch LOOP --videos DIR|GLOB --out DIR`: one loop (track, mot) over a library of videos, one unit per
video, in this process or on Ray (``--ray``; :mod:`edgecv.scale`). Registers on `main`."""
from __future__ import annotations

from pathlib import Path

import click

from edgecv.cli_base import (
    FRAMES,
    THREADS,
    THREADS_HELP,
    _check_outputs,
    _errors,
    ensure_tracker_artifacts,
    main,
    ray_options,
)


@main.command("batch")
@click.argument("loop", type=click.Choice(["track", "mot"]))
@click.option("--videos", required=True, help="A folder of videos, or a glob pattern (quote it).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: <video name>/ per video (annotated mp4, boxes or tracks, stats) and batch.json.")
@click.option("--boxes", "boxes_path", type=click.Path(dir_okay=False), default=None,
              help="track: init boxes, a JSON object {\"video.avi\": [x, y, w, h]} (or VIDEO.box beside each video).")
@click.option("--tracker", default="boxtrack", show_default=True, help="track: the tracker.")
@click.option("--variant", default="bytetrack", show_default=True, help="mot: the association variant.")
@click.option("--model", default="persondet-lite0", show_default=True, help="mot: the detector model.")
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "litert"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=THREADS, default=1, show_default=True,
              help=f"Inference threads per video, {THREADS_HELP}.")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop each video after this many frames.")
@ray_options
@_errors
def batch_cmd(loop, videos, out_dir, boxes_path, tracker, variant, model, backend, precision, art_dir, threads,
              max_frames, ray, workers):
    """Run LOOP over every video of --videos; a rerun skips videos already done (their outputs unchanged)."""
    from edgecv.scale import ray_address
    from edgecv.scale.batch import batch, find_videos, read_boxes_file

    found = find_videos(videos)
    _check_outputs({"--out": out_dir}, found, into=["--out"])
    if loop == "track":
        from edgecv.runtime.track import TrackError, get_variant, tracker_names
        from edgecv.scale.track import edgecv_spec

        if tracker not in tracker_names() or get_variant(tracker).foreign:
            raise TrackError(f"unknown tracker {tracker!r}; choose from {', '.join(tracker_names())}")
        boxes = read_boxes_file(boxes_path, found)
        ensure_tracker_artifacts([tracker], art_dir, [backend], [precision])
        spec, files = edgecv_spec(tracker, art_dir, backend, precision, threads)
        settings = {"tracker": tracker, "backend": backend, "precision": precision, "threads": threads,
                    "artifacts": bool(files), "max_frames": max_frames}
        artifacts = [f for f in files if f.suffix != ".json"]
    else:
        from edgecv.cli_mot import ensure_detector_artifacts
        from edgecv.runtime.bundle import backend_format, find_bundle
        from edgecv.runtime.mot import MotError, get_params

        get_params(variant)
        boxes = None
        ensure_detector_artifacts(model, art_dir, backend, precision)
        b = find_bundle("detect", art_dir, model, backend_format(backend, MotError), precision, error=MotError)
        artifacts = [b.paths[""]]
        settings = {"model": model, "artifact": artifacts[0].name, "variant": variant, "backend": backend,
                    "precision": precision, "threads": threads, "max_frames": max_frames}
    summary = batch(loop, found, out_dir, settings, artifacts, boxes, ray_address(ray), workers)
    n = sum(v.get("frames", 0) for v in summary["videos"].values())
    click.echo(f"batch {loop}: {len(found)} videos, {n} frames → {Path(out_dir)}/<video>/, "
               f"{Path(out_dir) / 'batch.json'}")
