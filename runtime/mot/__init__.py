"""Multi-object tracking on device, downstream of a detector: Kalman motion, IoU/appearance association,
Hungarian matching, ByteTrack's second pass, MOTChallenge files. Torch-free; numpy, plus scipy for the
matching (``pip install 'edgecv[mot]'``).

>>> from edgecv.runtime.mot import MultiTracker
>>> mt = MultiTracker("bytetrack")
>>> for boxes, scores in detections_per_frame:
...     for track_id, box, score in mt.update(boxes, scores):
...         ...

The MOTChallenge evaluation (py-motmetrics) is :mod:`edgecv.eval.mot`, not part of the device runtime.
"""
from .associate import Matching, cosine_cost, fuse_cost, iou_cost, iou_matrix, linear_assignment
from .errors import MotError
from .kalman import CHI2_95_4DOF, KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah
from .motio import MotTable, format_rows, read_det, read_gt, read_mot, read_seqinfo, write_mot
from .params import VARIANTS, MotParams, get_params, variant_names
from .tracker import ActiveTrack, MultiTracker, Track, track_detections

__all__ = ["MultiTracker", "ActiveTrack", "Track", "track_detections", "MotParams", "VARIANTS", "get_params",
           "variant_names", "MotError", "KalmanBoxFilter", "xyxy_to_xyah", "xyah_to_xyxy", "CHI2_95_4DOF",
           "iou_matrix", "iou_cost", "cosine_cost", "fuse_cost", "linear_assignment", "Matching", "MotTable",
           "read_mot", "read_det", "read_gt", "read_seqinfo", "write_mot", "format_rows"]
