"""Model families (one per file) and the registry of named variants."""
from . import boxtrack, colorizer, detect, dff, mobilenetv2, siamese, warp_head  # noqa: F401  (registers variants)
from .registry import ExportSpec, TensorSpec, UnknownModelError, create_model, list_models, register_model

__all__ = ["ExportSpec", "TensorSpec", "UnknownModelError", "create_model", "list_models", "register_model"]
