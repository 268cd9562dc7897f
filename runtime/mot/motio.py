"""MOTChallenge text files: detections (``det/det.txt``), groundtruth (``gt/gt.txt``), tracker results.

One row per box, comma-separated: ``frame, id, left, top, width, height, conf, x, y, z`` with 1-based frames,
``id = -1`` for detections and ``x, y, z = -1`` in 2-D files. In ``gt.txt`` the seventh column is the
"consider" flag (0: ignore the box, as in MOT16/17) and MOT16/17 add a class and a visibility in columns 8–9.
Six columns are the least we accept (conf then defaults to 1).

edgecv's extension: columns after the tenth of a detection file, when present, are that detection's
appearance embedding (every row of the file must then have the same number of columns). Standard files have
none, and the appearance variant then runs on IoU and motion alone.

Writes go to a temp file beside the target and are renamed into place (``os.replace``), so an interrupted
run never leaves a half-written file under the final name. Malformed input raises :class:`MotError` naming
the file and line.
"""
from __future__ import annotations

import configparser
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..outputs import atomic_path
from .errors import MotError

__all__ = ["MotTable", "read_mot", "read_det", "read_gt", "read_seqinfo", "write_mot", "format_rows"]


@dataclass(frozen=True)
class MotTable:
    """Rows of a MOTChallenge file as arrays (one entry per box)."""

    frame: np.ndarray        # (N,) int, 1-based
    id: np.ndarray           # (N,) int, -1 for detections
    xywh: np.ndarray         # (N, 4) float: left, top, width, height
    conf: np.ndarray         # (N,) float: detection score, or gt's consider flag
    cls: np.ndarray | None = None          # (N,) int: gt class (MOT16/17), -1 when absent
    embedding: np.ndarray | None = None    # (N, D) float: detection embeddings (edgecv extension)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def xyxy(self) -> np.ndarray:
        b = self.xywh
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)

    @property
    def last_frame(self) -> int:
        return int(self.frame.max()) if len(self) else 0

    def select(self, mask) -> MotTable:
        """The rows where ``mask`` (bool array or indices) holds."""
        return MotTable(self.frame[mask], self.id[mask], self.xywh[mask], self.conf[mask],
                        None if self.cls is None else self.cls[mask],
                        None if self.embedding is None else self.embedding[mask])

    def by_frame(self) -> dict[int, np.ndarray]:
        """Frame → indices of its rows (frames without rows are absent)."""
        order = np.argsort(self.frame, kind="stable")
        frames, starts = np.unique(self.frame[order], return_index=True)
        return {int(f): idx for f, idx in zip(frames, np.split(order, starts[1:]))}

    @staticmethod
    def empty() -> MotTable:
        return MotTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))

    @staticmethod
    def from_rows(rows) -> MotTable:
        """From ``(frame, id, x1, y1, x2, y2, score)`` tuples (corner boxes, as the tracker reports them)."""
        a = np.asarray(list(rows), dtype=np.float64).reshape(-1, 7)
        xywh = np.concatenate([a[:, 2:4], a[:, 4:6] - a[:, 2:4]], axis=1)
        return MotTable(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), xywh, a[:, 6])


def _number(text: str, path, lineno: int, col: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise MotError(f"{path}:{lineno}: {col} is {text.strip()!r}, not a number") from None
    if not math.isfinite(v):
        raise MotError(f"{path}:{lineno}: {col} is {text.strip()!r}, not a finite number")
    return v


def _integer(text: str, path, lineno: int, col: str) -> int:
    v = _number(text, path, lineno, col)
    if v != int(v):
        raise MotError(f"{path}:{lineno}: {col} is {text.strip()!r}, not an integer")
    return int(v)


_COLS = ("frame", "id", "left", "top", "width", "height", "conf")


def read_mot(path, embeddings: bool = False) -> MotTable:
    """Read any MOTChallenge box file. ``embeddings``: keep columns after the tenth as embeddings.

    Errors name the file and line: fewer than six columns, a value that is not a number, a frame below 1, a
    non-positive width or height, a changing column count when embeddings are read."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise MotError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MotError(f"{path}: cannot read it ({e})") from None
    frames, ids, boxes, confs, classes, embs = [], [], [], [], [], []
    width = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(",") if "," in line else line.split()
        while cells and not cells[-1].strip():   # a trailing comma
            cells.pop()
        if len(cells) < 6:
            raise MotError(f"{path}:{lineno}: {len(cells)} columns, expected at least 6 "
                           "(frame,id,left,top,width,height[,conf,...])")
        frame = _integer(cells[0], path, lineno, "frame")
        if frame < 1:
            raise MotError(f"{path}:{lineno}: frame {frame}: MOTChallenge frames start at 1")
        ident = _integer(cells[1], path, lineno, "id")
        box = [_number(cells[i], path, lineno, _COLS[i]) for i in range(2, 6)]
        if box[2] <= 0 or box[3] <= 0:
            raise MotError(f"{path}:{lineno}: box of width {box[2]:g} and height {box[3]:g}: both must be > 0")
        conf = _number(cells[6], path, lineno, "conf") if len(cells) > 6 else 1.0
        cls = _integer(cells[7], path, lineno, "class") if len(cells) > 7 else -1
        if embeddings:
            if width is None:
                width = len(cells)
            elif len(cells) != width:
                raise MotError(f"{path}:{lineno}: {len(cells)} columns where earlier rows have {width} (columns "
                               "after the tenth are an embedding, the same length on every row)")
            if len(cells) > 10:
                embs.append([_number(c, path, lineno, f"embedding column {i}") for i, c in enumerate(cells[10:], 11)])
        frames.append(frame)
        ids.append(ident)
        boxes.append(box)
        confs.append(conf)
        classes.append(cls)
    if not frames:
        return MotTable.empty()
    return MotTable(np.asarray(frames, np.int64), np.asarray(ids, np.int64), np.asarray(boxes, np.float64),
                    np.asarray(confs, np.float64), np.asarray(classes, np.int64),
                    np.asarray(embs, np.float64) if embs else None)


def read_det(path) -> MotTable:
    """A detection file (``det/det.txt``): scores in ``conf``, embeddings when the rows carry them."""
    return read_mot(path, embeddings=True)


def read_gt(path, keep_ignored: bool = False, classes=None) -> MotTable:
    """A groundtruth file (``gt/gt.txt``). Rows whose consider flag (column 7) is 0 are dropped unless
    ``keep_ignored``; ``classes``: keep only these class ids (column 8; MOT17's pedestrians are class 1).

    Simpler than the official devkit: boxes matched to ignored or distractor rows are not excused, so false
    positives on them count."""
    t = read_mot(path)
    keep = np.ones(len(t), dtype=bool)
    if not keep_ignored:
        keep &= t.conf != 0
    if classes is not None and t.cls is not None:
        keep &= np.isin(t.cls, list(classes))
    seen = {}
    for f, i in zip(t.frame[keep], t.id[keep]):
        if (f, i) in seen:
            raise MotError(f"{path}: id {i} appears twice in frame {f}")
        seen[(f, i)] = True
    return t.select(keep)


def read_seqinfo(path) -> dict:
    """``seqinfo.ini`` → ``{"name", "seq_length", "frame_rate", "im_width", "im_height"}`` (missing keys None)."""
    path = Path(path)
    cp = configparser.ConfigParser()
    try:
        cp.read_string(path.read_text(), source=str(path))
    except (configparser.Error, OSError, UnicodeDecodeError) as e:
        raise MotError(f"{path}: not a readable seqinfo.ini ({str(e).splitlines()[0]})") from None
    if "Sequence" not in cp:
        raise MotError(f"{path}: no [Sequence] section")
    sec = cp["Sequence"]
    out = {"name": sec.get("name")}
    for key, ini in (("seq_length", "seqLength"), ("frame_rate", "frameRate"), ("im_width", "imWidth"),
                     ("im_height", "imHeight")):
        raw = sec.get(ini)
        if raw is None:
            out[key] = None
            continue
        try:
            out[key] = int(raw)
        except ValueError:
            raise MotError(f"{path}: {ini} = {raw!r} is not an integer") from None
        if out[key] < 1:
            raise MotError(f"{path}: {ini} = {raw!r} must be >= 1")
    return out


def format_rows(table: MotTable) -> str:
    """The MOTChallenge text of a table, sorted by frame then id (``-1, -1, -1`` for the 3-D columns; a
    table's embeddings, if any, follow as extra columns)."""
    order = np.lexsort((table.id, table.frame))
    emb = table.embedding
    lines = []
    for i in order:
        x, y, w, h = table.xywh[i]
        line = f"{table.frame[i]},{table.id[i]},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{table.conf[i]:.4g},-1,-1,-1"
        if emb is not None:
            line += "".join(f",{v:.5g}" for v in emb[i])
        lines.append(line + "\n")
    return "".join(lines)


def write_mot(path, table: MotTable) -> Path:
    """Write ``table`` as a MOTChallenge file, atomically (temp file beside ``path``, then ``os.replace``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(format_rows(table))
    return Path(path)
