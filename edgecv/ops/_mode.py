"""How the custom ops lower when a model is traced for export.

``eager``    — the reference PyTorch implementation (training, tests).
``standard`` — emit the standard ONNX op where one exists (``DeformConv``, ``GridSample``).
``portable`` — a decomposition into Gather/MatMul/elementwise ops that every runtime has
               (OpenCV DNN, LiteRT, TensorRT without plugins).
"""
from __future__ import annotations

import contextlib

OPS_MODES = ("eager", "standard", "portable")
_mode = "eager"


def get_ops_mode() -> str:
    return _mode


@contextlib.contextmanager
def ops_mode(mode: str):
    """Temporarily select how custom ops lower (see module docstring)."""
    global _mode
    if mode not in OPS_MODES:
        raise ValueError(f"unknown ops mode {mode!r}; expected one of {OPS_MODES}")
    old, _mode = _mode, mode
    try:
        yield
    finally:
        _mode = old
