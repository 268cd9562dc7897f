"""Recipe: MobileNetV2(-DCN) trained on scene recognition of real photos and videos.

Each class is one real scene of the opencv-doc samples (a photo, a pair of shots of the same scene,
or a video; see :data:`edgecv.data.SCENES`). Training crops come from the left 70% of each photo
and the first 70% of each video; the rest is the held-out split. Crops are augmented (scale, shift,
flip, small rotation, colour, blur, occlusion), so the net must recognise a scene from an unseen part
of it under a new view — a real task with exact labels on which int8 exports can be judged.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .. import data
from ..models import create_model
from ..models.registry import save_weights


def _shrink(img: np.ndarray, max_side: int = 480) -> np.ndarray:
    s = max_side / max(img.shape[:2])
    return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img


def load_split(split: str):
    items = data.scene_images(split, frame_step=10 if split == "train" else 15)
    return [(c, _shrink(im)) for c, im in items]


def random_view(img: np.ndarray, size: int, rng: np.random.Generator, augment: bool = True) -> np.ndarray:
    """A square crop (random scale and place), with photometric and geometric augmentation."""
    h, w = img.shape[:2]
    side = max(16, int(min(h, w) * (rng.uniform(0.3, 1.0) if augment else 0.7)))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    if augment and rng.random() < 0.5:
        m = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-15, 15), 1.0)
        crop = cv2.warpAffine(crop, m, (side, side), borderMode=cv2.BORDER_REFLECT)
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if augment:
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = crop * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
        crop = crop * rng.uniform(0.85, 1.15, size=3)
        if rng.random() < 0.25:
            crop = cv2.GaussianBlur(crop, (5, 5), rng.uniform(0.5, 1.5))
        if rng.random() < 0.3:  # partial occlusion by a grey block
            oh, ow = (rng.uniform(0.15, 0.4, size=2) * size).astype(int)
            oy, ox = rng.integers(0, size - oh), rng.integers(0, size - ow)
            crop = crop.copy()
            crop[oy:oy + oh, ox:ox + ow] = rng.uniform(0, 255)
        crop = np.clip(crop, 0, 255)
    return np.ascontiguousarray(crop, dtype=np.float32)


def to_tensor(views: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(views)[..., ::-1].copy()).permute(0, 3, 1, 2).contiguous() / 255.0


def make_batch(items, n: int, size: int, rng, augment: bool = True):
    # sample classes uniformly, then an image of that class
    by_class: dict[int, list] = {}
    for c, im in items:
        by_class.setdefault(c, []).append(im)
    classes = sorted(by_class)
    xs, ys = [], []
    for _ in range(n):
        c = classes[int(rng.integers(len(classes)))]
        imgs = by_class[c]
        xs.append(random_view(imgs[int(rng.integers(len(imgs)))], size, rng, augment))
        ys.append(c)
    return to_tensor(xs), torch.tensor(ys)


def heldout_set(size: int, views_per_class: int = 12, seed: int = 123):
    rng = np.random.default_rng(seed)
    return make_batch(load_split("heldout"), views_per_class * len(data.SCENES), size, rng, augment=False)


@torch.no_grad()
def evaluate(model, x, y, batch: int = 128) -> float:
    model.eval()
    pred = torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((pred == y).float().mean())


def train(name: str = "mnv2-dcn", steps: int = 1600, batch: int = 32, lr: float = 0.05, seed: int = 0,
          out_dir=None, save: bool = True, progress: bool = True, minutes: float | None = None):
    """Train ``name`` from scratch for ``steps`` (or until ``minutes`` if given); returns (model, info)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = create_model(name, pretrained=False)
    size = model.input_size
    items = load_split("train")
    xv, yv = heldout_set(size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=4e-5, nesterov=True)
    t0 = time.time()
    bar = tqdm(total=steps, desc=f"train {name}", disable=not progress, unit="step")
    loss_ema = None
    step = 0
    for step in range(steps):
        frac = step / steps
        for g in opt.param_groups:  # linear warm-up, cosine decay
            g["lr"] = lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + np.cos(np.pi * frac))
        model.train()
        x, y = make_batch(items, batch, size, rng)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_ema:.3f}")
        if minutes is not None and time.time() - t0 > minutes * 60:
            break
    bar.close()
    acc = evaluate(model, xv, yv)
    info = {"model": name, "task": f"scene recognition ({len(data.SCENES)} real scenes)",
            "classes": list(data.SCENES), "steps": step + 1, "batch": batch, "lr": lr, "seed": seed,
            "seconds": round(time.time() - t0, 1), "train_images": len(items), "heldout_views": len(xv),
            "heldout_top1": round(acc, 4), "chance": round(1 / len(data.SCENES), 4),
            "recipe": f"edgecv train {name} --steps {steps} --seed {seed}"}
    if progress:
        print(f"{name}: {step + 1} steps in {info['seconds']} s, held-out top-1 {acc:.3f} "
              f"on {len(xv)} views (chance {info['chance']})")
    if save:
        save_weights(model.eval(), name, info, out_dir)
    return model.eval(), info
