"""Reference custom ops (pure PyTorch) with standard and portable export forms."""
from ._mode import BLENDS, OPS_MODES, get_blend, get_ops_mode, ops_mode
from .deform_conv import DeformConv2d, deform_conv2d, deform_conv2d_gather
from .warp import FlowWarp, flow_warp, flow_warp_gather, flow_warp_grid_sample
from .xcorr import XCorr, xcorr, xcorr_depthwise

__all__ = ["BLENDS", "OPS_MODES", "get_blend", "get_ops_mode", "ops_mode", "DeformConv2d", "deform_conv2d",
           "deform_conv2d_gather", "FlowWarp", "flow_warp", "flow_warp_gather", "flow_warp_grid_sample", "xcorr",
           "xcorr_depthwise", "XCorr"]
