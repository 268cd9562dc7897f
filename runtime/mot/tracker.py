"""``MultiTracker``: tracking by detection, one ``update`` per frame (SORT, DeepSORT-style appearance, ByteTrack).

Per frame: every live track is predicted by the Kalman filter (:mod:`.kalman`, one vectorised call); the
detections are split by score; then up to three Hungarian associations (:mod:`.associate`):

1. confirmed and lost tracks × high-score detections, with the variant's cost (IoU, optionally fused with
   the detection score or with the appearance distance, optionally gated by the Kalman filter);
2. tentative tracks × the high-score detections left (with ``tentative_pass``; otherwise the tentative
   tracks take part in pass 1);
3. ByteTrack's second pass (``second_pass``): the tracks of pass 1 that were tracked in the previous frame
   and are still unmatched × the low-score detections, IoU only. A partly occluded target's weak box keeps
   its track alive instead of being thrown away with the background clutter.

Life cycle: an unmatched high-score detection scoring at least ``new_track_thresh`` starts a *tentative*
track; it is *confirmed* (and only then given an id, so ids count reported tracks) after ``min_hits`` matched
frames in a row, or at once during the first ``min_hits`` frames of the stream (SORT's rule, so the first
frames are not lost). An unmatched tentative track is *removed*; an unmatched confirmed track is *lost*, is
still predicted and matched in pass 1, and is *removed* after more than ``max_age`` frames without a match.
Only confirmed tracks matched in the current frame are reported.

With per-detection embeddings, each track keeps an exponential moving average of its matched embeddings
(normalised); only high-score matches update it, as a low-score box is usually an occluded one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .associate import cosine_cost, fuse_cost, iou_cost, linear_assignment
from .errors import MotError
from .kalman import CHI2_95_4DOF, KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah
from .motio import MotTable
from .params import MotParams, get_params

__all__ = ["MultiTracker", "ActiveTrack", "TENTATIVE", "CONFIRMED", "LOST", "REMOVED", "track_detections"]

TENTATIVE, CONFIRMED, LOST, REMOVED = "tentative", "confirmed", "lost", "removed"


class ActiveTrack(NamedTuple):
    """A reported track: its id, its box ``(x1, y1, x2, y2)`` (the Kalman filter's corrected state) and the
    score of the detection it matched in this frame."""

    id: int
    box: tuple
    score: float


@dataclass
class Track:
    """One track's state (internal; exposed through :attr:`MultiTracker.tracks` for inspection)."""

    mean: np.ndarray
    cov: np.ndarray
    score: float
    embedding: np.ndarray | None = None
    state: str = TENTATIVE
    id: int = 0                  # 0 until confirmed
    hits: int = 1                # matched frames in a row
    lost_for: int = 0            # frames since the last match
    matched: bool = True         # matched in the current frame

    @property
    def box(self) -> np.ndarray:
        return xyah_to_xyxy(self.mean[None])[0]


class MultiTracker:
    """Multi-object tracker over per-frame detections. ``params``: a :class:`MotParams` or a variant name."""

    def __init__(self, params: MotParams | str = "bytetrack"):
        self.params = get_params(params) if isinstance(params, str) else params
        self.kf = KalmanBoxFilter()
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video); ids start again at 1."""
        self.tracks: list[Track] = []       # live tracks, plus those removed by the last update
        self.frame_index = 0
        self._next_id = 1

    # -- input checks -------------------------------------------------------------------------------------------
    @staticmethod
    def _check(boxes, scores, embeddings):
        b = np.asarray(boxes, dtype=np.float64)
        if b.size == 0:
            b = b.reshape(0, 4)
        if b.ndim != 2 or b.shape[1] != 4:
            raise MotError(f"boxes must be an (N, 4) array of x1, y1, x2, y2, got shape {b.shape}")
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(s) != len(b):
            raise MotError(f"{len(b)} boxes but {len(s)} scores")
        if not (np.isfinite(b).all() and np.isfinite(s).all()):
            raise MotError("boxes and scores must be finite (found NaN or inf)")
        e = None
        if embeddings is not None:
            e = np.asarray(embeddings, dtype=np.float64)
            if e.ndim != 2 or len(e) != len(b):
                raise MotError(f"embeddings must be an (N, D) array for {len(b)} boxes, got shape {e.shape}")
            if not np.isfinite(e).all():
                raise MotError("embeddings must be finite (found NaN or inf)")
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])       # an empty box cannot be a Kalman measurement
        return b[ok], s[ok], (None if e is None else e[ok])

    # -- the frame step -----------------------------------------------------------------------------------------
    def update(self, boxes_xyxy, scores, embeddings=None) -> list[ActiveTrack]:
        """Advance one frame with this frame's detections (``(N, 4)`` corner boxes, ``(N,)`` scores,
        optionally ``(N, D)`` embeddings) and return the confirmed tracks matched in it. Boxes with no area
        are ignored; call it with empty arrays on a frame without detections."""
        p = self.params
        boxes, scores, emb = self._check(boxes_xyxy, scores, embeddings)
        self.frame_index += 1
        self.tracks = [t for t in self.tracks if t.state != REMOVED]
        self._predict()
        for t in self.tracks:
            t.matched = False

        high = np.flatnonzero(scores >= p.high_thresh)
        low = np.flatnonzero((scores >= p.low_thresh) & (scores < p.high_thresh)) if p.second_pass \
            else np.zeros(0, np.int64)
        use_app = emb is not None and p.appearance_weight > 0
        matched: list[tuple[Track, int, bool]] = []     # (track, detection index, update appearance)

        confirmed = [t for t in self.tracks if t.state in (CONFIRMED, LOST)]
        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        first = confirmed if p.tentative_pass else confirmed + tentative

        left_tracks, left_high = self._match(first, high, boxes, scores, emb if use_app else None, p.match_max_cost,
                                             fuse=p.fuse_score, gate=p.motion_gate, out=matched)
        if p.tentative_pass:
            _, left_high = self._match(tentative, left_high, boxes, scores, emb if use_app else None,
                                       p.tentative_max_cost, fuse=p.fuse_score, gate=False, out=matched)
        if p.second_pass and len(low):
            second = [t for t in left_tracks if t.state == CONFIRMED]   # tracked last frame (not lost)
            self._match(second, low, boxes, scores, None, p.second_max_cost, fuse=False, gate=False,
                        out=matched, appearance=False)

        self._correct(matched, boxes, scores, emb)
        for t in self.tracks:
            if t.matched:
                continue
            if t.state == TENTATIVE:
                t.state = REMOVED
            else:
                t.state = LOST
                t.lost_for += 1
                if t.lost_for > p.max_age:
                    t.state = REMOVED
        born = [int(i) for i in left_high if scores[i] >= p.new_track_thresh]
        if born:
            means, covs = self.kf.initiate(xyxy_to_xyah(boxes[born]))
            for k, i in enumerate(born):
                t = Track(means[k], covs[k], float(scores[i]), None if emb is None else _unit(emb[i]))
                self.tracks.append(t)
                self._maybe_confirm(t)
        return [ActiveTrack(t.id, tuple(float(v) for v in t.box), t.score) for t in self.tracks
                if t.matched and t.state == CONFIRMED]

    def _predict(self) -> None:
        live = self.tracks
        if not live:
            return
        means = np.stack([t.mean for t in live])
        covs = np.stack([t.cov for t in live])
        lost = np.array([t.state == LOST for t in live])
        means[lost, 7] = 0.0        # a lost track keeps its size: no height velocity while nothing confirms it
        means, covs = self.kf.predict(means, covs)
        for t, m, c in zip(live, means, covs):
            t.mean, t.cov = m, c

    def _match(self, tracks, dets, boxes, scores, emb, max_cost, fuse, gate, out, appearance=True):
        """Associate ``tracks`` with detections ``dets`` (indices); append matches to ``out``; return the
        tracks and detection indices left unmatched."""
        dets = np.asarray(dets, dtype=np.int64)
        if not tracks or not len(dets):
            return list(tracks), dets
        tb = np.stack([t.box for t in tracks])
        iou_c = iou_cost(tb, boxes[dets], scores[dets] if fuse else None)
        app_c = None
        if emb is not None:
            te = [t.embedding for t in tracks]
            dim = emb.shape[1]
            if any(e is not None and len(e) != dim for e in te):
                raise MotError(f"embeddings of length {dim} in frame {self.frame_index}, but tracks hold "
                               f"embeddings of another length")
            app_c = cosine_cost(np.stack([np.zeros(dim) if e is None else e for e in te]), emb[dets])
        mask = None
        if gate:
            means = np.stack([t.mean for t in tracks])
            covs = np.stack([t.cov for t in tracks])
            mask = self.kf.gating_distance(means, covs, xyxy_to_xyah(boxes[dets])) <= CHI2_95_4DOF
        p = self.params
        cost = fuse_cost(iou_c, app_c, p.appearance_weight, p.appearance_gate, mask, p.iou_gate)
        m = linear_assignment(cost, max_cost)
        for r, c in m.matches:
            out.append((tracks[r], int(dets[c]), appearance))
            tracks[r].matched = True
        return [tracks[r] for r in m.unmatched_rows], dets[m.unmatched_cols]

    def _correct(self, matched, boxes, scores, emb) -> None:
        """Kalman-correct every matched track in one call; update scores, appearance and life cycle."""
        if not matched:
            return
        tracks = [t for t, _, _ in matched]
        idx = [i for _, i, _ in matched]
        means, covs = self.kf.update(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                     xyxy_to_xyah(boxes[idx]))
        a = self.params.ema
        for (t, i, app), m, c in zip(matched, means, covs):
            t.mean, t.cov, t.score = m, c, float(scores[i])
            if emb is not None and app:
                t.embedding = _unit(emb[i]) if t.embedding is None else _unit(a * t.embedding + (1 - a) * _unit(emb[i]))
            if t.state == LOST:
                t.state = CONFIRMED
                t.hits = 0
            t.hits += 1
            t.lost_for = 0
            self._maybe_confirm(t)

    def _maybe_confirm(self, t: Track) -> None:
        if t.state == TENTATIVE and (t.hits >= self.params.min_hits or self.frame_index <= self.params.min_hits):
            t.state = CONFIRMED
            t.id = self._next_id
            self._next_id += 1


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def track_detections(dets: MotTable, params: MotParams | str, n_frames: int | None = None,
                     use_embeddings: bool = True) -> MotTable:
    """Run a tracker over a detection table, frames 1..``n_frames`` (default: the last detection's frame);
    frames without detections still advance the tracks. Returns the reported tracks as a result table."""
    tracker = MultiTracker(params)
    rows = dets.by_frame()
    n = dets.last_frame if n_frames is None else int(n_frames)
    emb_all = dets.embedding if use_embeddings else None
    out = []
    empty = np.zeros((0, 4))
    for f in range(1, n + 1):
        idx = rows.get(f)
        if idx is None:
            tracks = tracker.update(empty, np.zeros(0), None)
        else:
            tracks = tracker.update(dets.xyxy[idx], dets.conf[idx], None if emb_all is None else emb_all[idx])
        out.extend((f, t.id, *t.box, t.score) for t in tracks)
    return MotTable.from_rows(out)
