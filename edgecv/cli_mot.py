"""`edgecv mot` (multi-object tracking on a video: the person detector + a tracker variant) and `edgecv eval mot`
(the variants on a MOTChallenge-layout dataset). `mot` registers on `main`; `eval mot` on the `eval` group of
`edgecv.cli`, which imports this module after defining the group."""
from __future__ import annotations

from pathlib import Path

import click

from edgecv.cli_base import (
    FRAMES,
    THREADS,
    THREADS_HELP,
    _check_outputs,
    _csv,
    _errors,
    _local_threads,
    _probe_video,
    main,
    ray_options,
)

# The `eval` group lives in edgecv.cli, which imports this module at its end; looking the group up on `main`
# (instead of importing edgecv.cli) keeps the CLI free of import cycles.
eval_group = main.commands.get("eval")
if eval_group is None:  # imported on its own: import edgecv.cli, which defines the group and then imports us
    raise ImportError("edgecv.cli_mot registers on the `eval` group: import edgecv.cli instead")

DEFAULT_DETECTOR = "persondet-lite0"
BACKENDS = ["ort", "ort-cuda", "ort-trt", "litert", "tflite"]   # as `edgecv track`
ARTIFACT_SUFFIXES = (".onnx", ".tflite")


def _is_artifact(model: str) -> bool:
    """``--model`` / ``--detector`` names an artifact file (else a model to export or find in --artifacts)."""
    return Path(model).suffix.lower() in ARTIFACT_SUFFIXES or Path(model).is_file()


def ensure_detector_artifacts(model, art_dir, backend, precision, ops=None, echo=click.echo):
    """Export the person-detector graph ``edgecv mot`` needs when it is missing (needs torch); without torch,
    say which ``edgecv export`` command makes it. A model that is not a detector is refused before any export."""
    import importlib.util

    from edgecv.runtime.bundle import PIPELINES, artifact_path, backend_format, export_hint
    from edgecv.runtime.manifest import info_type
    from edgecv.runtime.mot import MotError

    fmt = backend_format(backend, MotError)        # unknown backend: a clear error before anything else
    ops = (ops or "standard") if fmt == "onnx" else None
    path = artifact_path(art_dir, model, None, fmt, precision, ops)
    if path.is_file():
        return path
    how = export_hint(model, fmt, precision, ops, art_dir)
    if importlib.util.find_spec("torch") is None:
        raise MotError(f"{path.name} not in {art_dir}, and exporting it needs torch, which is not installed: run "
                       f"`{how}` where edgecv[export] is installed, and copy the files into {art_dir}")
    from edgecv.models import create_model

    net = create_model(model, pretrained=False)
    if hasattr(net, "export_parts"):   # several graphs (a tracker's, DFF's): the first part's model_info says
        net = next(iter(net.export_parts().values()))
    extra = getattr(getattr(net, "export_spec", None), "extra", None) or {}
    if extra.get("pipeline") != PIPELINES["detect"].name:
        try:
            kind = info_type(extra)
        except ValueError:
            kind = None
        noun = next((s.noun for s in PIPELINES.values() if s.info is kind), "model")
        raise MotError(f"--model {model}: not a person detector ({model} exports {noun} graphs); use "
                       f"{PIPELINES['detect'].default_model} or a .onnx/.tflite file it was exported to")
    echo(f"[mot] {model} {fmt} {precision} artifact not in {art_dir}: exporting it now ({how})")
    from edgecv.export import check_combination, export

    check_combination(fmt, precision, ops)
    export(model, fmt, precision, ops, out_dir=art_dir, progress=echo)
    return path


def open_detector(model, backend, precision, art_dir, threads, score_threshold, echo=click.echo):
    """A :class:`PersonDetector` from ``model``: an artifact file (checked through its manifest), or a model
    name whose artifact is found in (or exported into) ``art_dir``."""
    from edgecv.runtime.mot import MotError, PersonDetector

    if _is_artifact(model):
        if not Path(model).is_file():
            raise MotError(f"detector artifact {model} does not exist")
        return PersonDetector(model, backend or "auto", threads, score_threshold, spin=False)
    ensure_detector_artifacts(model, art_dir, backend or "ort", precision, echo=echo)
    return PersonDetector.from_dir(art_dir, model, backend or "ort", precision, threads=threads,
                                   score_threshold=score_threshold, spin=False)


@main.command("mot")
@click.argument("video", type=click.Path())
@click.option("--out", "out_video", type=click.Path(dir_okay=False), default=None,
              help="Annotated MP4 to write: each track's box and id in its own colour.")
@click.option("--tracks", "tracks_path", type=click.Path(dir_okay=False), default=None,
              help="Tracks to write, MOTChallenge: frame,id,x,y,w,h,score,-1,-1,-1 (frame 1 = the first frame).")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False), default=None,
              help="JSON to write: frames, skipped, tracks, ms per frame (detector, association), artifact.")
@click.option("--model", default=DEFAULT_DETECTOR, show_default=True,
              help="The detector: a model name (its artifact is found in --artifacts, exported when missing) or "
                   "an exported .onnx/.tflite file.")
@click.option("--backend", default=None, type=click.Choice(BACKENDS),
              help="Runtime backend [default: ort; for an artifact file, by its suffix].")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--variant", default="bytetrack", show_default=True,
              help="Tracker variant: sort, appearance (alias deepsort-lite), bytetrack (alias byte).")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where the exported detector is (a missing one is exported when torch is installed).")
@click.option("--threads", type=THREADS, default=None, help=f"Inference threads, {THREADS_HELP} (default: the "
              "backend's).")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop after this many frames (≥ 1).")
@click.option("--score-threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Detector heatmap threshold [default: the lowest score the variant uses: bytetrack 0.1, "
                   "sort and appearance 0.6].")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="A plan from `edgecv plan --pipeline mot`: its settings (model, variant, backend, precision, "
                   "threads) replace these options.")
@_errors
def mot_cmd(video, out_video, tracks_path, stats_path, model, backend, precision, variant, art_dir, threads,
            max_frames, score_threshold, plan_path):
    """Detect and track every person through VIDEO (a video file or a folder of images)."""
    _check_outputs({"--out": out_video, "--tracks": tracks_path, "--stats": stats_path},
                   [video, model if _is_artifact(model) else None, plan_path])
    from edgecv.runtime.mot import MotError, get_params, mot_video

    if plan_path:
        from edgecv.runtime.plan import settings_for

        st = settings_for(plan_path, "mot", art_dir)   # settings.model: a model name inside --artifacts
        model, variant, backend, precision, threads = (st["model"], st["variant"], st["backend"], st["precision"],
                                                       st["threads"])
        _local_threads(threads, f"plan {plan_path}: settings.threads")
        click.echo(f"[mot] plan {plan_path}: {model} {variant} {backend} {precision} x{threads}")

    params = get_params(variant)            # an unknown variant fails before any export or model load
    _probe_video(video, MotError)
    det = open_detector(model, backend, precision, art_dir, threads, score_threshold or 0.0)
    params = det.fit_params(params, score_threshold)   # thresholds on this detector's score scale
    res = mot_video(video, det, params, out_video, tracks_path, stats_path, progress=True, max_frames=max_frames,
                    warn=lambda m: click.echo(f"warning: {m}", err=True), keep_results=False)
    s = res.stats
    md, ma = s["ms_detector"]["median"], s["ms_association"]["median"]
    click.echo(f"mot {params.name}: {s['frames']} frames ({s['skipped']} unreadable, skipped), {s['tracks']} tracks, "
               f"{s['boxes']} boxes; median {md if md is not None else 0:.1f} ms detector ({det.backend} "
               f"{det.precision}) + {ma if ma is not None else 0:.2f} ms association per frame"
               + (f"; tracks → {tracks_path}" if tracks_path else "") + (f"; video → {out_video}" if out_video else "")
               + (f"; stats → {stats_path}" if stats_path else ""))


@eval_group.command("mot")
@click.option("--dataset", required=True, type=click.Path(),
              help="MOTChallenge-layout folder: SEQ/det/det.txt, SEQ/gt/gt.txt, optional SEQ/seqinfo.ini.")
@click.option("--variants", default="sort,appearance,bytetrack", show_default=True,
              help="Comma-separated tracker variants (runtime/mot/params.py).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-mot", show_default=True,
              help="Folder for results.json, results.md and VARIANT/SEQ.txt tracker outputs (and, with "
                   "--detector, detections/SEQ/det/det.txt).")
@click.option("--detector", default=None,
              help="Run this detector (a model name such as persondet-lite0, or an exported .onnx/.tflite file) "
                   "over each sequence's frames (its source.json video) instead of reading SEQ/det/det.txt.")
@click.option("--backend", default=None, type=click.Choice(BACKENDS),
              help="--detector's backend [default: ort; for an artifact file, by its suffix].")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]),
              help="--detector's precision.")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where --detector's artifact is (exported when missing and torch is installed).")
@click.option("--threads", type=THREADS, default=None, help=f"--detector's threads, {THREADS_HELP}.")
@click.option("--score-threshold", type=click.FloatRange(0.0, 1.0), default=0.1, show_default=True,
              help="--detector's heatmap threshold (the lowest any variant uses, ByteTrack's τ_low).")
@ray_options
@_errors
def eval_mot_cmd(dataset, variants, out_dir, detector, backend, precision, art_dir, threads, score_threshold, ray,
                 workers):
    """Multi-object tracking from the dataset's detections (or a detector's): MOTA, IDF1, ID switches, FP, FN,
    MOTP per sequence and overall (py-motmetrics), and the detection AP@0.5 of the detections."""
    from edgecv.runtime.mot import MotError, get_params

    names = _csv(variants)
    if not names:
        raise MotError("--variants: give at least one variant")
    for n in names:                   # an unknown variant fails before anything is read or written
        get_params(n)
    if detector is None and ray is not None:
        raise click.UsageError("--ray goes with --detector: the detector pass is what runs on Ray (the association "
                               "over det.txt takes seconds)")
    if detector is None and (backend is not None or threads is not None):
        raise click.UsageError("--backend and --threads go with --detector")
    _check_outputs({"--out": out_dir}, [dataset, detector if detector and _is_artifact(detector) else None],
                   into=["--out"])
    from edgecv.eval.mot import evaluate

    det_root, det_info, operating_point = None, None, None
    if detector is not None:
        from edgecv.eval.mot import write_detections

        _ensure_sequence_videos(dataset)
        det = open_detector(detector, backend, precision, art_dir, threads, score_threshold)
        det_root = Path(out_dir) / "detections"
        if ray is not None:   # the detector pass per sequence on Ray; association and scoring stay here
            from edgecv.scale import ray_address
            from edgecv.scale.mot import detections_on_ray

            per_seq = detections_on_ray(dataset, det.path, det.backend, threads, score_threshold, det_root,
                                        ray_address(ray), workers)
        else:
            per_seq = write_detections(dataset, det, det_root, progress=lambda m: click.echo(m, err=True))
        det_info = {**det.describe(), "sequences": per_seq}
        operating_point = det.operating_point
    res = evaluate(dataset, names, out_dir=out_dir, det_root=det_root, detector=det_info,
                   operating_point=operating_point)
    click.echo(res["markdown"], nl=False)
    for name, v in res["variants"].items():
        o = v["overall"]
        mota = "–" if o["mota"] is None else f"{100 * o['mota']:.1f}%"
        idf1 = "–" if o["idf1"] is None else f"{100 * o['idf1']:.1f}%"
        click.echo(f"{name}: MOTA {mota}  IDF1 {idf1}  ID switches {o['id_switches']}")
    click.echo(f"results → {Path(out_dir) / 'results.json'}")


def _ensure_sequence_videos(dataset) -> None:
    """Fetch the sample media (`edgecv fetch-data`) when a sequence's source.json names a video not on disk."""
    from edgecv.eval.mot import resolve_video, sequence_folders, sequence_source
    from edgecv.runtime.mot import MotError

    for p in sequence_folders(dataset):
        if not (p / "gt").is_dir():
            continue
        src = sequence_source(p)
        try:
            resolve_video(src["video"], p, src["source_json"])
        except MotError:
            from edgecv.data import ensure_samples

            ensure_samples(verbose=False)
            return
