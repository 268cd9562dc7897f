"""Content fingerprints and encodings the driver and the workers share (a leaf module: it imports no unit code):
the sha256 of a propagation clip, a colorization clip and the shipped weights; masks and frames in JSON."""
from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path

import numpy as np

from edgecv.runtime.manifest import sha256_file

__all__ = ["propagation_clip_digest", "colorize_clip_digest", "weights_digest", "pack_masks", "unpack_masks",
           "encode_png", "decode_png"]


def propagation_clip_digest(d: Path) -> str:
    from edgecv.eval.propagate import clip_files

    h = hashlib.sha256()
    for f, m in clip_files(d):
        h.update(f"{f.name}\0{sha256_file(f)}\0{sha256_file(m)}\0".encode())
    return h.hexdigest()


def colorize_clip_digest(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted((d / "frames").glob("*.png")) + [d / "reference.png"]:
        h.update(f"{f.name}\0{sha256_file(f)}\0".encode())
    return h.hexdigest()


def weights_digest() -> str:
    """sha256 over the installed package's shipped weights (names and contents): part of every export unit's
    key, so new weights export again and a node with other weights is refused."""
    import edgecv

    folder = Path(edgecv.__file__).parent / "weights"
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.pt")):
        h.update(f"{p.name}\0{sha256_file(p)}\0".encode())
    return h.hexdigest()


def pack_masks(masks) -> dict:
    a = np.stack(masks).astype(np.uint8)
    return {"shape": list(a.shape), "data": base64.b64encode(zlib.compress(a.tobytes(), 6)).decode()}


def unpack_masks(packed: dict) -> list:
    a = np.frombuffer(zlib.decompress(base64.b64decode(packed["data"])), np.uint8).reshape(packed["shape"])
    return list(a)


def decode_png(b64: str):
    import cv2

    return cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)


def encode_png(img) -> str:
    import cv2

    return base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode()
