"""The torch-free Deep Feature Flow loop: key frames through the feature net, the frames between through the
light flow net and a feature warp, every frame through the task head.

Per frame (the contract is ``edgecv/models/dff.py``'s docstring; the numbers come from the manifests):

1. the whole BGR frame is resized to the graphs' frame size with ``INTER_AREA``, turned RGB, ×1/255, NCHW;
2. the key-frame policy decides (:mod:`.policy`): on a key frame the feature graph runs and the head runs
   on its features with zero flow and unit scale — so K = 1 is exactly per-frame inference; otherwise the
   flow graph runs on (key frame, current frame), the policy may still ask for a key frame given the
   signals, and else the head warps the key's features by that flow;
3. the logits (C, h, w) are resized to the frame's own size with ``cv2.resize`` (bilinear, per channel)
   and the argmax is the mask: uint8 class index per pixel, 0 = background.

:func:`propagate_video` runs a video through it on the loop engine (:mod:`edgecv.runtime.engine`) and writes
an overlay MP4, one mask PNG per frame and a stats JSON, each to a temporary name beside its target and
renamed into place at the end, so that an error or an interrupt leaves nothing half-written under the final
names.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import load
from ..engine import Outputs, open_source, run, warner
from ..errors import ArtifactError
from .artifacts import BACKEND_FORMAT, DFFArtifacts, check_artifacts, find_artifacts, runtime_backend
from .base import PropagateError, PropagateWarning, as_bgr
from .policy import PHOTOMETRIC_TAU, Signals, flow_signals, grey_grid, make_policy

__all__ = ["FrameResult", "Propagator", "propagate_video", "draw_overlay", "logits_to_mask", "aggregate_features",
           "warp_features"]

PALETTE = [(0, 0, 0), (255, 0, 200), (0, 200, 255), (0, 220, 0), (255, 160, 0), (0, 80, 255)]  # BGR per class
KEY_COLOR, WHITE, BLACK = (0, 140, 255), (255, 255, 255), (0, 0, 0)
MASK_NAME = re.compile(r"^\d{6,}\.png$")
PARTS_MS = ("pre", "feature", "flow", "head", "post")


@dataclass
class FrameResult:
    """One frame's answer.

    ``mask``: H×W uint8 class index at the frame's own size. ``is_key``: the feature net ran on this frame;
    ``reason`` says why (``first``, ``interval``, ``max-interval``, ``unreliable``, ``motion``, or a reason
    the caller forced, e.g. ``after-skip``), empty on propagated frames. ``signals``: the flow's photometric
    and magnitude signals, whenever the flow net ran (None on key frames it was skipped for).
    ``since_key``: frames since the key frame (0 on a key frame). ``ms``: milliseconds per step — ``pre``
    (resize), ``feature``, ``flow``, ``head``, ``post`` (upsampling + argmax), 0 for steps not run — and
    ``total``. ``logits``: the head's (1, C, h, w) output at the feature grid.
    """
    index: int
    mask: np.ndarray
    is_key: bool
    reason: str
    signals: Signals | None
    since_key: int
    ms: dict
    logits: np.ndarray = field(repr=False, default=None)

    def record(self) -> dict:
        """The JSON-able part: everything but the mask and logits."""
        return {"index": self.index, "key": self.is_key, "reason": self.reason, "since_key": self.since_key,
                "signals": self.signals.as_dict() if self.signals is not None else None,
                "ms": {k: round(v, 3) for k, v in self.ms.items()}}


def logits_to_mask(logits: np.ndarray, size_hw) -> np.ndarray:
    """(1, C, h, w) or (C, h, w) logits → (H, W) uint8 class index: each channel resized bilinearly with
    ``cv2.resize`` (half-pixel centres: the grid covers the whole frame), then the argmax."""
    import cv2

    lg = np.asarray(logits, np.float32)
    lg = lg.reshape(lg.shape[-3:])
    H, W = int(size_hw[0]), int(size_hw[1])
    if lg.shape[0] == 2:  # bilinear resizing is linear: argmax of two channels = sign of their difference
        diff = cv2.resize(np.ascontiguousarray(lg[1] - lg[0]), (W, H), interpolation=cv2.INTER_LINEAR)
        return (diff > 0).astype(np.uint8)
    if lg.shape[0] <= 4:  # cv2.resize takes up to 4 channels at once for every interpolation
        up = cv2.resize(np.ascontiguousarray(lg.transpose(1, 2, 0)), (W, H), interpolation=cv2.INTER_LINEAR)
        up = up.reshape(H, W, lg.shape[0])
    else:
        up = np.stack([cv2.resize(c, (W, H), interpolation=cv2.INTER_LINEAR) for c in lg], axis=-1)
    return up.argmax(-1).astype(np.uint8)


class Propagator:
    """The three sessions of one DFF model and the state between frames: the key frame's input, grey grid
    and features. ``step(frame)`` per frame, in order; ``reset()`` starts over (the next frame is a key).

    ``artifacts``: a :class:`DFFArtifacts` (from :func:`find_artifacts`), or the three paths (a dict
    part → path, or a sequence in the order feature, flow, head). ``policy``: K, ``"auto"`` or a policy
    object (:mod:`.policy`). ``spin``: let onnxruntime's idle threads spin; off by default, since three
    sessions take turns on the same cores.
    """

    def __init__(self, artifacts, policy=10, backend: str = "ort", threads: int | None = None, spin: bool = False,
                 aggregate: bool = False):
        self.aggregate = aggregate
        self.artifacts = artifacts if isinstance(artifacts, DFFArtifacts) else check_artifacts(artifacts)
        self.policy = make_policy(policy)
        rt = runtime_backend(backend) if backend != "auto" else "auto"
        a = self.artifacts
        self.feature_sess = load(a.feature, rt, threads, spin=spin)
        self.flow_sess = load(a.flow, rt, threads, spin=spin)
        self.head_sess = load(a.head, rt, threads, spin=spin)
        self.frame_hw = a.frame_size
        self.grid_hw = a.feature_size
        self.channels = int(a.geometry["feature_channels"])
        self.classes = a.classes or [f"class{i}" for i in range(2)]
        self._check_shapes()
        self._zero_flow = np.zeros((1, 2, *self.grid_hw), np.float32)
        self._unit_scale = np.ones((1, self.channels, *self.grid_hw), np.float32)
        self.reset()

    @classmethod
    def from_dir(cls, art_dir="artifacts", model: str = "dff-seg", backend: str = "ort", precision: str = "fp32",
                 ops: str | None = None, policy=10, threads: int | None = None, part_precision: dict | None = None,
                 spin: bool = False, aggregate: bool = False) -> Propagator:
        """Find the bundle in ``art_dir`` by the names ``edgecv export`` writes, then build the loop."""
        fmt = BACKEND_FORMAT.get(backend)
        if fmt is None:
            runtime_backend(backend)  # raises with the list of backends
        arts = find_artifacts(art_dir, model, fmt, precision, ops, part_precision)
        return cls(arts, policy, backend, threads, spin, aggregate)

    def _check_shapes(self) -> None:
        H, W = self.frame_hw
        h, w = self.grid_hw
        C = self.channels
        want = {
            (self.feature_sess, "in"): {"image": (1, 3, H, W)},
            (self.feature_sess, "out"): {"features": (1, C, h, w)},
            (self.flow_sess, "in"): {"current": (1, 3, H, W)},
            (self.flow_sess, "out"): {"flow": (1, 2, h, w), "scale": (1, C, h, w)},
            (self.head_sess, "in"): {"features": (1, C, h, w), "flow": (1, 2, h, w), "scale": (1, C, h, w)},
        }
        # the flow graph takes the key frame itself ("key") or, for a key-cached model (dff-seg-fast), the key frame's
        # pyramid levels ("key_e2", ...) that the feature graph returned on that key frame
        has = {t.name: tuple(t.shape) for t in self.feature_sess.outputs}
        flow_in = [t.name for t in self.flow_sess.inputs]
        self.key_cache_names = [n for n in flow_in if n.startswith("key_")]
        if self.key_cache_names:
            for n in self.key_cache_names:
                if n not in has:
                    raise ArtifactError(f"{self.flow_sess.path}: takes {n!r} from the key frame, but "
                                        f"{self.feature_sess.path} does not return it (it returns {sorted(has)})")
                want[(self.flow_sess, "in")][n] = has[n]
        else:
            want[(self.flow_sess, "in")]["key"] = (1, 3, H, W)
        # a context model (dff-seg-ctx): the current frame's stride-8 encoding goes to the head as well
        self.context = "context" in has
        if self.context:
            cshape = has["context"]
            if len(cshape) != 4 or tuple(cshape[2:]) != (h, w):
                raise ArtifactError(f"{self.feature_sess.path}: 'context' is {cshape}, not on the {h}×{w} grid")
            want[(self.flow_sess, "out")]["context"] = cshape
            want[(self.head_sess, "in")]["context"] = cshape
        for (sess, side), tensors in want.items():
            have = {t.name: tuple(t.shape) for t in (sess.inputs if side == "in" else sess.outputs)}
            for name, shape in tensors.items():
                if name not in have:
                    raise ArtifactError(f"{sess.path}: has no {'input' if side == 'in' else 'output'} {name!r} "
                                        f"(it has {sorted(have)})")
                if have[name] != shape:
                    raise ArtifactError(f"{sess.path}: {name!r} is {have[name]}, but its manifest's geometry "
                                        f"says {shape}")
        out = {t.name: tuple(t.shape) for t in self.head_sess.outputs}
        if "logits" not in out:
            raise ArtifactError(f"{self.head_sess.path}: has no output 'logits' (it has {sorted(out)})")
        if out["logits"][-2:] != (h, w):
            raise ArtifactError(f"{self.head_sess.path}: 'logits' is {out['logits']}, not on the {h}×{w} grid")

    @property
    def tau(self) -> float:
        """The photometric threshold of the signals: the policy's own, else the default τ."""
        return float(getattr(getattr(self.policy, "params", None), "tau", PHOTOMETRIC_TAU))

    def reset(self) -> None:
        self.key_input = self.key_grey = self.key_features = self.key_context = None
        self.key_cache = {}
        self.since_key = 0
        self.frame_index = -1
        if hasattr(self.policy, "reset"):
            self.policy.reset()

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BGR frame → (graph input (1, 3, H, W) RGB float [0, 1], grey grid (h, w) float [0, 1])."""
        import cv2

        H, W = self.frame_hw
        small = frame if frame.shape[:2] == (H, W) else cv2.resize(frame, (W, H), interpolation=cv2.INTER_AREA)
        # × float32(1/255) rather than / 255: numpy's float32 division is the slower pass (0.21 against 0.25 ms a
        # 320×256 frame in the loop, 1 thread); the values are cv2.dnn.blobFromImage's bit for bit
        x = np.ascontiguousarray(small[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)
        return x, grey_grid(small, self.grid_hw)

    def _flow_feeds(self, x: np.ndarray) -> dict:
        """The flow graph's inputs for current frame ``x``: the key frame, or its cached pyramid levels."""
        if self.key_cache_names:
            return {"current": x, **self.key_cache}
        return {"key": self.key_input, "current": x}

    def step(self, frame: np.ndarray, force_key: bool | str = False) -> FrameResult:
        """Segment the next frame. ``force_key`` (True or a reason string) makes it a key frame."""
        t0 = time.perf_counter()
        self.frame_index += 1
        frame = as_bgr(frame, self.frame_index)
        ms = dict.fromkeys(PARTS_MS, 0.0)
        x, grey = self.preprocess(frame)
        t1 = time.perf_counter()
        ms["pre"] = (t1 - t0) * 1e3
        signals, flow, scale, context = None, None, None, None
        since = self.since_key + 1
        if self.key_features is None:
            reason = "first"
        elif force_key:
            reason = force_key if isinstance(force_key, str) else "forced"
        else:
            reason = self.policy.before_flow(since)
            if reason is None:
                t = time.perf_counter()
                out = self.flow_sess.run(self._flow_feeds(x))
                ms["flow"] = (time.perf_counter() - t) * 1e3
                flow, scale, context = out["flow"], out["scale"], out.get("context")
                signals = flow_signals(self.key_grey, grey, flow, self.tau)
                reason = self.policy.after_flow(signals, since)
        if reason is not None:
            t = time.perf_counter()
            fout = self.feature_sess.run({"image": x})
            features, context = fout["features"], fout.get("context")
            ms["feature"] = (time.perf_counter() - t) * 1e3
            if self.aggregate and self.key_features is not None and reason in ("interval", "max-interval", "motion"):
                t = time.perf_counter()
                if flow is None:  # a fixed schedule did not run the flow net on this frame
                    flow = self.flow_sess.run(self._flow_feeds(x))["flow"]
                    ms["flow"] = (time.perf_counter() - t) * 1e3
                features = aggregate_features(features, self.key_features, flow)
            self.key_features = features
            self.key_cache = {n: fout[n] for n in self.key_cache_names}
            self.key_input, self.key_grey, self.since_key = x, grey, 0
            flow, scale = self._zero_flow, self._unit_scale
        else:
            self.since_key = since
        t = time.perf_counter()
        feeds = {"features": self.key_features, "flow": flow, "scale": scale}
        if self.context:
            feeds["context"] = context
        logits = self.head_sess.run(feeds)["logits"]
        t2 = time.perf_counter()
        ms["head"] = (t2 - t) * 1e3
        mask = logits_to_mask(logits, frame.shape[:2])
        t3 = time.perf_counter()
        ms["post"] = (t3 - t2) * 1e3
        ms["total"] = (t3 - t0) * 1e3
        return FrameResult(self.frame_index, mask, reason is not None, reason or "", signals, self.since_key, ms,
                           logits)


def warp_features(features: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(1, C, h, w) features sampled at grid + flow (bilinear, border replicated, as the graph's warp)."""
    import cv2

    f = np.asarray(features, np.float32)[0]
    fl = np.asarray(flow, np.float32).reshape(2, *f.shape[1:])
    h, w = f.shape[1:]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + fl[0], gy + fl[1]
    out = np.empty_like(f)
    for c in range(0, f.shape[0], 4):  # cv2.remap takes up to 4 channels at once
        chunk = np.ascontiguousarray(f[c:c + 4].transpose(1, 2, 0))
        r = cv2.remap(chunk, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[c:c + 4] = r.reshape(h, w, -1).transpose(2, 0, 1)
    return out[None]


def aggregate_features(new: np.ndarray, previous: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """A light temporal aggregation at key frames (after FGFA): the previous key's features are warped to the
    new key frame and averaged with its own, per cell, with weights ∝ exp(cosine similarity to the new
    features) — the new frame has similarity 1 with itself, so where the warp went wrong (similarity low) the
    new features dominate. Not used across shot cuts or damaged frames (the policy's reason says which)."""
    warped = warp_features(previous, flow)
    num = (new * warped).sum(1, keepdims=True)
    den = np.linalg.norm(new, axis=1, keepdims=True) * np.linalg.norm(warped, axis=1, keepdims=True) + 1e-6
    w_prev = np.exp(num / den - 1.0)  # relative to the new frame's weight exp(1)
    return ((new + w_prev * warped) / (1.0 + w_prev)).astype(np.float32)


def draw_overlay(frame: np.ndarray, res: FrameResult, classes=None, alpha: float = 0.45) -> np.ndarray:
    """A copy of ``frame`` with every non-background class tinted (and outlined), and a ``#index`` tag:
    ``KEY reason`` on an orange tag and an orange border on key frames, ``+n`` (frames since the key) else."""
    import cv2

    img = as_bgr(frame, res.index).copy()
    for c in np.unique(res.mask):
        if c == 0:
            continue
        c = int(c)
        color = np.array(PALETTE[c] if c < len(PALETTE) else PALETTE[1 + (c - 1) % (len(PALETTE) - 1)], np.float32)
        m = res.mask == c
        img[m] = (img[m].astype(np.float32) * (1 - alpha) + color * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(img, contours, -1, tuple(int(v) for v in color), 1, cv2.LINE_AA)
    if res.is_key:
        text = f"#{res.index} KEY" + (f" {res.reason}" if res.reason else "")
        cv2.rectangle(img, (0, 0), (img.shape[1] - 1, img.shape[0] - 1), KEY_COLOR, 3)
    else:
        text = f"#{res.index} +{res.since_key}"
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    cv2.rectangle(img, (0, 0), (tw + 8, th + base + 8), KEY_COLOR if res.is_key else BLACK, -1)
    cv2.putText(img, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK if res.is_key else WHITE, 1,
                cv2.LINE_AA)
    return img


def _check_masks_dir(masks: Path) -> None:
    if masks.exists() and not masks.is_dir():
        raise PropagateError(f"--masks {masks} is a file; give a folder (it is created)")
    if masks.is_dir():
        other = [p.name for p in masks.iterdir() if not MASK_NAME.match(p.name)]
        if other:
            raise PropagateError(f"masks folder {masks} exists and holds other files ({', '.join(sorted(other)[:3])}"
                                 f"{', ...' if len(other) > 3 else ''}); give a new or empty folder, or one from "
                                 f"an earlier run")


def _summary(results: list[dict], skipped: list[int], extra: dict) -> dict:
    total = np.array([r["ms"]["total"] for r in results]) if results else np.zeros(0)
    keys = [r["index"] for r in results if r["key"]]
    mean = float(total.mean()) if total.size else 0.0
    return dict(extra, frames=len(results), key_frames=len(keys), key_indices=keys, skipped=skipped,
                median_ms=round(float(np.median(total)), 3) if total.size else 0.0, mean_ms=round(mean, 3),
                fps=round(1000.0 / mean, 2) if mean > 0 else 0.0,
                median_ms_by_part={p: round(float(np.median([r["ms"][p] for r in results])), 3)
                                   for p in PARTS_MS} if results else {},
                per_frame=results)


def propagate_video(video, out=None, masks=None, key_interval=10, model: str = "dff-seg", backend: str = "ort",
                    precision: str = "fp32", ops: str | None = "standard", art_dir="artifacts",
                    threads: int | None = None, progress: bool = True, stats=None, *,
                    part_precision: dict | None = None, max_frames: int | None = None, warn=None,
                    propagator: Propagator | None = None, aggregate: bool = False) -> dict:
    """Segment every frame of ``video`` (a video file, an image folder or an iterable of BGR frames) with
    key-frame feature propagation, and write what is asked for.

    - ``out``: overlay MP4 (``mp4v``, the input's fps, the first frame's size) — classes tinted, key frames
      tagged ``KEY`` with an orange border;
    - ``masks``: a folder of ``000000.png``, ``000001.png``, ... — uint8 class index per pixel (0 =
      background), named by source frame index, at the first frame's size;
    - ``stats``: JSON with the per-frame ``key``/``reason``/``signals``/``ms`` and the totals.

    Every output is checked before any work (one that is the input is refused: OutputError).

    ``key_interval``: K (a key frame every K frames, K = 1 is per-frame inference), ``"auto"`` (the
    adaptive policy with its defaults) or a policy object. The artifacts are looked up in ``art_dir`` by
    ``model``/``backend``/``precision``/``ops`` (``part_precision`` overrides the precision per part), unless
    a ready ``propagator`` is given.

    Damaged input does not stop the run: a frame that cannot be decoded or read is skipped with a warning
    naming it (no mask file, no overlay frame) and the next frame starts a new key frame; a frame of
    another size than the first is resized to the first's size (one warning) and starts a new key frame.
    Warnings go to ``warn(message)`` (default: ``warnings.warn`` with :class:`PropagateWarning`).

    Returns the stats (the same dict the JSON holds): ``frames``, ``key_frames``, ``key_indices``,
    ``skipped``, ``median_ms`` / ``mean_ms`` per frame and ``fps`` = 1000 / ``mean_ms`` (the loop's own
    work: resizing, the graphs, the mask; decoding and writing are not counted, ``wall_s`` is the whole run),
    ``median_ms_by_part``, the policy and artifacts used, and ``per_frame``.
    """
    masks = Path(masks) if masks is not None else None
    if masks is not None:
        _check_masks_dir(masks)
    src = open_source(video, max_frames, error=PropagateError)
    outputs = Outputs(out, masks, {"--stats": stats}, inputs=[video], error=PropagateError)
    policy = make_policy(key_interval)
    if propagator is None:
        propagator = Propagator.from_dir(art_dir, model, backend, precision, ops, policy, threads, part_precision,
                                         aggregate=aggregate)
    else:
        propagator.policy = policy
        propagator.reset()
    prop = propagator
    pending: list[str] = []      # "after-skip" once a frame was skipped, until the next frame is stepped

    def step(i, frame, why):
        res = prop.step(frame, force_key=(pending[0] if pending else None) or ("size-change" if why else False))
        res.index = i
        pending.clear()
        return res

    def skip(i, why):
        pending[:] = ["after-skip"]

    t_start = time.perf_counter()
    with outputs:
        r = run(src, step, skip=skip, draw=lambda i, frame, res: draw_overlay(frame, res, prop.classes),
                mask=lambda res: res.mask, outputs=outputs, progress=progress,
                label=f"propagate {Path(src.name).name}", warn=warner(warn, PropagateWarning),
                on_skip="skipped (the next frame starts a new key frame)")
        result = _summary([x.record() for x in r.results], r.skipped, {
            "video": src.name, "model": prop.artifacts.model, "backend": backend,
            "artifacts": {p: str(v) for p, v in prop.artifacts.paths().items()},
            "precisions": prop.artifacts.precisions, "policy": prop.policy.describe(),
            "frame_size": [int(r.size[0]), int(r.size[1])], "fps_in": round(src.fps, 3),
            "wall_s": round(time.perf_counter() - t_start, 3)})
        outputs.write("--stats", result)
    return result
