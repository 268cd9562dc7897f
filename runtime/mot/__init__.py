"""Multi-object tracking on device, downstream of a detector: Kalman motion, IoU/appearance association,
Hungarian matching, ByteTrack's second pass, MOTChallenge files. Torch-free; numpy, plus scipy for the
matching (``pip install 'edgecv[mot]'``).

>>> from edgecv.runtime.mot import MultiTracker
>>> mt = MultiTracker("bytetrack")
>>> for boxes, scores in detections_per_frame:
...     for track_id, box, score in mt.update(boxes, scores):
...         ...

On a video, with the exported person detector (``edgecv export persondet-lite0``):

>>> from edgecv.runtime.mot import PersonDetector, mot_video
>>> det = PersonDetector("artifacts/persondet-lite0-standard-fp32.onnx", backend="ort")
>>> run = mot_video("vtest.avi", det, "bytetrack", out_video="mot.mp4", tracks_path="tracks.txt")

The MOTChallenge evaluation (py-motmetrics) is :mod:`edgecv.eval.mot`, not part of the device runtime.
"""
from .associate import Matching, cosine_cost, fuse_cost, iou_cost, iou_matrix, linear_assignment
from .detector import Detections, PersonDetector, decode, nms
from .errors import MotError
from .kalman import CHI2_95_4DOF, KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah
from .motio import MotTable, format_rows, read_det, read_gt, read_mot, read_seqinfo, write_mot
from .params import VARIANTS, MotParams, get_params, variant_names
from .tracker import ActiveTrack, MultiTracker, Track, track_detections
from .video import FrameTracks, MotRun, draw_tracks, id_color, mot_video

__all__ = ["MultiTracker", "ActiveTrack", "Track", "track_detections", "MotParams", "VARIANTS", "get_params",
           "variant_names", "MotError", "KalmanBoxFilter", "xyxy_to_xyah", "xyah_to_xyxy", "CHI2_95_4DOF",
           "iou_matrix", "iou_cost", "cosine_cost", "fuse_cost", "linear_assignment", "Matching", "MotTable",
           "read_mot", "read_det", "read_gt", "read_seqinfo", "write_mot", "format_rows", "PersonDetector",
           "Detections", "decode", "nms", "mot_video", "MotRun", "FrameTracks", "draw_tracks", "id_color"]
