"""One output policy for every command: check outputs before the work, write them atomically.

Every command that writes files (a video, a boxes file, a stats JSON, a masks folder, a plan, a report, an
artifact) goes through the same three rules:

1. **Nothing the command reads is an output.** An output path that names the same file (same device and
   inode) or the same folder as an input is refused, so ``--out in.avi`` can never overwrite ``in.avi``.
2. **Every output location is writable before any work starts.** A probe file is created and removed in
   the folder the output will be renamed into (``os.access`` is not enough: it says yes to root on a
   read-only file system). An existing folder where a file is expected, a parent that is a file, or an
   existing read-only file are refused.
3. **Outputs are written to a temp file beside the target and renamed into place** (:func:`atomic_path`),
   so an interrupted or failed run never leaves a half-written file under the final name.

A refusal is an :class:`OutputError` (an ``EdgeCVError``): the CLI prints its one line and exits 2.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .errors import EdgeCVError

__all__ = ["OutputError", "check_outputs", "check_output", "check_output_dir", "atomic_path", "atomic_dir",
           "write_text_atomic", "write_json_atomic", "tmp_beside"]


class OutputError(EdgeCVError):
    """An output path that cannot or must not be written (an input, not writable, wrong kind)."""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_folder(folder: Path, what: str, path: Path) -> None:
    """Create and remove a file in ``folder``, the folder ``path`` goes into (or say why it cannot)."""
    anc = _existing_ancestor(folder)
    if not anc.is_dir():
        raise OutputError(f"{what} {path}: cannot be written, {anc} is a file, not a folder")
    target = folder if folder.exists() else anc
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgecv-probe-", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {path}: folder {target} is not writable ({e.strerror or e})") from None


def check_output(path, what: str = "output", inputs: Iterable = (), folder: bool = False) -> Path | None:
    """Check one output path (``None`` passes). ``folder``: the output is a folder (e.g. ``--masks``)."""
    if path is None:
        return None
    path = Path(path)
    if str(path) == "":
        raise OutputError(f"{what}: empty path")
    ident = _identity(path)
    if ident is not None:
        for src in inputs:
            if src is None or not isinstance(src, (str, os.PathLike)):
                continue
            if _identity(Path(src)) == ident:
                raise OutputError(f"{what} {path} is the input {src}: refusing to overwrite what the command "
                                  "reads; choose another output path")
    if folder:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{what} {path} exists and is not a folder")
        for src in inputs:
            if src is None or not isinstance(src, (str, os.PathLike)):
                continue
            s = Path(src)
            if path.exists() and s.exists() and (s.is_dir() and _identity(s) == ident):
                raise OutputError(f"{what} {path} is the input folder {src}: choose another output folder")
        # the folder is replaced by a sibling temp folder: its parent must take new entries
        _probe_folder(path.absolute().parent, what, path)
        return path
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file path")
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise OutputError(f"{what} {path} exists and is not a regular file")
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise OutputError(f"{what} {path} is read-only; remove it or choose another output path")
    _probe_folder(path.absolute().parent, what, path)
    return path


def check_outputs(outputs: Mapping[str, object], inputs: Iterable = (), folders: Iterable[str] = ()) -> None:
    """Check every output before any work: ``outputs`` maps a name for messages (``"--boxes"``) to a path
    or ``None``; ``inputs`` are the paths the command reads; names in ``folders`` are folder outputs.
    Two outputs naming the same path are refused too."""
    inputs = [i for i in inputs if i is not None]
    folders = set(folders)
    seen: dict[str, str] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        check_output(path, what, inputs, folder=what in folders)
        key = os.path.normcase(os.path.abspath(str(path)))
        if key in seen:
            raise OutputError(f"{what} and {seen[key]} name the same path {path}")
        seen[key] = what


def tmp_beside(target, suffix: str | None = None) -> Path:
    """A hidden temp name in the target's folder (same file system, so the final rename is atomic).
    ``suffix`` keeps a file type writers infer from the name (e.g. ``.mp4`` for OpenCV)."""
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    return target.with_name(f".{target.name}.{os.getpid()}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(target, suffix: str | None = None) -> Iterator[Path]:
    """``with atomic_path(out) as tmp: write(tmp)`` — renamed to ``out`` on success, removed on failure."""
    target = Path(target)
    target.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(target, suffix)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(target) -> Iterator[Path]:
    """A folder output built in a sibling temp folder and swapped in whole on success."""
    target = Path(target)
    target.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(target, "")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if target.exists():
            old = tmp_beside(target, ".old")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path, obj, indent: int = 1) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def check_output_dir(path, what: str = "--out", inputs: Iterable = ()) -> Path | None:
    """Check a folder that files are written *into* (created when missing, e.g. ``export --out``): not a
    file, not an input, and new files can be made in it (or in its nearest existing ancestor)."""
    if path is None:
        return None
    path = Path(path)
    if str(path) == "":
        raise OutputError(f"{what}: empty path")
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} exists and is not a folder")
    ident = _identity(path)
    for src in inputs:
        if src is not None and isinstance(src, (str, os.PathLike)) and ident is not None \
                and _identity(Path(src)) == ident:
            raise OutputError(f"{what} {path} is the input {src}: choose another output folder")
    _probe_folder(path.absolute(), what, path)
    return path
