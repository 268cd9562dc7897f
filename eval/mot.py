"""MOTChallenge evaluation of the multi-object tracking variants (``edgecv eval mot``).

A dataset folder holds one folder per sequence in MOTChallenge layout: ``SEQ/det/det.txt`` (the detections
the trackers start from), ``SEQ/gt/gt.txt`` (groundtruth) and optionally ``SEQ/seqinfo.ini`` (its
``seqLength`` sets the number of frames; otherwise the last frame of either file). Each variant of
:mod:`edgecv.runtime.mot.params` runs on every sequence's detections; py-motmetrics scores the result
(CLEAR MOT and identity metrics), matching a track box to a groundtruth box when their IoU is at least 0.5,
the MOTChallenge rule.

Reported per sequence and overall (the overall row pools the sequences' counts, as the MOTChallenge does):
MOTA, IDF1, ID switches, false positives (FP), misses (FN), MOTP as the mean IoU of matched pairs (the
MOTChallenge's convention, higher is better; py-motmetrics' own ``motp`` is 1 − this), recall and precision.
Also the detection AP at IoU 0.5 of ``det.txt`` itself (:func:`detection_ap`; ``detection_ap`` in the results):
what the trackers start from.

Detections from a detector instead of ``det.txt`` (:func:`write_detections`, ``edgecv eval mot --detector``):
each sequence's frames are read from the video its ``source.json`` names (``{"video": "vtest.avi", "start":
560}``; a relative name is looked up next to the json, then in the sample folder
``edgecv.runtime.samples.samples_dir()`` that ``edgecv fetch-data`` fills, then the data folder), frame 1 =
video frame ``start``, as many frames as ``seqinfo.ini``'s ``seqLength`` (else ``end - start + 1``, else
the last groundtruth frame). The detector's boxes, scores and embeddings are written as
``OUT/SEQ/det/det.txt`` (never into the dataset), and :func:`evaluate` reads them from there (``det_root``).

py-motmetrics (and the pandas it brings) is imported when an evaluation runs: ``pip install 'edgecv[mot-eval]'``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecv.runtime.errors import BackendUnavailable
from edgecv.runtime.mot import (
    MotError,
    MotTable,
    get_params,
    iou_matrix,
    linear_assignment,
    read_det,
    read_gt,
    read_seqinfo,
    track_detections,
    write_mot,
)
from edgecv.runtime.outputs import write_json_atomic, write_text_atomic
from edgecv.runtime.track.sequences import resolve_video as _resolve_video

__all__ = ["MotSequence", "find_sequences", "load_sequence", "accumulate", "summarize", "detection_ap",
           "average_precision", "evaluate", "markdown_table", "IOU_THRESHOLD", "sequence_source", "resolve_video",
           "sequence_frames", "sequence_folders", "write_detections", "detections_table"]

IOU_THRESHOLD = 0.5       # MOTChallenge: a box matches a groundtruth box at IoU >= 0.5

# py-motmetrics metric → our name
_METRICS = {"mota": "mota", "idf1": "idf1", "num_switches": "id_switches", "num_false_positives": "fp",
            "num_misses": "fn", "motp": "motp", "recall": "recall", "precision": "precision",
            "num_objects": "gt_boxes", "num_predictions": "track_boxes", "mostly_tracked": "mostly_tracked",
            "mostly_lost": "mostly_lost"}
_COUNTS = {"id_switches", "fp", "fn", "gt_boxes", "track_boxes", "mostly_tracked", "mostly_lost"}


def _motmetrics():
    try:
        import motmetrics
    except ImportError:
        raise BackendUnavailable("MOT evaluation needs py-motmetrics: pip install 'edgecv[mot-eval]' "
                                 "(or pip install motmetrics)") from None
    return motmetrics


@dataclass(frozen=True)
class MotSequence:
    """One sequence: its detections, groundtruth and number of frames."""

    name: str
    folder: Path
    det: MotTable
    gt: MotTable
    n_frames: int


def load_sequence(folder, det_path=None) -> MotSequence:
    """Read ``det/det.txt`` (or ``det_path``), ``gt/gt.txt`` and ``seqinfo.ini`` (optional) of one sequence
    folder."""
    folder = Path(folder)
    det_p, gt_p, ini_p = folder / "det" / "det.txt", folder / "gt" / "gt.txt", folder / "seqinfo.ini"
    det_p = Path(det_path) if det_path is not None else det_p
    for p, what in ((det_p, "detections"), (gt_p, "groundtruth")):
        if not p.is_file():
            raise MotError(f"sequence {folder}: no {what} file {p}")
    det, gt = read_det(det_p), read_gt(gt_p)
    last = max(det.last_frame, gt.last_frame)
    n = last
    if ini_p.is_file():
        info = read_seqinfo(ini_p)
        if info["seq_length"] is not None:
            n = info["seq_length"]
            for t, p in ((det, det_p), (gt, gt_p)):
                if t.last_frame > n:
                    raise MotError(f"{p}: frame {t.last_frame} is beyond seqLength {n} of {ini_p}")
    if n == 0:
        raise MotError(f"sequence {folder}: det.txt and gt.txt are both empty and there is no seqLength")
    return MotSequence(folder.name, folder, det, gt, n)


def sequence_folders(dataset) -> list[Path]:
    """The sequence folders of ``dataset`` (those with ``gt/`` or ``det/``), sorted by name."""
    root = Path(dataset)
    if not root.exists():
        raise MotError(f"dataset {root} does not exist")
    if not root.is_dir():
        raise MotError(f"dataset {root} is not a folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and ((p / "gt").is_dir() or (p / "det").is_dir()))
    if not folders:
        raise MotError(f"dataset {root}: no sequences (expected {root}/SEQ/det/det.txt and {root}/SEQ/gt/gt.txt)")
    return folders


def find_sequences(dataset, det_root=None) -> list[MotSequence]:
    """Every sequence folder of ``dataset`` (a folder with ``gt/`` or ``det/``), sorted by name; with
    ``det_root``, each sequence's detections are ``det_root/SEQ/det/det.txt`` instead of its own."""
    return [load_sequence(p, None if det_root is None else Path(det_root) / p.name / "det" / "det.txt")
            for p in sequence_folders(dataset)]


def accumulate(gt: MotTable, hyp: MotTable, n_frames: int, iou_threshold: float = IOU_THRESHOLD):
    """A py-motmetrics accumulator of ``hyp`` (tracker output) against ``gt`` over frames 1..``n_frames``;
    pair distance 1 − IoU, no match below ``iou_threshold``."""
    mm = _motmetrics()
    acc = mm.MOTAccumulator(auto_id=False)
    g_rows, h_rows = gt.by_frame(), hyp.by_frame()
    none = np.zeros(0, np.int64)
    for f in range(1, n_frames + 1):
        gi, hi = g_rows.get(f, none), h_rows.get(f, none)
        iou = iou_matrix(gt.xyxy[gi], hyp.xyxy[hi])
        dist = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)
        acc.update(gt.id[gi].tolist(), hyp.id[hi].tolist(), dist, frameid=f)
    return acc


def _clean(v, count: bool):
    v = float(v)
    if not math.isfinite(v):
        return None
    return int(round(v)) if count else round(v, 6)


def summarize(accs: dict) -> dict:
    """``{name: accumulator}`` → ``{name: metrics, ..., "OVERALL": pooled metrics}`` (plain floats and ints;
    None where undefined, e.g. MOTA without groundtruth boxes)."""
    mm = _motmetrics()
    names = list(accs)
    mh = mm.metrics.create()
    df = mh.compute_many([accs[n] for n in names], names=names, metrics=list(_METRICS), generate_overall=True)
    out = {}
    for row_name, row in df.iterrows():
        m = {ours: _clean(row[theirs], ours in _COUNTS) for theirs, ours in _METRICS.items()}
        if m["motp"] is not None:
            m["motp"] = round(1.0 - m["motp"], 6)       # mean IoU of matched pairs
        out["OVERALL" if row_name == "OVERALL" else str(row_name)] = m
    return out


def _match_detections(gt: MotTable, det: MotTable, iou_threshold: float):
    """Per frame, detections in decreasing score take the unmatched groundtruth box they overlap most, if at
    IoU >= ``iou_threshold`` (a true positive); otherwise they are false positives. → (scores, is_tp)."""
    g_rows, d_rows = gt.by_frame(), det.by_frame()
    scores, tps = [], []
    for f, di in d_rows.items():
        di = di[np.argsort(-det.conf[di], kind="stable")]
        gi = g_rows.get(f, np.zeros(0, np.int64))
        iou = iou_matrix(det.xyxy[di], gt.xyxy[gi])
        free = np.ones(len(gi), dtype=bool)
        for k in range(len(di)):
            cand = np.where(free, iou[k], -1.0) if len(gi) else np.zeros(0)
            j = int(np.argmax(cand)) if len(cand) else -1
            hit = j >= 0 and cand[j] >= iou_threshold
            if hit:
                free[j] = False
            scores.append(det.conf[di[k]])
            tps.append(hit)
    return np.asarray(scores, np.float64), np.asarray(tps, bool)


def average_precision(scores, is_tp, n_gt: int) -> float | None:
    """Area under the precision–recall curve of ranked detections, with precision made monotone (each
    recall's precision is the best at that recall or beyond: "all-point interpolation", PASCAL VOC 2010+).
    None without groundtruth."""
    if n_gt == 0:
        return None
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(is_tp, dtype=np.float64)[order]
    if not len(tp):
        return 0.0
    ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
    recall = np.concatenate([[0.0], ctp / n_gt])
    precision = np.concatenate([[1.0], ctp / (ctp + cfp)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def detection_ap(gt: MotTable, det: MotTable, iou_threshold: float = IOU_THRESHOLD) -> float | None:
    """Detection AP@``iou_threshold`` of one sequence's ``det`` against its ``gt`` (boxes only, ids unused)."""
    s, tp = _match_detections(gt, det, iou_threshold)
    return average_precision(s, tp, len(gt))


def evaluate(dataset, variants=("sort", "appearance", "bytetrack"), out_dir=None,
             iou_threshold: float = IOU_THRESHOLD, det_root=None, detector: dict | None = None,
             operating_point: float | None = None) -> dict:
    """Run every variant on every sequence of ``dataset`` and score it. With ``out_dir``, also write
    ``VARIANT/SEQ.txt`` (tracker output, MOTChallenge format), ``results.json`` and ``results.md``.
    ``det_root``: read each sequence's detections from ``det_root/SEQ/det/det.txt`` (what
    :func:`write_detections` wrote) instead of the dataset's; ``detector``: what made them (recorded);
    ``operating_point``: the detector's score the variants' thresholds follow (``MotParams.for_detector``; None:
    the papers' values, for a YOLOX-class detector's scores)."""
    params = [get_params(v).for_detector(operating_point) for v in variants]   # an unknown name fails first
    if not params:
        raise MotError("no MOT variants to evaluate")
    _motmetrics()
    linear_assignment(np.zeros((1, 1)), 1.0)            # import scipy now, not inside the first variant's timing
    seqs = find_sequences(dataset, det_root)
    res = {"dataset": str(dataset), "iou_threshold": iou_threshold,
           "detections": "dataset det/det.txt" if det_root is None else str(det_root),
           **({"detector": detector} if detector is not None else {}),
           "sequences": {s.name: {"frames": s.n_frames, "gt_boxes": len(s.gt), "detections": len(s.det),
                                  "embeddings": s.det.embedding is not None} for s in seqs},
           "operating_point": operating_point, "variants": {}, "notes": []}
    scores, tps, n_gt = [], [], 0
    ap = {}
    for s in seqs:
        sc, tp = _match_detections(s.gt, s.det, iou_threshold)
        ap[s.name] = average_precision(sc, tp, len(s.gt))
        scores.append(sc)
        tps.append(tp)
        n_gt += len(s.gt)
    ap["OVERALL"] = average_precision(np.concatenate(scores), np.concatenate(tps), n_gt)
    res["detection_ap"] = ap
    for p in params:
        accs, frames, seconds, outputs = {}, 0, 0.0, {}
        for s in seqs:
            t0 = time.perf_counter()
            hyp = track_detections(s.det, p, n_frames=s.n_frames)
            seconds += time.perf_counter() - t0
            frames += s.n_frames
            accs[s.name] = accumulate(s.gt, hyp, s.n_frames, iou_threshold)
            outputs[s.name] = hyp
        summary = summarize(accs)
        uses_app = p.appearance_weight > 0
        res["variants"][p.name] = {
            "params": p.as_dict(),
            "per_sequence": {k: v for k, v in summary.items() if k != "OVERALL"},
            "overall": summary["OVERALL"],
            "tracker_fps": round(frames / seconds, 1) if seconds > 0 else None,
            "embeddings_used": uses_app and any(s.det.embedding is not None for s in seqs),
        }
        if uses_app and not res["variants"][p.name]["embeddings_used"]:
            res["notes"].append(f"{p.name}: det.txt has no embeddings (columns after the tenth), so it ran on "
                                "IoU and the motion gate alone")
        if out_dir is not None:
            for name, hyp in outputs.items():
                write_mot(Path(out_dir) / p.name / f"{name}.txt", hyp)
    res["markdown"] = markdown_table(res)
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "results.json", res)
        write_text_atomic(Path(out_dir) / "results.md", res["markdown"])
    return res


def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def markdown_table(res: dict) -> str:
    """The results as a markdown table: one row per variant and sequence, then each variant's overall row."""
    head = "| variant | sequence | MOTA % | IDF1 % | ID sw. | FP | FN | MOTP (IoU) | recall % | tracker fps |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, v in res["variants"].items():
        rows = [*v["per_sequence"].items(), ("**overall**", v["overall"])]
        for seq, m in rows:
            fps = f"{v['tracker_fps']:.0f}" if seq == "**overall**" and v["tracker_fps"] is not None else ""
            lines.append(f"| {name} | {seq} | {_fmt(m['mota'], True)} | {_fmt(m['idf1'], True)} | "
                         f"{_fmt(m['id_switches'])} | {_fmt(m['fp'])} | {_fmt(m['fn'])} | {_fmt(m['motp'])} | "
                         f"{_fmt(m['recall'], True)} | {fps} |")
    lines.append("")
    by = f" ({res['detector'].get('model')}, {res['detector'].get('backend')} {res['detector'].get('precision')})" \
        if isinstance(res.get("detector"), dict) else ""
    lines.append(f"Detection AP@{res['iou_threshold']:g} of det.txt{by}: "
                 + ", ".join(f"{k} {_fmt(v)}" for k, v in res["detection_ap"].items()))
    lines.extend(f"Note: {n}" for n in res.get("notes", []))
    return "\n".join(lines) + "\n"


# ---- detections from a detector ------------------------------------------------------------------------------

def resolve_video(name: str, base: Path, where: Path) -> Path:
    """A ``source.json`` video, found as the tracking sequences find theirs; MotError naming ``where`` otherwise."""
    return _resolve_video(name, base, where, MotError)


def sequence_source(folder) -> dict:
    """A sequence's frames: ``{"video": name as written, "start": first video frame (0-based), "frames": n}``
    from ``source.json`` and ``seqinfo.ini`` (``seqLength``; else ``end - start + 1``; else the last gt frame)."""
    folder = Path(folder)
    js = folder / "source.json"
    if not js.is_file():
        raise MotError(f"sequence {folder}: no source.json naming its video (needed to run a detector on its frames)")
    try:
        spec = json.loads(js.read_text())
    except (OSError, ValueError) as e:
        raise MotError(f"{js}: not valid JSON ({e})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("video"), str):
        raise MotError(f'{js}: expected {{"video": "name.avi", "start": 0}}')
    try:
        start = int(spec.get("start", 0))
        end = int(spec["end"]) if spec.get("end") is not None else None
    except (TypeError, ValueError):
        raise MotError(f"{js}: start and end must be integers") from None
    if start < 0 or (end is not None and end < start):
        raise MotError(f"{js}: need 0 <= start <= end, got start={start} end={end}")
    n = None
    ini = folder / "seqinfo.ini"
    if ini.is_file():
        n = read_seqinfo(ini)["seq_length"]
    if n is None and end is not None:
        n = end - start + 1
    if n is None:
        gt = folder / "gt" / "gt.txt"
        n = read_gt(gt).last_frame if gt.is_file() else 0
    if n < 1:
        raise MotError(f"sequence {folder}: no frame count (seqinfo.ini seqLength, source.json end or gt/gt.txt)")
    if end is not None and end - start + 1 != n:
        raise MotError(f"{js} names {end - start + 1} frames ({start}..{end}) but the sequence has {n}")
    return {"video": spec["video"], "start": start, "frames": n, "source_json": js}


def sequence_frames(folder):
    """The BGR frames of a sequence (frame 1 first), read from the video its ``source.json`` names."""
    from edgecv.runtime.track.base import TrackError
    from edgecv.runtime.track.sequences import read_video

    src = sequence_source(folder)
    video = resolve_video(src["video"], Path(folder), src["source_json"])
    try:
        yield from read_video(video, src["start"], src["start"] + src["frames"] - 1)
    except TrackError as e:
        raise MotError(f"{src['source_json']}: {e}") from None


def detections_table(per_frame) -> MotTable:
    """``[(frame, Detections), ...]`` → a detection table (``id = -1``) with the embeddings, when every frame has
    them."""
    frames, boxes, scores, embs = [], [], [], []
    with_emb = True
    for f, d in per_frame:
        frames.extend([int(f)] * len(d))
        boxes.append(np.asarray(d.boxes, np.float64).reshape(-1, 4))
        scores.append(np.asarray(d.scores, np.float64).reshape(-1))
        if d.embeddings is None:
            with_emb = False
        else:
            embs.append(np.asarray(d.embeddings, np.float64))
    if not frames:
        return MotTable.empty()
    xyxy = np.concatenate(boxes)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    emb = np.concatenate(embs) if with_emb and embs else None
    n = len(frames)
    return MotTable(np.asarray(frames, np.int64), -np.ones(n, np.int64), xywh, np.concatenate(scores),
                    -np.ones(n, np.int64), emb)


def write_detections(dataset, detector, out_dir, progress=None, sequences=None) -> dict:
    """Run ``detector`` (a :class:`~edgecv.runtime.mot.PersonDetector`, or any callable BGR frame →
    ``Detections``) over every sequence of ``dataset`` (or those named in ``sequences``) and write
    ``out_dir/SEQ/det/det.txt`` (MOTChallenge, embeddings after the tenth column), atomically. The dataset is only
    read. Returns per sequence the frames, detections and detector milliseconds (mean, median); ``progress(msg)``
    is told each sequence."""
    out_dir = Path(out_dir)
    folders = [p for p in sequence_folders(dataset) if (p / "gt").is_dir()]
    if not folders:
        raise MotError(f"dataset {dataset}: no sequence has a gt/ folder to evaluate against")
    if sequences is not None:
        if missing := sorted(set(sequences) - {p.name for p in folders}):
            raise MotError(f"dataset {dataset}: no sequence {', '.join(missing)} with a gt/ folder")
        folders = [p for p in folders if p.name in set(sequences)]
    sources = {p.name: sequence_source(p) for p in folders}       # every source.json checked before any work
    for p in folders:
        resolve_video(sources[p.name]["video"], p, sources[p.name]["source_json"])
    out = {}
    for p in folders:
        per_frame, ms = [], []
        n = 0
        for n, frame in enumerate(sequence_frames(p), 1):
            t0 = time.perf_counter()
            d = detector(frame)
            ms.append((time.perf_counter() - t0) * 1e3)
            per_frame.append((n, d))
        table = detections_table(per_frame)
        path = write_mot(out_dir / p.name / "det" / "det.txt", table)
        out[p.name] = {"frames": n, "detections": len(table), "det_txt": str(path),
                       "ms_detector_mean": round(float(np.mean(ms)), 3) if ms else None,
                       "ms_detector_median": round(float(np.median(ms)), 3) if ms else None}
        if progress is not None:
            progress(f"[eval mot] {p.name}: {n} frames, {len(table)} detections → {path}")
    return out
