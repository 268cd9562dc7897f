"""edgecv.export — PyTorch models to verified ONNX / TFLite artifacts with manifests."""
from .api import FORMATS, OPS, PRECISIONS, TOLERANCE, check_combination, export
from .errors import ExportError, ParityError, UnsupportedOpError

__all__ = ["export", "check_combination", "FORMATS", "PRECISIONS", "OPS", "TOLERANCE", "ExportError",
           "ParityError", "UnsupportedOpError"]
