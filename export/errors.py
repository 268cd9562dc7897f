"""Export errors (caught by the CLI; the message names the model, op, file or tolerance at fault)."""
from edgecv.runtime.errors import EdgeCVError


class ExportError(EdgeCVError):
    pass


class UnsupportedOpError(ExportError):
    pass


class ParityError(ExportError):
    pass


def raise_if_interrupted(e: BaseException) -> None:
    """Re-raise a Ctrl-C that an exporter wrapped in its own error (torch.onnx.export and litert-torch catch
    ``BaseException`` at some stages and raise another error "from" it), so that it ends the command as an
    interrupt and not as "export failed"."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt) or "KeyboardInterrupt" in type(e).__name__:
            raise KeyboardInterrupt from None
        e = e.__cause__ or e.__context__
