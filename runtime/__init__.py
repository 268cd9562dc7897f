"""edgecv.runtime — load and run exported artifacts without torch.

>>> from edgecv import runtime
>>> sess = runtime.load("artifacts/mnv2-dcn-standard-fp32.onnx", threads=2)
>>> out = sess.run({"image": x})["logits"]
"""
from __future__ import annotations

from pathlib import Path

from .errors import ArtifactError, BackendUnavailable, EdgeCVError, InputError
from .manifest import read_manifest, verify_artifact
from .session import Session, TensorInfo

BACKENDS = ("auto", "ort", "ort-cuda", "ort-trt", "litert", "opencv")

__all__ = ["load", "available_backends", "read_manifest", "Session", "TensorInfo", "BACKENDS",
           "EdgeCVError", "ArtifactError", "InputError", "BackendUnavailable"]


def available_backends() -> list[str]:
    """Backends whose packages import on this machine (GPU providers only when present)."""
    out = []
    try:
        import onnxruntime as ort
        out.append("ort")
        prov = ort.get_available_providers()
        if "CUDAExecutionProvider" in prov:
            out.append("ort-cuda")
        if "TensorrtExecutionProvider" in prov:
            out.append("ort-trt")
    except ImportError:
        pass
    try:
        from .backends.litert import import_interpreter
        import_interpreter()
        out.append("litert")
    except BackendUnavailable:
        pass
    try:
        import cv2  # noqa: F401
        out.append("opencv")
    except ImportError:
        pass
    return out


def load(path, backend: str = "auto", threads: int | None = None, verify: bool = True,
         spin: bool = True) -> Session:
    """Open an artifact for inference.

    Args:
        path: ``.onnx`` or ``.tflite`` file. Its manifest (``PATH.json``), when present, is used to
            check size and sha256 before loading (``verify``) and to name LiteRT tensors.
        backend: ``auto`` (by file type), ``ort``, ``ort-cuda``, ``ort-trt``, ``litert`` or ``opencv``.
        threads: intra-op threads (None: the backend's default).
        spin: let onnxruntime's idle worker threads spin (its default, lowest latency); turn off when
            several sessions take turns on few cores, as in side-by-side benchmarks.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise EdgeCVError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if not path.is_file():
        raise ArtifactError(f"artifact {path} does not exist")
    if path.stat().st_size == 0:
        raise ArtifactError(f"artifact {path} is empty")
    manifest = read_manifest(path)
    if manifest is not None and verify:
        verify_artifact(path, manifest)
    suffix = path.suffix.lower()
    if backend == "auto":
        from .bundle import SUFFIX_BACKEND

        backend = SUFFIX_BACKEND.get(suffix)
        if backend is None:
            raise ArtifactError(f"{path}: unknown artifact type {suffix!r} (expected .onnx or .tflite)")
    if backend.startswith("ort") or backend == "opencv":
        if suffix != ".onnx":
            raise ArtifactError(f"{path}: backend {backend!r} runs .onnx artifacts, not {suffix}")
    elif suffix != ".tflite":
        raise ArtifactError(f"{path}: backend 'litert' runs .tflite artifacts, not {suffix}")
    if backend.startswith("ort"):
        from .backends.ort import OrtSession
        return OrtSession(path, manifest, backend, threads, spin)
    if backend == "opencv":
        from .backends.opencv import OpenCVSession
        return OpenCVSession(path, manifest, threads)
    from .backends.litert import LiteRTSession
    return LiteRTSession(path, manifest, threads)
