"""Recipe: the exemplar-based video colorizer (``excolor``) on real colour video and photos.

Each sample is a short sequence of T frames (grey L in, true ab as the target) and a colour reference:
- **real video** (training 70% of Megamind.avi, tree.avi, vtest.avi): frames ``s`` apart, the reference
  another frame of the same video up to ``REF_GAP`` frames away (the exemplar resembles the shot, as
  in the task), possibly mirrored; the temporal term uses DIS optical flow between the true colour
  frames;
- **real photos** (training 70% strip of every photo) under a synthetic camera path (pan, zoom, small
  rotation): exact flow; the reference is another view of the same photo.
With probability ``HUE_P`` the whole sample (frames and reference) has its hue rotated and saturation
scaled, so colours cannot be guessed from grey levels and must be copied from the reference.

Losses per frame: L1 on ab (half resolution), L1 of the correspondence's warped ab against the true ab
on the match grid (teaches matching directly), an edge-aware smoothness term, and a temporal term —
each output against the previous output warped by the flow, where the truth itself is consistent.
The previous ab is the model's own previous output (detached), zeros on the first frame and, with
probability ``PREV_DROP``, later (so the model also runs without recurrence). No adversarial term.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edgecv.runtime.colorize import lab as labc

from .. import data
from ..models import create_model
from ..models.colorizer import REF_H, REF_W, STRIDE
from ..models.registry import save_weights

T = 3
CROP = (128, 160)
REF_GAP = 40
HUE_P = 0.5
PREV_DROP = 0.2
VIDEOS = ("Megamind.avi", "tree.avi", "vtest.avi")
W_AUX, W_SMOOTH, W_TEMP = 0.5, 0.02, 0.5


def _resize(img):
    return cv2.resize(img, (REF_W, REF_H), interpolation=cv2.INTER_AREA)


def _lab_norm(bgr):
    lab = labc.bgr_to_lab(bgr)
    return labc.normalize_l(lab[..., 0]), labc.normalize_ab(lab[..., 1:])


def _hue(ab, angle, sat):
    c, s = np.cos(angle) * sat, np.sin(angle) * sat
    return np.stack([c * ab[..., 0] - s * ab[..., 1], s * ab[..., 0] + c * ab[..., 1]], -1).astype(np.float32)


def _affine(cx, cy, angle, scale, tx, ty):
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[:, 2] += (tx, ty)
    return np.vstack([m, [0, 0, 1]])


class SequenceSampler:
    """Draws (L (T,1,H,W), ab (T,2,H,W), ref Lab (3,H,W), flow t→t-1 (T,2,H,W), flow valid (T,1,H,W))."""

    def __init__(self, split: str = "train", seed: int = 0, videos=VIDEOS):
        self.rng = np.random.default_rng(seed)
        self.videos = [[_resize(f) for f in data.video_part(v, split)] for v in videos]
        self.photos = [im for _, _, im in data.photo_parts(split) if min(im.shape[:2]) >= 120]
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.gx, self.gy = np.meshgrid(np.arange(REF_W, dtype=np.float32), np.arange(REF_H, dtype=np.float32))

    def _video(self):
        frames = self.videos[int(self.rng.integers(len(self.videos)))]
        step = int(self.rng.integers(1, 3))
        t0 = int(self.rng.integers(0, len(frames) - step * (T - 1)))
        seq = [frames[t0 + i * step] for i in range(T)]
        r = int(np.clip(t0 + self.rng.integers(-REF_GAP, REF_GAP + 1), 0, len(frames) - 1))
        ref = frames[r]
        if self.rng.random() < 0.5:
            ref = ref[:, ::-1]
        flows = [np.zeros((REF_H, REF_W, 2), np.float32)]
        for i in range(1, T):
            g1, g0 = (cv2.cvtColor(seq[j], cv2.COLOR_BGR2GRAY) for j in (i, i - 1))
            flows.append(self.dis.calc(g1, g0, None))
        return seq, ref, flows

    def _photo_view(self, img, scale_range):
        h, w = img.shape[:2]
        s = max(REF_W / w, REF_H / h) * self.rng.uniform(*scale_range)  # photo → frame scale
        cx, cy = self.rng.uniform(0.3, 0.7) * w, self.rng.uniform(0.3, 0.7) * h
        m = _affine(0, 0, 0, 1, 0, 0)
        m[:2, :2] *= s
        m[:2, 2] = (REF_W / 2 - s * cx, REF_H / 2 - s * cy)
        return m

    def _photo(self):
        img = self.photos[int(self.rng.integers(len(self.photos)))]
        base = self._photo_view(img, (1.0, 1.6))
        d = _affine(REF_W / 2, REF_H / 2, self.rng.uniform(-2, 2), self.rng.uniform(0.97, 1.03),
                    *self.rng.uniform(-8, 8, 2))
        mats = [base]
        for _ in range(1, T):
            mats.append(d @ mats[-1])
        seq = [cv2.warpAffine(img, m[:2], (REF_W, REF_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
               for m in mats]
        ref = cv2.warpAffine(img, self._photo_view(img, (0.9, 1.4))[:2], (REF_W, REF_H), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        flows = [np.zeros((REF_H, REF_W, 2), np.float32)]
        pts = np.stack([self.gx, self.gy, np.ones_like(self.gx)], -1)
        for i in range(1, T):
            m = mats[i - 1] @ np.linalg.inv(mats[i])  # frame i → frame i-1
            dst = pts @ m[:2].T
            flows.append((dst - pts[..., :2]).astype(np.float32))
        return seq, ref, flows

    def sample(self):
        seq, ref, flows = self._video() if self.videos and self.rng.random() < 0.6 else self._photo()
        ls, abs_ = zip(*[_lab_norm(f) for f in seq])
        rl, rab = _lab_norm(np.ascontiguousarray(ref))
        if self.rng.random() < HUE_P:
            angle, sat = self.rng.uniform(-np.pi, np.pi), self.rng.uniform(0.7, 1.5)
            abs_ = [_hue(a, angle, sat) for a in abs_]
            rab = _hue(rab, angle, sat)
        ls = np.stack(ls)[:, None]
        abs_ = np.stack(abs_).transpose(0, 3, 1, 2)
        ref_lab = np.concatenate([rl[None], rab.transpose(2, 0, 1)], 0)
        flow = np.stack(flows).transpose(0, 3, 1, 2)
        return ls, abs_, ref_lab, flow

    def batch(self, n, crop=None):
        """n samples stacked; ``crop`` (h, w): one window of the frames and flows per sample (same scale,
        less area — the reference stays whole, as in use)."""
        items = [self.sample() for _ in range(n)]
        if crop is not None:
            ch, cw = crop
            out = []
            for ls, abs_, ref, flow in items:
                y, x = int(self.rng.integers(0, REF_H - ch + 1)), int(self.rng.integers(0, REF_W - cw + 1))
                win = (Ellipsis, slice(y, y + ch), slice(x, x + cw))
                out.append((ls[win], abs_[win], ref, flow[win]))
            items = out
        return [torch.from_numpy(np.ascontiguousarray(np.stack(x))).float() for x in zip(*items)]


def warp(x, flow):
    """Sample ``x`` at ``p + flow(p)`` (flow in x's pixels); also returns the in-frame mask."""
    n, _, h, w = x.shape
    gy, gx = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    px, py = gx + flow[:, 0], gy + flow[:, 1]
    grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], -1)
    inside = ((px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)).float()[:, None]
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True), inside


def _half_flow(flow):
    return F.avg_pool2d(flow, 2) * 0.5


def sequence_loss(model, ls, abs_, ref_lab, flow, rng, parts=None):
    """Unrolls the recurrence over the T frames of a batch and returns the total loss (and its parts)."""
    n = ls.shape[0]
    ref_feat, ref_ab = model.encode_reference(ref_lab)
    prev = torch.zeros(n, 2, ls.shape[-2] // 2, ls.shape[-1] // 2)
    total, parts = 0.0, parts if parts is not None else {}
    prev_gt = prev_out = None
    for t in range(ls.shape[1]):
        l_n, gt = ls[:, t], F.avg_pool2d(abs_[:, t], 2)
        if t and rng.random() < PREV_DROP:
            prev = torch.zeros_like(prev)
        ab, conf, warped = model.frame(l_n, ref_feat, ref_ab, prev)
        rec = (ab - gt).abs().mean()
        aux = (warped - F.avg_pool2d(abs_[:, t], STRIDE)).abs().mean()
        l2 = F.avg_pool2d(l_n, 2)
        wx = torch.exp(-10 * (l2[..., :, 1:] - l2[..., :, :-1]).abs())
        wy = torch.exp(-10 * (l2[..., 1:, :] - l2[..., :-1, :]).abs())
        smooth = ((ab[..., :, 1:] - ab[..., :, :-1]).abs() * wx).mean() + \
                 ((ab[..., 1:, :] - ab[..., :-1, :]).abs() * wy).mean()
        loss = rec + W_AUX * aux + W_SMOOTH * smooth
        parts["l1"] = parts.get("l1", 0.0) + float(rec.detach()) / ls.shape[1]
        if t:
            f2 = _half_flow(flow[:, t])
            prev_w, inside = warp(prev_out, f2)
            gt_w, _ = warp(prev_gt, f2)
            valid = inside * ((gt_w - gt).abs().sum(1, keepdim=True) < 0.06).float()
            temp = ((ab - prev_w).abs() * valid).sum() / (2 * valid.sum() + 1.0)
            loss = loss + W_TEMP * temp
            parts["temporal"] = parts.get("temporal", 0.0) + float(temp.detach()) / (ls.shape[1] - 1)
        total = total + loss
        prev_out, prev_gt = ab.detach(), gt
        prev = prev_out
    return total / ls.shape[1], parts


@torch.no_grad()
def evaluate(model, sampler: SequenceSampler, n: int = 48) -> dict:
    """Held-out L1 of ab (Lab units) of the model, of the copied (warped) reference ab alone, and of
    grey (ab = 0), on sequences drawn from the held-out split (PyTorch; the runtime has its own eval)."""
    model.eval()
    m, w, g = [], [], []
    for _ in range(n):
        ls, abs_, ref_lab, _ = (torch.from_numpy(np.ascontiguousarray(a)).float() for a in sampler.sample())
        ref_feat, ref_ab = model.encode_reference(ref_lab[None])
        prev = torch.zeros(1, 2, ls.shape[-2] // 2, ls.shape[-1] // 2)
        for t in range(ls.shape[0]):
            ab, _, warped = model.frame(ls[t:t + 1], ref_feat, ref_ab, prev)
            gt = F.avg_pool2d(abs_[t:t + 1], 2)
            m.append(float((ab - gt).abs().mean()))
            w.append(float((F.interpolate(warped, size=gt.shape[-2:], mode="bilinear") - gt).abs().mean()))
            g.append(float(gt.abs().mean()))
            prev = ab
    s = labc.AB_SCALE
    return {"ab_l1": round(float(np.mean(m)) * s, 3), "warped_ref_ab_l1": round(float(np.mean(w)) * s, 3),
            "grey_ab_l1": round(float(np.mean(g)) * s, 3)}


def train(name: str = "excolor", steps: int = 1500, seed: int = 0, out_dir=None, save: bool = True,
          progress: bool = True, minutes: float | None = None, batch: int = 4, lr: float = 2e-3):
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    model = create_model(name, pretrained=False)
    model.init_from_classifier()
    sampler = SequenceSampler("train", seed)
    info = {"model": name, "seed": seed, "batch": batch, "sequence_length": T, "lr": lr,
            "data": "training 70% of Megamind.avi, tree.avi, vtest.avi and of every photo (synthetic camera "
                    f"paths); reference = a frame ≤{REF_GAP} away or another view; hue rotation p={HUE_P}",
            "loss_weights": {"aux_warped": W_AUX, "smooth": W_SMOOTH, "temporal": W_TEMP}, "prev_drop": PREV_DROP}
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    bar = tqdm(total=steps, desc=f"{name}", disable=not progress, unit="step")
    ema = {}
    done = 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + np.cos(np.pi * step / steps))
        model.train()
        parts = {}
        loss, parts = sequence_loss(model, *sampler.batch(batch, CROP), rng, parts)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        for k, v in dict(parts, loss=float(loss)).items():
            ema[k] = v if k not in ema else 0.95 * ema[k] + 0.05 * v
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in ema.items()})
        done = step + 1
        if minutes is not None and time.time() - t0 > minutes * 60:
            break
    bar.close()
    model.eval()
    info.update(steps=done, final_loss_ema={k: round(v, 4) for k, v in ema.items()},
                train_seconds=round(time.time() - t0, 1))
    if progress:
        print("evaluating on held-out sequences ...", flush=True)
    info["heldout"] = evaluate(model, SequenceSampler("heldout", seed=7))
    info["heldout_sequences"] = "48 held-out sequences (last 30% of the videos, held-out photo strips), seed 7"
    info["seconds"] = round(time.time() - t0, 1)
    info["recipe"] = f"edgecv train {name} --steps {steps} --seed {seed}"
    if progress:
        print(f"{name}: {info['heldout']}")
    if save:
        save_weights(model, name, info, out_dir)
    return model, info
