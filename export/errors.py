"""Export errors (caught by the CLI; the message names the model, op, file or tolerance at fault)."""
from edgecv.runtime.errors import EdgeCVError


class ExportError(EdgeCVError):
    pass


class UnsupportedOpError(ExportError):
    pass


class ParityError(ExportError):
    pass
