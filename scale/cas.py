"""Files by content hash: what a unit reads travels as bytes named by their sha256, never as a path.

The driver puts each distinct file into Ray's object store once (:func:`put_files`); a worker that lacks a
file in its node's store (``~/.cache/edgecv/cas/<sha256>``) fetches it, checks the hash and keeps it, then
sees the unit's files under their own names in a folder of links (:func:`materialise`). A node that already
holds a file (a second unit on the same artifact) fetches nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgecv.runtime.manifest import manifest_path, sha256_file
from edgecv.runtime.outputs import atomic_path
from edgecv.runtime.samples import data_root

from .errors import ScaleError

__all__ = ["FileRef", "file_ref", "with_manifests", "cas_root", "materialise", "has_blob", "store_blob"]


@dataclass(frozen=True)
class FileRef:
    name: str      # the file's own name (what the loader looks for: model-part-fmt-precision.onnx, its .json)
    sha256: str


_HASHES: dict[tuple[str, int, int], str] = {}


def file_ref(path) -> FileRef:
    """The reference of a file on this machine (its hash is cached by path, size and mtime)."""
    p = Path(path)
    if not p.is_file():
        raise ScaleError(f"{p}: no such file to ship to the workers")
    st = p.stat()
    k = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _HASHES:
        _HASHES[k] = sha256_file(p)
    return FileRef(p.name, _HASHES[k])


def with_manifests(paths) -> list[Path]:
    """``paths`` and, after them, each one's manifest where it has one (not twice): what a unit ships so that
    the worker's loader checks the artifact as the driver's would."""
    paths = [Path(p) for p in paths]
    have = set(paths)
    return paths + [m for m in (manifest_path(p) for p in paths) if m.is_file() and m not in have]


def cas_root() -> Path:
    return Path(os.environ.get("EDGECV_CAS", data_root() / "cas"))


def has_blob(sha: str) -> bool:
    return (cas_root() / sha).is_file()


def store_blob(sha: str, data: bytes) -> Path:
    """Keep ``data`` as ``<cas>/<sha>`` after checking that it hashes to ``sha``."""
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise ScaleError(f"content hash mismatch: expected {sha}, the bytes received hash to {got}")
    dest = cas_root() / sha
    if not dest.is_file():
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)
    return dest


def materialise(refs, fetch) -> Path:
    """A folder holding the unit's files under their names (links into the store); ``fetch(sha) -> bytes``
    is called only for blobs this node lacks. The folder is named by the set's hash, so units on the same
    files share it."""
    refs = list(refs)
    digest = hashlib.sha256("".join(f"{r.name}\0{r.sha256}\0" for r in sorted(refs, key=lambda r: r.name))
                            .encode()).hexdigest()[:24]
    folder = cas_root() / "sets" / digest
    for r in refs:
        blob = cas_root() / r.sha256
        if not blob.is_file():
            store_blob(r.sha256, fetch(r.sha256))
        dest = folder / r.name
        if dest.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{r.name}.{os.getpid()}.tmp"
        try:
            os.link(blob, tmp)
        except OSError:  # another filesystem: a copy
            shutil.copyfile(blob, tmp)
        os.replace(tmp, dest)
    return folder
