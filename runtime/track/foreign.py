"""Where the graphs of a tracker the user brings (``--tracker nanotrack --model DIR``) are, without torch.

``DIR`` is either a folder that ``edgecv export nanotrack --model SRC --out DIR`` wrote (template and search
graphs with manifests: the runtime runs it as it is), or the model's own folder (a NanoTrack backbone/head pair:
its graphs are converted once, by the CLI when ``edgecv[export]`` is installed, into a folder of the artifacts
directory named after the pair's content hash, so two models never share one).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .base import TrackError
from .registry import get_variant
from .siamese_base import find_artifacts

__all__ = ["foreign_artifacts", "raw_pair"]

PARTS = ("backbone", "head")


def raw_pair(folder: Path) -> dict[str, Path] | None:
    """The backbone and head ``.onnx`` files of a NanoTrack folder (``backbone.onnx``/``head.onnx`` or the one file
    whose name contains the part), None when the folder holds neither."""
    onnx = sorted(folder.glob("*.onnx"))
    out = {}
    for part in PARTS:
        exact = folder / f"{part}.onnx"
        found = [exact] if exact.is_file() else [p for p in onnx if part in p.name.lower()]
        if len(found) == 1:
            out[part] = found[0]
    if not out:
        return None
    if len(out) < len(PARTS):
        have = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        lacking = [p for p in PARTS if p not in out]
        raise TrackError(f"NanoTrack folder {folder}: no unique {' / '.join(lacking)} ONNX file (expected "
                         f"{lacking[0]}.onnx; the folder holds {have})")
    return out


def foreign_artifacts(name: str, model_dir, art_dir, fmt: str, precision: str) -> tuple[Path, bool]:
    """(folder holding tracker ``name``'s converted graphs for ``fmt``/``precision``, whether they still have to
    be converted there) for the user's ``model_dir``."""
    v = get_variant(name)
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise TrackError(f"--model {model_dir}: not a folder (expected a NanoTrack folder with backbone.onnx and "
                         f"head.onnx, or one written by `edgecv export {v.model} --model SRC --out DIR`)")

    def missing(folder):
        try:
            find_artifacts(folder, v.model, fmt, precision)
            return False
        except FileNotFoundError:
            return True

    if not missing(model_dir):
        return model_dir, False
    pair = raw_pair(model_dir)
    if pair is None:
        raise TrackError(f"--model {model_dir}: holds neither {v.model} {fmt} {precision} graphs (from `edgecv export "
                         f"{v.model} --model SRC`) nor a NanoTrack backbone/head pair")
    h = hashlib.sha256()
    for part in PARTS:
        h.update(pair[part].read_bytes())
    target = Path(art_dir) / f"{v.model}-{h.hexdigest()[:12]}"
    return target, missing(target)
