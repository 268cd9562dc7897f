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
    path = export(model, fmt, precision, ops, calib=calib, out_dir=out_dir, keep_failed=keep_failed,
                  progress=click.echo)
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
