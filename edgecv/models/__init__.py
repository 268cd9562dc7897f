"""Model families (one per file) and the registry of named variants."""
# importing the family modules registers their variants
from . import boxtrack, boxtrack_fc, colorizer, detect, dff, mobilenetv2, siamese, siamese_lite0, warp_head  # noqa: F401
from .registry import ExportSpec, TensorSpec, UnknownModelError, create_model, list_models, register_model

__all__ = ["ExportSpec", "TensorSpec", "UnknownModelError", "create_model", "list_models", "register_model"]
