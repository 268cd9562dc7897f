"""`edgecv batch LOOP --videos DIR|GLOB --out DIR`: one loop (track, mot, propagate, colorize) over a library of
videos, one unit per video, in this process or on Ray (``--ray``; :mod:`edgecv.scale`). Registers on `main`."""
from __future__ import annotations

from pathlib import Path

import click

from edgecv.cli_base import (
    FRAMES,
    THREADS,
    THREADS_HELP,
    _check_outputs,
    _errors,
    ensure_colorize_artifacts,
    ensure_dff_artifacts,
    ensure_tracker_artifacts,
    main,
    ray_options,
)


@main.command("batch")
@click.argument("loop", type=click.Choice(["track", "mot", "propagate", "colorize"]))
@click.option("--videos", required=True, help="A folder of videos, or a glob pattern (quote it).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: <video name>/ per video (annotated mp4, boxes or tracks, stats) and batch.json.")
@click.option("--boxes", "boxes_path", type=click.Path(dir_okay=False), default=None,
              help="track: init boxes, a JSON object {\"video.avi\": [x, y, w, h]} (or VIDEO.box beside each video).")
@click.option("--tracker", default="boxtrack", show_default=True, help="track: the tracker.")
@click.option("--variant", default="bytetrack", show_default=True, help="mot: the association variant.")
@click.option("--model", default=None,
              help="mot: the detector (default persondet-lite0); propagate: dff-seg (default), dff-seg-nodcn, "
                   "dff-seg-lite0, dff-seg-ctx, dff-seg-fast, dff-seg-thin; colorize: excolor.")
@click.option("--key-interval", default="10", show_default=True, help="propagate: K, or auto.")
@click.option("--ref", "ref_path", type=click.Path(dir_okay=False), default=None,
              help="colorize: the colour exemplar image (one for every video).")
@click.option("--size", default="320x240", show_default=True, help="colorize: the working size.")
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "litert"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=THREADS, default=1, show_default=True,
              help=f"Inference threads per video, {THREADS_HELP}.")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop each video after this many frames.")
@ray_options
@_errors
def batch_cmd(loop, videos, out_dir, boxes_path, tracker, variant, model, key_interval, ref_path, size, backend,
              precision, art_dir, threads, max_frames, ray, workers):
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
        artifacts = files
    elif loop == "propagate":
        from edgecv.scale.propagate import bundle_spec

        model = model or "dff-seg"
        if not (key_interval == "auto" or key_interval.isdigit() and int(key_interval) >= 1):
            raise click.BadParameter(f"{key_interval!r}: K ≥ 1 or auto", param_hint="--key-interval")
        boxes, ops = None, ("standard" if backend == "ort" else None)
        ensure_dff_artifacts(model, art_dir, backend, precision, ops, {})
        spec, files = bundle_spec(art_dir, model, backend, precision, ops, threads, None, False)
        artifacts = files
        settings = {**spec, "key_interval": key_interval, "max_frames": max_frames}
    elif loop == "colorize":
        from edgecv.scale.colorize import model_spec

        if ref_path is None:
            raise click.UsageError("batch colorize needs --ref IMAGE (the colour exemplar)")
        if not Path(ref_path).is_file():
            raise click.BadParameter(f"{ref_path}: no such image", param_hint="--ref")
        model, boxes = model or "excolor", None
        ensure_colorize_artifacts(model, art_dir, backend, precision, size)
        spec, files = model_spec(art_dir, model, backend, precision, size, threads, True)
        artifacts = files + [Path(ref_path)]
        settings = {**spec, "ref": Path(ref_path).name, "max_frames": max_frames}
    else:
        from edgecv.cli_mot import ensure_detector_artifacts

        model = model or "persondet-lite0"
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
