"""Key-frame feature propagation (Deep Feature Flow) on device: the heavy feature net on key frames, a light
flow net + feature warp + task head on the frames between, over the three exported ``dff-*`` graphs."""
from ..engine import open_source
from .artifacts import DFFArtifacts, artifact_path, check_artifacts, find_artifacts
from .base import PropagateError, PropagateWarning
from .loop import FrameResult, Propagator, aggregate_features, draw_overlay, logits_to_mask, propagate_video
from .policy import Adaptive, AdaptiveParams, FixedInterval, FixedIntervalParams, Signals, flow_signals, make_policy

__all__ = ["DFFArtifacts", "artifact_path", "check_artifacts", "find_artifacts", "PropagateError",
           "PropagateWarning", "FrameResult", "Propagator", "aggregate_features", "draw_overlay", "logits_to_mask",
           "propagate_video",
           "Adaptive", "AdaptiveParams", "FixedInterval", "FixedIntervalParams", "Signals", "flow_signals",
           "make_policy", "open_source"]
