"""Exemplar-based video colorization on device: a reference encoder run once per video, then per frame
correspondence + colorization with the previous frame's ab fed back by the loop."""
from .loop import (
                   ColorArtifacts,
                   ColorizeError,
                   Colorizer,
                   ColorizeWarning,
                   artifact_path,
                   check_artifacts,
                   colorize_video,
                   find_artifacts,
                   parse_size,
                   read_image,
)

__all__ = ["ColorArtifacts", "ColorizeError", "ColorizeWarning", "Colorizer", "artifact_path", "check_artifacts",
           "colorize_video", "find_artifacts", "parse_size", "read_image"]
