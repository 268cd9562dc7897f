"""The ``edgecv`` command line. Heavy packages (torch) load only in the commands that need them."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click


def _errors(fn):
    """Print our own errors as one clear line and exit 2, instead of a traceback."""
    @functools.wraps(fn)
    def wrapper(*a, **k):
        from edgecv.runtime.errors import EdgeCVError

        try:
            return fn(*a, **k)
        except EdgeCVError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as e:
            extra = {"torch": "export", "onnx": "export", "onnxscript": "export", "onnxslim": "export",
                     "litert_torch": "export", "tqdm": "train"}.get((e.name or "").split(".")[0])
            if extra is None:
                raise
            click.echo(f"error: this command needs {e.name!r}, which the bare runtime install does not "
                       f"include: pip install 'edgecv[{extra}]'", err=True)
            sys.exit(2)
        except Exception as e:
            from edgecv.data import DataError
            try:
                from edgecv.models.registry import UnknownModelError
            except ImportError:  # bare install: no torch-side modules needed here
                UnknownModelError = ()
            known = (DataError, FileNotFoundError) + ((UnknownModelError,) if UnknownModelError else ())
            if isinstance(e, known):
                click.echo(f"error: {e}", err=True)
                sys.exit(2)
            raise
    return wrapper


def _csv_ints(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None


@click.group()
@click.version_option(package_name="edgecv")
def main():
    """edgecv — video vision models from PyTorch to the edge."""


@main.command("models")
def models_cmd():
    """List the registered models."""
    from edgecv.models import list_models

    for name in list_models():
        click.echo(name)


@main.command("fetch-data")
@_errors
def fetch_data_cmd():
    """Fetch the real sample media (Debian's opencv-doc examples) into $EDGECV_DATA."""
    from edgecv.data import ensure_samples

    click.echo(ensure_samples())


@main.command("train")
@click.argument("model")
@click.option("--steps", type=int, default=1600, show_default=True, help="Optimiser steps (the shipped count).")
@click.option("--minutes", type=float, default=None, help="Also stop after this wall-clock budget.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write NAME.pt and NAME.json (default: the shipped weights folder).")
@click.option("--seed", type=int, default=0, show_default=True)
@_errors
def train_cmd(model, minutes, steps, out_dir, seed):
    """Train MODEL with its recipe and save the weights (reproduces the shipped ones)."""
    from edgecv.train import recipes

    recipes.run(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)


@main.command("export")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["onnx", "tflite"]), default="onnx", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
@click.option("--ops", type=click.Choice(["standard", "portable"]), default=None,
              help="Custom-op lowering (default: standard for ONNX, portable for TFLite).")
@click.option("--calib", type=click.Path(), default=None, help="Folder of images or a video for int8 calibration.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--keep-failed", is_flag=True, help="Keep an artifact that fails its parity check (marked so).")
@_errors
def export_cmd(model, fmt, precision, ops, calib, out_dir, keep_failed):
    """Export MODEL (a registered name or a checkpoint) to a verified artifact with a manifest."""
    from edgecv.export import check_combination, export

    check_combination(fmt, precision, ops)  # fail fast, before torch loads
    paths = export(model, fmt, precision, ops, calib=calib, out_dir=out_dir, keep_failed=keep_failed,
                   progress=click.echo)
    for path in paths if isinstance(paths, list) else [paths]:
        click.echo(str(path))


@main.command("info")
@click.argument("artifact", type=click.Path())
@_errors
def info_cmd(artifact):
    """Show an artifact's manifest as a table."""
    from edgecv.runtime.report import print_manifest

    print_manifest(artifact)


@main.command("profile")
@click.argument("artifacts", nargs=-1, required=True, type=click.Path())
@click.option("--threads", default="1", show_default=True, help="Comma-separated thread counts, e.g. 1,2.")
@click.option("--backend", "backends", default="auto", show_default=True,
              help="Comma-separated backends: auto, ort, ort-cuda, ort-trt, litert, opencv.")
@click.option("--runs", type=int, default=50, show_default=True)
@click.option("--warmup", type=int, default=5, show_default=True)
@click.option("--device", "device_name", default=None, help="Device name in the profile (default: host name).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Device profile YAML to write/merge.")
@_errors
def profile_cmd(artifacts, threads, backends, runs, warmup, device_name, out):
    """Measure latency (median, p90) of ARTIFACTS per backend and thread count."""
    from rich.progress import Progress

    from edgecv.runtime.profile import profile_artifacts, write_profile
    from edgecv.runtime.report import print_profile

    with Progress(transient=True) as bar:
        task = bar.add_task("profiling", total=None)

        def progress(i, n, what):
            bar.update(task, completed=i, total=n, description=f"profiling {what}")

        prof = profile_artifacts(artifacts, _csv_ints(threads), [b.strip() for b in backends.split(",")],
                                 runs, warmup, device_name, command="edgecv profile " + " ".join(sys.argv[2:]),
                                 progress=progress)
    print_profile(prof)
    if out:
        click.echo(f"wrote {write_profile(prof, out)}")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def ensure_tracker_artifacts(names, art_dir, backends, precisions, echo=click.echo):
    """Export the artifacts the Siamese trackers need when they are missing (needs edgecv[export])."""
    from edgecv.runtime.track.factory import BACKEND_FORMAT, artifact_model, missing_artifacts

    done = set()
    for name in names:
        for backend in backends:
            for precision in precisions:
                model = artifact_model(name)
                key = (model, BACKEND_FORMAT.get(backend), precision)
                if model is None or key in done or not missing_artifacts(name, art_dir, backend, precision):
                    continue
                done.add(key)
                echo(f"[track] {model} {key[1]} {precision} artifacts not in {art_dir}: exporting them now")
                from edgecv.export import export  # needs torch: pip install 'edgecv[export]'

                export(model, key[1], precision, out_dir=art_dir, progress=echo)


@main.command("track")
@click.argument("video", type=click.Path())
@click.option("--init", "init_box", required=True, help="Initial box x,y,w,h in pixels on frame 0.")
@click.option("--tracker", default="siamfc", show_default=True,
              type=click.Choice(["siamfc", "sasiam", "siambm", "spm", "spm-lite", "mosse", "klt", "mil"]))
@click.option("--backend", default="ort", show_default=True, type=click.Choice(["ort", "ort-cuda", "ort-trt",
                                                                                "litert", "tflite"]))
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]))
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True,
              help="Where the exported tracker graphs are (missing ones are exported when torch is installed).")
@click.option("--threads", type=int, default=None, help="Inference threads (default: the backend's).")
@click.option("--out", "out_video", type=click.Path(dir_okay=False), default=None, help="Annotated MP4 to write.")
@click.option("--boxes", "boxes_path", type=click.Path(dir_okay=False), default=None,
              help="Boxes file to write: one x,y,w,h,score line per frame (frame 0: the init box).")
@click.option("--max-frames", type=int, default=None)
@_errors
def track_cmd(video, init_box, tracker, backend, precision, art_dir, threads, out_video, boxes_path, max_frames):
    """Track one object through VIDEO (a video file or a folder of images)."""
    from edgecv.runtime.track import TrackError, make_tracker, track_video

    try:
        box = [float(v) for v in init_box.split(",")]
    except ValueError:
        raise TrackError(f"--init {init_box!r}: expected four numbers x,y,w,h") from None
    if len(box) != 4:
        raise TrackError(f"--init {init_box!r}: expected four numbers x,y,w,h, got {len(box)}")
    if not Path(video).exists():
        raise TrackError(f"video {video} does not exist")
    ensure_tracker_artifacts([tracker], art_dir, [backend], [precision])
    trk = make_tracker(tracker, art_dir, backend, precision, threads)
    results = track_video(trk, video, box, out_video, boxes_path, progress=True, max_frames=max_frames)
    lost = sum(r.lost for r in results)
    click.echo(f"{tracker}: {len(results)} frames, {lost} reported lost"
               + (f"; boxes → {boxes_path}" if boxes_path else "") + (f"; video → {out_video}" if out_video else ""))


@main.group("eval")
def eval_group():
    """Evaluate models and trackers on real data."""


@eval_group.command("track")
@click.option("--dataset", type=click.Path(file_okay=False), default="datasets/otb-dev", show_default=True,
              help="OTB-format folder: one folder per sequence with groundtruth_rect.txt.")
@click.option("--trackers", default="siamfc,sasiam,siambm,spm,spm-lite,mosse,klt,mil", show_default=True)
@click.option("--backends", default="ort", show_default=True, help="Comma-separated: ort, litert, ...")
@click.option("--precisions", default="fp32", show_default=True, help="Comma-separated: fp32, fp16, int8.")
@click.option("--artifacts", "art_dir", type=click.Path(file_okay=False), default="artifacts", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/eval-track", show_default=True)
@_errors
def eval_track_cmd(dataset, trackers, backends, precisions, art_dir, threads, out_dir):
    """All trackers side by side on an OTB-format dataset: success AUC, precision@20, fps; plots + JSON."""
    from edgecv.runtime.track import TRACKERS, TrackError, evaluate, make_tracker
    from edgecv.runtime.track.factory import artifact_model

    names, backends, precisions = _csv(trackers), _csv(backends), _csv(precisions)
    bad = [n for n in names if n not in TRACKERS]
    if bad:
        raise TrackError(f"unknown tracker(s) {', '.join(bad)}; choose from {', '.join(TRACKERS)}")
    ensure_tracker_artifacts(names, art_dir, backends, precisions)
    factories = {}
    for name in names:
        if artifact_model(name) is None:
            factories[name] = functools.partial(make_tracker, name)
            continue
        for backend in backends:
            for precision in precisions:
                label = name if len(backends) == len(precisions) == 1 else f"{name}/{backend}/{precision}"
                factories[label] = functools.partial(make_tracker, name, art_dir, backend, precision, threads)
    evaluate(factories, dataset, out_dir, progress=True)
    click.echo(f"results → {Path(out_dir) / 'results.json'}, plots → {out_dir}/success.png, precision.png")


@main.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/demo", show_default=True)
@click.option("--video", type=click.Path(), default=None, help="Video to run on (default: vtest.avi).")
@_errors
def demo_cmd(out_dir, video):
    """Export mnv2-dcn every way, verify, profile, and run it on a real video (annotated MP4)."""
    from edgecv.demo import run_demo

    run_demo(Path(out_dir), video)


if __name__ == "__main__":
    main()
