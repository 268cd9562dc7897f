"""OpenCV DNN backend, for portable ONNX artifacts (no DeformConv/GridSample)."""
from __future__ import annotations

import numpy as np

from ..errors import ArtifactError, BackendUnavailable
from ..session import Session, TensorInfo


class OpenCVSession(Session):
    backend = "opencv"

    def __init__(self, path, manifest=None, threads: int | None = None):
        super().__init__(path, manifest)
        try:
            import cv2
        except ImportError:
            raise BackendUnavailable("OpenCV is not installed: `pip install opencv-python-headless`") from None
        if threads:
            cv2.setNumThreads(int(threads))
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as e:
            raise ArtifactError(f"OpenCV DNN cannot load {path}: {str(e).strip().splitlines()[-1][:300]}") from None
        if not manifest:
            raise ArtifactError(f"the OpenCV backend needs the manifest of {path} for input shapes")
        self.inputs = [TensorInfo(t["name"], tuple(t["shape"]), np.dtype(t["dtype"])) for t in manifest["inputs"]]
        self.outputs = [TensorInfo(t["name"], tuple(t["shape"]), np.dtype(t["dtype"])) for t in manifest["outputs"]]

    def _run(self, arrays):
        for t, a in zip(self.inputs, arrays):
            self.net.setInput(a, t.name)
        outs = self.net.forward([t.name for t in self.outputs])
        return [np.asarray(o).reshape(t.shape) for o, t in zip(outs, self.outputs)]
