"""Backend-neutral inference session: named inputs/outputs, checks, int8 (de)quantisation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError


@dataclass
class TensorInfo:
    name: str
    shape: tuple
    dtype: np.dtype
    scale: float | None = None       # set for quantised tensors (int8/uint8 I/O)
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        return self.scale is not None and np.issubdtype(self.dtype, np.integer)

    def as_dict(self) -> dict:
        d = {"name": self.name, "shape": list(self.shape), "dtype": np.dtype(self.dtype).name}
        d["quantization"] = {"scale": self.scale, "zero_point": self.zero_point} if self.quantized else None
        return d


class Session:
    """Subclasses fill ``inputs``/``outputs`` and implement ``_run(list[np.ndarray]) -> list[np.ndarray]``."""

    backend = "?"

    def __init__(self, path, manifest: dict | None):
        self.path = str(path)
        self.manifest = manifest
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def _prepare(self, feeds: dict) -> list[np.ndarray]:
        if not isinstance(feeds, dict):
            raise InputError(f"{self.path}: run() takes a dict of named inputs {self.input_names}")
        unknown = sorted(set(feeds) - set(self.input_names))
        missing = [n for n in self.input_names if n not in feeds]
        if unknown or missing:
            raise InputError(f"{self.path}: wrong input names: unknown {unknown}, missing {missing}; "
                             f"the model takes {self.input_names}")
        arrays = []
        for t in self.inputs:
            a = np.asarray(feeds[t.name])
            if tuple(a.shape) != tuple(t.shape):
                raise InputError(f"{self.path}: input {t.name!r} has shape {tuple(a.shape)}, "
                                 f"the model expects {tuple(t.shape)}")
            if t.quantized and np.issubdtype(a.dtype, np.floating):
                info = np.iinfo(t.dtype)
                a = np.clip(np.round(a / t.scale) + t.zero_point, info.min, info.max).astype(t.dtype)
            elif a.dtype != t.dtype:
                same_kind = np.issubdtype(a.dtype, np.floating) and np.issubdtype(t.dtype, np.floating)
                if not same_kind:
                    raise InputError(f"{self.path}: input {t.name!r} has dtype {a.dtype}, "
                                     f"the model expects {np.dtype(t.dtype).name}")
                a = a.astype(t.dtype)
            arrays.append(np.ascontiguousarray(a))
        return arrays

    def run(self, feeds: dict, dequantize: bool = True) -> dict:
        """Run once; ``feeds`` maps input names to arrays. Quantised outputs come back as float32."""
        outs = self._run(self._prepare(feeds))
        result = {}
        for t, o in zip(self.outputs, outs):
            if dequantize and t.quantized:
                o = (o.astype(np.float32) - t.zero_point) * t.scale
            result[t.name] = o
        return result

    def _run(self, arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        return {"backend": self.backend, "path": self.path, "inputs": [t.as_dict() for t in self.inputs],
                "outputs": [t.as_dict() for t in self.outputs]}
