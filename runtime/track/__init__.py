"""Single-object tracking on device: Siamese trackers over exported artifacts, and baselines.

The OTB evaluation (metrics, SRE starts, plots) is :mod:`edgecv.eval.track`, not part of the device runtime."""
from .base import Tracker, TrackError, TrackResult, as_bgr, check_init_box, clip_box, iou
from .baselines import KLTParams, KLTTracker, MILParams, MILTracker, MosseParams, MosseTracker
from .factory import TRACKERS, make_tracker, siamese_tracker
from .registry import VARIANTS, Variant, default_params, get_variant, tracker_names
from .sequences import Sequence, list_sequences, load_sequence, read_boxes, read_video, write_boxes
from .siambm import SiamBMParams, SiamBMTracker
from .siamese_base import SiameseNet
from .siamfc import SiamFCParams, SiamFCTracker
from .spm import SPMParams, SPMTracker
from .video import track_video

__all__ = ["Tracker", "TrackResult", "TrackError", "as_bgr", "check_init_box", "clip_box", "iou",
           "MosseTracker", "MosseParams", "KLTTracker", "KLTParams", "MILTracker", "MILParams",
           "Sequence", "load_sequence", "list_sequences", "read_video", "read_boxes", "write_boxes",
           "track_video", "TRACKERS", "make_tracker", "siamese_tracker",
           "VARIANTS", "Variant", "get_variant", "tracker_names", "default_params", "SiameseNet",
           "SiamFCTracker", "SiamFCParams", "SiamBMTracker", "SiamBMParams", "SPMTracker", "SPMParams"]
