"""Single-object tracking on device: Siamese trackers over exported artifacts, and baselines."""
from .base import Tracker, TrackError, TrackResult, as_bgr, check_init_box, clip_box, iou
from .baselines import BASELINES, KLTParams, KLTTracker, MILParams, MILTracker, MosseParams, MosseTracker
from .evaluate import evaluate
from .factory import TRACKERS, make_tracker
from .metrics import center_errors, ious, precision_curve, score_sequence, success_curve
from .sequences import Sequence, list_sequences, load_sequence, read_boxes, read_video, write_boxes
from .siamese import SIAMESE, SiamBMParams, SiameseNet, SiamFCParams, SPMParams, siamese_tracker
from .video import track_video

__all__ = ["Tracker", "TrackResult", "TrackError", "as_bgr", "check_init_box", "clip_box", "iou",
           "BASELINES", "MosseTracker", "MosseParams", "KLTTracker", "KLTParams", "MILTracker", "MILParams",
           "Sequence", "load_sequence", "list_sequences", "read_video", "read_boxes", "write_boxes",
           "ious", "center_errors", "success_curve", "precision_curve", "score_sequence",
           "evaluate", "track_video", "TRACKERS", "make_tracker", "SIAMESE", "SiameseNet", "SiamFCParams",
           "SiamBMParams", "SPMParams", "siamese_tracker"]
