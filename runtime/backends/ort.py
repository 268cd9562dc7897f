"""ONNX Runtime backend: CPU, CUDA and TensorRT execution providers."""
from __future__ import annotations

import numpy as np

from ..errors import ArtifactError, BackendUnavailable
from ..session import Session, TensorInfo

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int32)": np.int32,
              "tensor(int64)": np.int64, "tensor(bool)": np.bool_}
PROVIDERS = {"ort": ["CPUExecutionProvider"],
             "ort-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
             "ort-trt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]}


def import_ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendUnavailable("onnxruntime is not installed: `pip install edgecv` installs it "
                                 "(`pip install edgecv[gpu]` for the CUDA/TensorRT build)") from None
    return ort


class OrtSession(Session):
    def __init__(self, path, manifest=None, backend: str = "ort", threads: int | None = None, spin: bool = True):
        super().__init__(path, manifest)
        ort = import_ort()
        providers = PROVIDERS[backend]
        missing = [p for p in providers[:1] if p not in ort.get_available_providers()]
        if missing:
            raise BackendUnavailable(f"backend {backend!r} needs onnxruntime's {missing[0]}, which this "
                                     f"onnxruntime build lacks (has {ort.get_available_providers()}); "
                                     "install `edgecv[gpu]` on a machine with CUDA")
        self.backend = backend
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        if not spin:  # idle workers sleep instead of spinning (needed when sessions share few cores)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for corrupt graphs
            raise ArtifactError(f"onnxruntime cannot load {path}: {str(e).splitlines()[0][:300]}") from None
        self.providers = self.sess.get_providers()
        self.inputs = [TensorInfo(i.name, tuple(i.shape), np.dtype(_ORT_TYPES.get(i.type, np.float32)))
                       for i in self.sess.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(o.shape), np.dtype(_ORT_TYPES.get(o.type, np.float32)))
                        for o in self.sess.get_outputs()]

    def _run(self, arrays):
        return self.sess.run(None, dict(zip(self.input_names, arrays)))
