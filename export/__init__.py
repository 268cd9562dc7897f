"""edgecv.export — PyTorch models to verified ONNX / TFLite artifacts with manifests."""
from .api import FORMATS, OPS, PRECISIONS, TOLERANCE, check_combination, export
from .errors import ExportError, ParityError, UnsupportedOpError

__all__ = ["export", "export_opencv_nano", "check_combination", "FORMATS", "PRECISIONS", "OPS", "TOLERANCE",
           "ExportError", "ParityError", "UnsupportedOpError"]


def export_opencv_nano(model="boxtrack", out_dir="artifacts", n_check: int = 9, progress=print):
    """A tracker as a ``cv2.TrackerNano`` backbone/head pair (:mod:`edgecv.export.opencv_nano`; torch loads
    only when called)."""
    from .opencv_nano import export_opencv_nano as run

    return run(model, out_dir, n_check, progress)
