"""What every ``edgecv`` command module shares: the ``main`` group, the one-line error handler, option bounds
and parsers. The command modules (``cli``, ``cli_devices``, ``cli_plan``, ``cli_predict``) import this module
and register on ``main``; nothing here imports them, so the CLI has no import cycle."""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

MAX_THREADS = 4 * (os.cpu_count() or 1)   # more threads than this only thrash: 4× the cores of this machine
THREADS = click.IntRange(1, MAX_THREADS)
THREADS_HELP = f"1 to 4× this machine's CPU cores ({MAX_THREADS} here)"
FRAMES = click.IntRange(min=1)
MIN_BOX_SIDE = 4.0   # the smallest init box side any tracker follows (the Siamese ones need their min_size, 8)


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
        except KeyboardInterrupt:
            # outputs are written to temp names and renamed at the end, so nothing half-written is left
            click.echo("interrupted", err=True)
            sys.exit(130)
        except ModuleNotFoundError as e:
            extra = {"torch": "export", "onnx": "predict", "scipy": "predict", "onnxscript": "export",
                     "onnxslim": "export", "litert_torch": "export", "tqdm": "train",
                     "matplotlib": "train"}.get((e.name or "").split(".")[0])
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
            if isinstance(e, OSError) and e.filename is not None:  # a file the checks could not foresee
                click.echo(f"error: {e.filename}: {e.strerror or e}", err=True)
                sys.exit(2)
            raise
    return wrapper


def _check_outputs(outputs: dict, inputs=(), folders=(), into=()) -> None:
    """The output policy (edgecv.runtime.outputs), before any work: no output is an input, every output
    location is writable. ``folders``: names of folder outputs replaced whole; ``into``: folders written into."""
    from edgecv.runtime.outputs import check_output_dir, check_outputs

    inputs = [i for i in inputs if i is not None]
    check_outputs({k: v for k, v in outputs.items() if k not in into}, inputs, folders)
    for k in into:
        check_output_dir(outputs.get(k), k, inputs)


def _probe_video(video, error) -> None:
    """A missing, empty, corrupt or truncated-to-nothing video (or an image folder without images) fails
    here, before any export or model load, with ``error`` (the command's own error class)."""
    p = Path(video)
    if not p.exists():
        raise error(f"video {video} does not exist")
    if p.is_dir():
        from edgecv.runtime.track.sequences import IMAGE_EXTS

        if not any(f.suffix.lower() in IMAGE_EXTS for f in p.iterdir()):
            raise error(f"{video}: a folder without images ({', '.join(sorted(IMAGE_EXTS))})")
        return
    import cv2

    cap = cv2.VideoCapture(str(p))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    finally:
        cap.release()
    if not ok or frame is None or frame.size == 0:
        raise error(f"video {video}: cannot open video or decode its first frame (empty, corrupt, truncated "
                    "or not a video)")


def _local_threads(threads, where: str = "--threads"):
    """A thread count from a plan, checked against this machine's bound (the option itself is an IntRange)."""
    from edgecv.runtime.errors import EdgeCVError

    if threads is not None and not 1 <= int(threads) <= MAX_THREADS:
        raise EdgeCVError(f"{where} {threads}: must be between 1 and {MAX_THREADS} (4× this machine's "
                          f"{os.cpu_count()} cores)")
    return threads


def _csv_ints(value: str, param_hint: str | None = "--threads") -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}", param_hint=param_hint) from None


@click.group()
@click.version_option(package_name="edgecv")
def main():
    """edgecv — video vision models from PyTorch to the edge."""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def ray_options(fn):
    """``--ray [ADDRESS]`` and ``--workers N``: run a command's work units on Ray (:mod:`edgecv.scale`)."""
    fn = click.option("--workers", type=click.IntRange(1, 256), default=None,
                      help="With --ray and no address: worker processes of the local Ray cluster (default: this "
                           "machine's cores).")(fn)
    return click.option("--ray", "ray", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                        help="Run the work units on Ray: a local cluster on this machine, or join ADDRESS "
                             "(default $EDGECV_RAY_ADDRESS). Units are kept under --out: a rerun skips finished "
                             "ones. Needs `pip install 'edgecv[scale]'`.")(fn)


def ensure_tracker_artifacts(names, art_dir, backends, precisions, echo=click.echo):
    """Export the artifacts the Siamese trackers need when they are missing (needs edgecv[export])."""
    from edgecv.runtime.bundle import backend_format
    from edgecv.runtime.track import TrackError, get_variant
    from edgecv.runtime.track.factory import artifact_model, missing_artifacts

    done = set()
    for name in names:
        for backend in backends:
            for precision in precisions:
                if get_variant(name).foreign:  # converted from the user's --model (resolve_foreign)
                    continue
                model = artifact_model(name)
                key = (model, backend_format(backend, TrackError), precision)
                if model is None or key in done or not missing_artifacts(name, art_dir, backend, precision):
                    continue
                done.add(key)
                echo(f"[track] {model} {key[1]} {precision} artifacts not in {art_dir}: exporting them now")
                from edgecv.export import export  # needs torch: pip install 'edgecv[export]'

                export(model, key[1], precision, out_dir=art_dir, progress=echo)


def _model_option(names, model_dir):
    """``--model`` goes with a tracker the user brings (nanotrack), and only with one."""
    from edgecv.runtime.track import TrackError, get_variant

    foreign = [n for n in names if get_variant(n).foreign]
    if model_dir is not None and not foreign:
        raise click.UsageError(f"--model {model_dir}: only nanotrack runs a model you bring; the other trackers run "
                               "edgecv's exported graphs (--artifacts)")
    if foreign and model_dir is None:
        raise TrackError(f"{foreign[0]} runs a model you bring: pass --model DIR (a NanoTrack folder with "
                         f"backbone.onnx and head.onnx, or a folder written by `edgecv export "
                         f"{get_variant(foreign[0]).model} --model SRC --out DIR`)")


def resolve_foreign(name, model_dir, art_dir, backends, precisions, echo=click.echo):
    """The artifacts folder tracker ``name`` runs from: ``art_dir`` for edgecv's trackers; for a tracker the user
    brings (``nanotrack``), the folder of its converted graphs, converting ``--model DIR`` there first when it
    is the model's own folder (needs edgecv[export])."""
    from edgecv.runtime.bundle import backend_format
    from edgecv.runtime.track import TrackError, get_variant
    from edgecv.runtime.track.foreign import foreign_artifacts

    v = get_variant(name)
    if not v.foreign:
        return art_dir
    _model_option([name], model_dir)
    folder = None
    for backend in backends:
        for precision in precisions:
            fmt = backend_format(backend, TrackError)
            folder, convert = foreign_artifacts(name, model_dir, art_dir, fmt, precision)
            if convert:
                echo(f"[track] converting {model_dir} to {name} {fmt} {precision} graphs in {folder}")
                from edgecv.export import export  # needs torch: pip install 'edgecv[export]'
                from edgecv.export.nanotrack import NanoTrackImport

                export(NanoTrackImport(model_dir, name=v.model), fmt, precision, out_dir=folder, progress=echo)
    return folder


def ensure_dff_artifacts(model, art_dir, backend, precision, ops=None, part_precision=None, echo=click.echo):
    """Export the feature/flow/head graphs ``edgecv propagate`` needs when they are missing (needs torch);
    without torch, say which ``edgecv export`` command makes them."""
    import importlib.util

    from edgecv.runtime.bundle import export_hint
    from edgecv.runtime.propagate import artifacts as arts

    arts.runtime_backend(backend)  # unknown backend: a clear error before anything else
    fmt = arts.BACKEND_FORMAT[backend]
    ops = (ops or "standard") if fmt == "onnx" else None
    precs = arts.part_precisions(precision, part_precision)
    missing = [p for p in arts.PARTS if not arts.artifact_path(art_dir, model, p, fmt, precs[p], ops).is_file()]
    todo = sorted({precs[p] for p in missing})

    def how(prec):
        return export_hint(model, fmt, prec, ops, art_dir)

    if todo and importlib.util.find_spec("torch") is None:
        from edgecv.runtime.propagate import PropagateError

        names = ", ".join(arts.artifact_path(art_dir, model, p, fmt, precs[p], ops).name for p in missing)
        raise PropagateError(f"{names} not in {art_dir}, and exporting them needs torch, which is not installed: "
                             f"run {' and '.join(f'`{how(p)}`' for p in todo)} where edgecv[export] is installed, "
                             f"and copy the files into {art_dir}")
    for prec in todo:
        echo(f"[propagate] {model} {fmt} {prec} artifacts not in {art_dir}: exporting them now ({how(prec)})")
        from edgecv.export import ExportError, check_combination, export

        check_combination(fmt, prec, ops)
        try:
            export(model, fmt, prec, ops, out_dir=art_dir, progress=echo)
        except ExportError as e:
            needed = [p for p in missing if precs[p] == prec]
            if all(arts.artifact_path(art_dir, model, p, fmt, prec, ops).is_file() for p in needed):
                echo(f"[propagate] (a part this run does not use failed: {e})")
                continue
            if prec == "fp32":
                raise
            raise ExportError(f"{e}. A part that does not hold in {prec} can run at another precision, e.g. "
                              f"--part-precision flow=fp32") from None


def ensure_colorize_artifacts(model, art_dir, backend, precision, size, ops=None, echo=click.echo):
    """Export the reference and frame graphs ``edgecv colorize`` needs when they are missing (needs torch);
    without torch, say which ``edgecv export`` command makes them."""
    import importlib.util

    from edgecv.runtime.bundle import export_hint
    from edgecv.runtime.colorize import loop as cl

    cl.runtime_backend(backend)
    fmt = cl.BACKEND_FORMAT[backend]
    w, h = cl.parse_size(size)
    ops = (ops or "standard") if fmt == "onnx" else None
    parts = ["ref", f"frame-{w}x{h}"]
    missing = [p for p in parts if not cl.artifact_path(art_dir, model, p, fmt, precision, ops).is_file()]
    if not missing:
        return
    how = export_hint(model, fmt, precision, ops, art_dir)
    if importlib.util.find_spec("torch") is None:
        names = ", ".join(cl.artifact_path(art_dir, model, p, fmt, precision, ops).name for p in missing)
        raise cl.ColorizeError(f"{names} not in {art_dir}, and exporting them needs torch, which is not installed: "
                               f"run `{how}` where edgecv[export] is installed, and copy the files into {art_dir}")
    from edgecv.export import ExportError, check_combination, export
    from edgecv.models.colorizer import SIZES

    if (w, h) not in SIZES:
        raise cl.ColorizeError(f"size {w}x{h}: the colorizer is exported at {', '.join(f'{a}x{b}' for a, b in SIZES)}")
    echo(f"[colorize] {model} {fmt} {precision} artifacts not in {art_dir}: exporting them now ({how})")
    check_combination(fmt, precision, ops)
    try:
        export(model, fmt, precision, ops, out_dir=art_dir, progress=echo)
    except ExportError as e:
        if all(cl.artifact_path(art_dir, model, p, fmt, precision, ops).is_file() for p in missing):
            echo(f"[colorize] (a graph this run does not use failed: {e})")
        else:
            raise
