"""How the custom ops lower when a model is traced for export.

``eager``    — the reference PyTorch implementation (training, tests).
``standard`` — emit the standard ONNX op where one exists (``DeformConv``, ``GridSample``).
``portable`` — a decomposition into Gather/MatMul/elementwise ops that every runtime has
               (OpenCV DNN, LiteRT, TensorRT without plugins).
"""
from __future__ import annotations

import contextlib

OPS_MODES = ("eager", "standard", "portable")
# How the 4 gathered bilinear neighbours are blended (same result, different graph):
#   "matmul" — one gather, then a batched (1x4)@(4xC) MatMul: fastest in onnxruntime;
#   "madd"   — one gather per corner, then multiply-adds: fastest in LiteRT (its batched matmul of
#              many tiny matrices is slow).
BLENDS = ("matmul", "madd")
_mode = "eager"
_blend = "madd"


def get_ops_mode() -> str:
    return _mode


def get_blend() -> str:
    return _blend


@contextlib.contextmanager
def ops_mode(mode: str, blend: str | None = None):
    """Temporarily select how custom ops lower (see module docstring) and, for the portable form,
    how bilinear neighbours are blended (``matmul`` for ONNX targets, ``madd`` for LiteRT)."""
    global _mode, _blend
    if mode not in OPS_MODES:
        raise ValueError(f"unknown ops mode {mode!r}; expected one of {OPS_MODES}")
    if blend is not None and blend not in BLENDS:
        raise ValueError(f"unknown blend {blend!r}; expected one of {BLENDS}")
    old = (_mode, _blend)
    _mode, _blend = mode, (blend or _blend)
    try:
        yield
    finally:
        _mode, _blend = old
