"""Recipe: MobileNetV2(-DCN) trained on rotation prediction of real photos and video frames.

Rotation prediction (is this crop upright, or turned 90/180/270 degrees?) is a self-supervised
task with exact labels that needs object-level cues, so the features are useful downstream and
int8 exports can be judged on a real accuracy. Data: the opencv-doc photos and videos; the
held-out split (see :mod:`edgecv.data`) is never trained on.
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


def load_pool(split: str, frame_step: int = 15, max_side: int = 640) -> list[np.ndarray]:
    pool = []
    for p in data.photos(split):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is not None:
            pool.append(img)
    for v in data.videos(split):
        pool.extend(data.read_frames(v, step=frame_step))
    out = []
    for img in pool:
        s = max_side / max(img.shape[:2])
        out.append(cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img)
    return out


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, augment: bool = True) -> np.ndarray:
    h, w = img.shape[:2]
    side = int(min(h, w) * (rng.uniform(0.35, 1.0) if augment else 0.8))
    y = rng.integers(0, h - side + 1)
    x = rng.integers(0, w - side + 1)
    crop = cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    if augment:
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = crop.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)
        crop = crop * rng.uniform(0.85, 1.15, size=3)  # per-channel colour gain
        if rng.random() < 0.2:
            crop = cv2.GaussianBlur(crop, (5, 5), rng.uniform(0.5, 1.5))
        crop = np.clip(crop, 0, 255)
    return crop.astype(np.float32)


def make_batch(pool, n: int, size: int, rng, augment=True):
    xs, ys = [], []
    for _ in range(n):
        crop = random_crop(pool[rng.integers(len(pool))], size, rng, augment)
        k = int(rng.integers(4))
        xs.append(np.rot90(crop, k).copy())  # counter-clockwise k*90 degrees
        ys.append(k)
    x = torch.from_numpy(np.stack(xs)[..., ::-1].copy()).permute(0, 3, 1, 2) / 255.0
    return x.contiguous(), torch.tensor(ys)


def heldout_batch(size: int, n_crops: int = 8, seed: int = 123):
    """Fixed evaluation set: crops of held-out photos and frames, each in all 4 rotations."""
    rng = np.random.default_rng(seed)
    pool = load_pool("heldout", frame_step=40)
    xs, ys = [], []
    for img in pool:
        for _ in range(n_crops):
            crop = random_crop(img, size, rng, augment=False)
            for k in range(4):
                xs.append(np.rot90(crop, k).copy())
                ys.append(k)
    x = torch.from_numpy(np.stack(xs)[..., ::-1].copy()).permute(0, 3, 1, 2) / 255.0
    return x.contiguous(), torch.tensor(ys)


@torch.no_grad()
def evaluate(model, x, y, batch: int = 128) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def train(name: str = "mnv2-dcn", minutes: float = 6.0, steps: int | None = None, batch: int = 32,
          lr: float = 0.05, seed: int = 0, out_dir=None, save: bool = True, progress: bool = True):
    """Train ``name`` from scratch; stops after ``steps`` or ``minutes``; returns (model, info)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = create_model(name, pretrained=False)
    size = model.input_size
    pool = load_pool("train")
    xv, yv = heldout_batch(size)
    total = steps or 10 ** 9
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=4e-5, nesterov=True)
    budget = minutes * 60.0
    t0 = time.time()
    bar = tqdm(total=steps, desc=f"train {name}", disable=not progress, unit="step")
    step, loss_ema = 0, None
    while step < total:
        frac = step / total if steps else (time.time() - t0) / budget
        if frac >= 1.0:
            break
        for g in opt.param_groups:  # cosine schedule over the step or time budget, short warm-up
            g["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0)))
        model.train()
        x, y = make_batch(pool, batch, size, rng)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss_ema:.3f}")
    bar.close()
    acc = evaluate(model, xv, yv)
    info = {"model": name, "task": "rotation prediction (4 classes)", "steps": step, "batch": batch,
            "seconds": round(time.time() - t0, 1), "seed": seed, "train_images": len(pool),
            "heldout_samples": len(xv), "heldout_top1": round(acc, 4),
            "recipe": f"edgecv train {name} --minutes {minutes}" if not steps else
                      f"edgecv train {name} --steps {steps}"}
    if progress:
        print(f"{name}: {step} steps, held-out top-1 {acc:.3f} on {len(xv)} crops")
    if save:
        save_weights(model.eval(), name, info, out_dir)
    return model.eval(), info
