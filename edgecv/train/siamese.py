"""Recipes: SiamFC, SA-Siam (semantic branch + fusion weight) and SPM-style trackers on real pairs.

Pairs come from :class:`edgecv.train.pairs.PairSampler` (training split only); a fixed set of
held-out pairs (right 30% of the photos, last 30% of the videos) scores each model: *centre
accuracy*, the fraction of pairs whose best score cell lies within 16 px of the target centre
(chance ≈ 2%), and for SPM the mean IoU of the regressed box.

Losses. SiamFC / SA-Siam: balanced logistic loss on the 25×25 map, cells within 16 px of the target
positive, everything else (same-kind distractors included) negative. SPM: the coarse map treats
target *and* distractors as positives; box regression (IoU loss) at all positive cells; the fine
embedding is trained with a softmax over {target, distractors, background cells}, target only positive.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ..models import create_model
from ..models.registry import save_weights
from ..models.siamese import SCORE, STRIDE, to_input
from .pairs import X_SIZE, PairSampler

CELL = (X_SIZE - 1) / 2 + STRIDE * (np.arange(SCORE) - (SCORE - 1) // 2)  # search pixel of each cell
RADIUS = 16.0


def batch_tensors(pairs):
    z = torch.cat([to_input(p.template) for p in pairs])
    x = torch.cat([to_input(p.search) for p in pairs])
    return z, x


def _dist(box):
    cx, cy = box[0], box[1]
    return np.sqrt((CELL[None, :] - cx) ** 2 + (CELL[:, None] - cy) ** 2)


def label_maps(pairs, distractors_positive: bool):
    """(N,1,25,25) labels and balanced weights."""
    labels = np.zeros((len(pairs), 1, SCORE, SCORE), np.float32)
    for i, p in enumerate(pairs):
        objs = [p.box] + (p.distractors if distractors_positive else [])
        for b in objs:
            labels[i, 0][_dist(b) <= RADIUS] = 1.0
    weights = np.zeros_like(labels)
    for i in range(len(pairs)):
        pos = labels[i] > 0
        npos, nneg = pos.sum(), (~pos).sum()
        weights[i][pos] = 0.5 / max(npos, 1)
        weights[i][~pos] = 0.5 / max(nneg, 1)
        if not distractors_positive:  # distractors are hard negatives: weigh them up
            for b in pairs[i].distractors:
                near = (_dist(b) <= RADIUS) & ~pos[0]
                weights[i][0][near] *= 4.0
    return torch.from_numpy(labels), torch.from_numpy(weights)


def logistic_loss(score, labels, weights):
    return (F.binary_cross_entropy_with_logits(score, labels, reduction="none") * weights).sum() / len(score)


def _nearest_cell(box):
    j = int(np.clip(np.round((box[0] - CELL[0]) / STRIDE), 0, SCORE - 1))
    i = int(np.clip(np.round((box[1] - CELL[0]) / STRIDE), 0, SCORE - 1))
    return i, j


def spm_loss(out, pairs, rng):
    cls, ltrb, fine = out
    labels, weights = label_maps(pairs, distractors_positive=True)
    l_cls = logistic_loss(cls, labels, weights)
    # box regression at positive cells (each cell regresses the object it belongs to)
    tgt = np.zeros((len(pairs), 4, SCORE, SCORE), np.float32)
    mask = np.zeros((len(pairs), SCORE, SCORE), bool)
    for i, p in enumerate(pairs):
        for b in [p.box] + p.distractors:
            near = _dist(b) <= RADIUS
            x1, y1, x2, y2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
            gx, gy = np.meshgrid(CELL, CELL)
            for k, v in enumerate((gx - x1, gy - y1, x2 - gx, y2 - gy)):
                tgt[i, k][near] = np.maximum(v[near], 1.0)
            mask[i] |= near
    tgt_t, mask_t = torch.from_numpy(tgt), torch.from_numpy(mask)
    pred = ltrb.permute(0, 2, 3, 1)[mask_t]
    gt = tgt_t.permute(0, 2, 3, 1)[mask_t]
    inter = (torch.min(pred[:, 0], gt[:, 0]) + torch.min(pred[:, 2], gt[:, 2])) * \
            (torch.min(pred[:, 1], gt[:, 1]) + torch.min(pred[:, 3], gt[:, 3]))
    area_p = (pred[:, 0] + pred[:, 2]) * (pred[:, 1] + pred[:, 3])
    area_g = (gt[:, 0] + gt[:, 2]) * (gt[:, 1] + gt[:, 3])
    iou = inter / (area_p + area_g - inter + 1e-6)
    l_box = (1 - iou).mean() if len(iou) else ltrb.sum() * 0
    # fine stage: pick the target among distractors and background cells
    l_fine = []
    for i, p in enumerate(pairs):
        cells = [_nearest_cell(p.box)] + [_nearest_cell(d) for d in p.distractors]
        far = np.argwhere(np.min([_dist(b) for b in [p.box] + p.distractors], 0) > 3 * RADIUS)
        if len(far):
            cells += [tuple(c) for c in far[rng.choice(len(far), size=min(8, len(far)), replace=False)]]
        logits = torch.stack([fine[i, 0, a, b] for a, b in cells]) * 10.0
        l_fine.append(F.cross_entropy(logits[None], torch.zeros(1, dtype=torch.long)))
    l_fine = torch.stack(l_fine).mean()
    return l_cls + l_box + 0.5 * l_fine, {"cls": l_cls.item(), "box": l_box.item(), "fine": l_fine.item()}


def spm_pick(cls, ltrb, fine, alpha: float = 0.5):
    """The runtime's coarse-to-fine choice, in torch for validation: returns (i, j, box) per sample."""
    out = []
    s = torch.sigmoid(cls[:, 0]) * (1 - alpha) + alpha * (fine[:, 0] + 1) / 2
    for n in range(len(cls)):
        k = int(s[n].argmax())
        i, j = divmod(k, SCORE)
        lft, top, rgt, bot = ltrb[n, :, i, j].tolist()
        cx, cy = CELL[j] + (rgt - lft) / 2, CELL[i] + (bot - top) / 2
        out.append((i, j, (cx, cy, lft + rgt, top + bot)))
    return out


def _iou_cxcywh(a, b):
    ax1, ay1, ax2, ay2 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx1, by1, bx2, by2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw, ih = max(0, min(ax2, bx2) - max(ax1, bx1)), max(0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


@torch.no_grad()
def validate(model, pairs, batch: int = 25) -> dict:
    model.eval()
    hits, ious, distractor_hits, n_with_d = [], [], 0, 0
    kind_ious: dict = {}
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        z, x = batch_tensors(chunk)
        out = model(z, x)
        if isinstance(out, tuple):  # SPM
            picks = spm_pick(*out)
            for p, (i, j, box) in zip(chunk, picks):
                hits.append(_dist(p.box)[i, j] <= RADIUS)
                ious.append(_iou_cxcywh(box, p.box))
                kind_ious.setdefault(p.kind, []).append(ious[-1])
        else:
            for p, m in zip(chunk, out[:, 0]):
                i, j = divmod(int(m.argmax()), SCORE)
                hits.append(_dist(p.box)[i, j] <= RADIUS)
        for p, h in zip(chunk, hits[-len(chunk):]):
            if p.distractors:
                n_with_d += 1
                distractor_hits += int(h)
    res = {"centre_accuracy": round(float(np.mean(hits)), 4),
           "centre_accuracy_with_distractors": round(distractor_hits / max(n_with_d, 1), 4),
           "pairs": len(pairs)}
    if ious:
        res["box_miou"] = round(float(np.mean(ious)), 4)
        res["box_miou_by_kind"] = {k: round(float(np.mean(v)), 4) for k, v in sorted(kind_ious.items())}
    return res


def heldout_pairs(n: int = 300, seed: int = 123):
    sampler = PairSampler("heldout", seed=seed)
    return [sampler.sample() for _ in range(n)]


def _params(model, name):
    if name == "sasiam":  # appearance comes from siamfc, frozen; only the semantic adaptation trains
        return [p for n, p in model.named_parameters() if n.startswith("semantic.") and p.requires_grad]
    return [p for p in model.parameters() if p.requires_grad]


@torch.no_grad()
def choose_lambda(model, pairs) -> tuple[float, dict]:
    """SA-Siam fusion weight λ: the grid value with the best held-out centre accuracy."""
    model.eval()
    maps = []
    for s in range(0, len(pairs), 25):
        z, x = batch_tensors(pairs[s:s + 25])
        za, zs = model.template(z)
        maps.append(model.branch_scores(x, za, zs))
    sa = torch.cat([m[0] for m in maps])
    ss = torch.cat([m[1] for m in maps])
    table = {}
    for lam in np.round(np.linspace(0, 1, 11), 2):
        fused = (1 - lam) * sa + lam * ss
        hits = [_dist(p.box)[divmod(int(m.argmax()), SCORE)] <= RADIUS for p, m in zip(pairs, fused[:, 0])]
        table[float(lam)] = round(float(np.mean(hits)), 4)
    best = max(table, key=lambda k: (table[k], -abs(k - 0.5)))
    return best, table


def train(name: str = "siamfc", steps: int = 1500, batch: int = 16, lr: float = 2e-3, seed: int = 0,
          out_dir=None, save: bool = True, progress: bool = True, minutes: float | None = None,
          val_pairs: int = 300, init: str = "classifier"):
    """Train ``siamfc`` | ``sasiam`` | ``spm`` | ``spm-lite``; returns (model, info).

    SA-Siam needs the shipped siamfc weights (its appearance branch). ``init``: where the backbone
    starts — the shipped ``mnv2-dcn`` scene ``classifier``, or (SPM variants) the shipped ``siamfc``."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = create_model(name, pretrained=False)
    if name == "sasiam":
        model.appearance.load_state_dict(create_model("siamfc", pretrained=True).state_dict(), strict=False)
        for p in model.appearance.parameters():
            p.requires_grad_(False)
        model.semantic.load_classifier()
    elif name.startswith("spm") and init == "siamfc":
        # start from the shipped SiamFC backbone: features already trained for matching, not classes
        own = model.backbone.state_dict()
        src = {k: v for k, v in create_model("siamfc", pretrained=True).backbone.state_dict().items()
               if k in own and own[k].shape == v.shape}
        model.backbone.load_state_dict(src, strict=False)
    else:
        model.backbone.init_from_classifier()
    sampler = PairSampler("train", seed=seed)
    val = heldout_pairs(val_pairs)
    params = _params(model, name)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    t0 = time.time()
    bar = tqdm(total=steps, desc=f"train {name}", disable=not progress, unit="step")
    ema, step = None, 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + np.cos(np.pi * step / steps))
        model.train()
        if name == "sasiam":
            model.appearance.eval()
        pairs = [sampler.sample() for _ in range(batch)]
        z, x = batch_tensors(pairs)
        if name.startswith("spm"):
            loss, parts = spm_loss(model(z, x), pairs, rng)
        else:
            if name == "sasiam":  # the semantic branch trains on its own (the appearance one is frozen)
                score = model.semantic.score(x, model.semantic.template(z))
            else:
                score = model(z, x)
            labels, weights = label_maps(pairs, distractors_positive=False)
            loss = logistic_loss(score, labels, weights)
            parts = {}
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
            "init": init if name.startswith("spm") else "classifier",
            "recipe": f"edgecv train {name} --steps {steps} --seed {seed}"
                      + (f" --init {init}" if init != "classifier" else "")}
    if name == "sasiam":
        lam, table = choose_lambda(model, val)
        model.lam.fill_(lam)
        info["lambda"] = lam
        info["lambda_grid_centre_accuracy"] = table
    info["heldout"] = validate(model, val)
    if progress:
        print(f"{name}: {info['steps']} steps in {info['seconds']} s, held-out {info['heldout']}")
    if save:
        save_weights(model.eval(), name, info, out_dir)
    return model.eval(), info

