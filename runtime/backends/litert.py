"""LiteRT (TFLite) backend; falls back to ``tflite_runtime`` on older Jetson / Raspberry Pi images."""
from __future__ import annotations

import numpy as np

from ..errors import ArtifactError, BackendUnavailable
from ..session import Session, TensorInfo


def import_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter
        return Interpreter, "tflite_runtime"
    except ImportError:
        raise BackendUnavailable("no LiteRT interpreter: `pip install ai-edge-litert` (part of the bare "
                                 "`pip install edgecv`), or `tflite-runtime` on older Jetson/RPi images") from None


def _info(d) -> TensorInfo:
    q = d.get("quantization_parameters") or {}
    scales = q.get("scales", np.array([]))
    scale = zp = None
    if len(scales) == 1 and np.issubdtype(d["dtype"], np.integer):
        scale, zp = float(scales[0]), int(q["zero_points"][0])
    return TensorInfo(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]), scale, zp)


class LiteRTSession(Session):
    backend = "litert"

    def __init__(self, path, manifest=None, threads: int | None = None):
        super().__init__(path, manifest)
        Interpreter, self.package = import_interpreter()
        try:
            self.interp = Interpreter(model_path=str(path), num_threads=threads or None)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ArtifactError(f"LiteRT cannot load {path}: {str(e).splitlines()[0][:300]}") from None
        self._in = self.interp.get_input_details()
        self._out = self.interp.get_output_details()
        self.inputs = [_info(d) for d in self._in]
        self.outputs = [_info(d) for d in self._out]
        self._rename()

    def _rename(self):
        """Use the manifest's tensor names (the converter calls them serving_default_args_N)."""
        m = self.manifest or {}
        for infos, key in ((self.inputs, "inputs"), (self.outputs, "outputs")):
            names = [t.get("name") for t in m.get(key, [])]
            if len(names) == len(infos):
                for t, n in zip(infos, names):
                    t.name = n

    def _run(self, arrays):
        for d, a in zip(self._in, arrays):
            self.interp.set_tensor(d["index"], a)
        self.interp.invoke()
        return [self.interp.get_tensor(d["index"]) for d in self._out]
