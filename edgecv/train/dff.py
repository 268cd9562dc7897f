"""Recipe: Deep Feature Flow for person segmentation (``dff-seg``, ``dff-seg-nodcn``, ``dff-seg-lite0``,
``dff-seg-ctx``, ``dff-seg-fast``), in three stages (``dff-seg-lite0`` starts its flow net from ``dff-seg``'s and
skips the first; ``dff-seg-ctx`` starts from ``dff-seg-lite0`` whole and runs the third alone, its feature net
frozen; ``dff-seg-fast`` the same from ``dff-seg-ctx``, less the stride-8 flow level it does not have;
``dff-seg-thin`` from ``dff-seg-fast``'s flow net with a fresh 32-channel squeeze (PCA-initialised), scale map,
fusion and head: the second stage on those alone, then the third, both distilled from ``dff-seg-fast``'s per-frame
logits).

All on composite clips of real people over real backgrounds (:mod:`edgecv.train.clips`), whose labels
and flow are exact; training crops are 128×160 windows at the 256×320 frame scale (the nets are fully
convolutional and export at 256×320).

1. ``flow``: the light flow net alone, multi-scale end-point error against the exact flow at the
   feature grid (FlyingChairs-style pretraining).
2. ``frame``: feature net + task head per frame (the trunk starts from the shipped ``mnv2-dcn``
   classifier), cross-entropy with the person class up-weighted.
3. ``dff``: end to end as DFF trains: key and current frame up to ``max_gap`` apart, the key's features
   warped by the predicted flow, loss on the current frame's labels; a quarter of the pairs have
   gap 0 so per-frame inference (K = 1) stays as good as it was.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from edgecv.eval.propagate import Confusion

from ..models import create_model
from ..models.dff import STRIDE, TRUNKS
from ..models.registry import save_weights
from .clips import ClipSampler, flow_to_feature_grid

CROP = (128, 160)
CLASS_WEIGHT = (1.0, 3.0)
FLOW_FROM = {"dff-seg-lite0": "dff-seg"}  # variants that share dff-seg's flow net start from its trained flow
TRUNK_LR_SCALE = {"dff-seg-lite0": 0.3}   # ImageNet trunks: a gentler learning rate than the new layers'
# variants that start as a whole from another's trained weights and train the dff stage alone, the feature net
# frozen (its key-frame features stay the source's): the context head learns to correct propagated features
FINETUNE_FROM = {"dff-seg-ctx": "dff-seg-lite0", "dff-seg-fast": "dff-seg-ctx", "dff-seg-thin": "dff-seg-fast"}
# key → current gaps of the dff stage (default 9: key intervals up to 10)
MAX_GAP = {"dff-seg-ctx": 14, "dff-seg-fast": 20, "dff-seg-thin": 20}
# variants whose zero-gap pairs train the key-frame path exactly as the runtime runs it (zero flow, unit scale): a
# scale map learned at stride 16 is far from 1 even on identical frames, and a head that never saw unit scale lost
# 3 points per frame (0.8335 against dff-seg-ctx's 0.863) in a first run without this
KEY_PATH = {"dff-seg-fast", "dff-seg-thin"}
# the share of a fine-tune's steps spent first on the per-frame path alone (lr 1e-3) when its head starts fresh (a
# variant that squeezes the features, dff-seg-thin, has new head, fusion and scale layers at its own width)
FRESH_HEAD_FRAME_SHARE = 1 / 6
# variants that also learn from a teacher's per-frame answer on the current frame (soft labels at the feature grid,
# KL divergence, weight KD_WEIGHT): the teacher shares the frozen feature net, so its features cost nothing extra
# on the key frame and one feature pass on the current frame
DISTILL = {"dff-seg-thin": "dff-seg-fast"}
KD_WEIGHT = 1.0


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) BGR uint8 → (N, 3, H, W) RGB float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames[..., ::-1].transpose(0, 3, 1, 2))).float() / 255.0


class ClipBank:
    """A pool of pre-rendered clips, refreshed a few at a time (rendering is the slow part)."""

    def __init__(self, sampler: ClipSampler, size, length: int, n: int, rng):
        self.sampler, self.size, self.length, self.rng = sampler, size, length, rng
        self.clips = [sampler.sample(size, length) for _ in range(n)]

    def refresh(self, k: int = 2):
        for _ in range(k):
            self.clips[int(self.rng.integers(len(self.clips)))] = self.sampler.sample(self.size, self.length)

    def pairs(self, n: int, max_gap: int, zero_frac: float = 0.0):
        """n (key, current, labels of current, exact flow current → key at the feature grid)."""
        keys, curs, labs, flows = [], [], [], []
        for _ in range(n):
            c = self.clips[int(self.rng.integers(len(self.clips)))]
            gap = 0 if self.rng.random() < zero_frac else int(self.rng.integers(1, max_gap + 1))
            k = int(self.rng.integers(0, self.length - gap))
            t = k + gap
            if self.rng.random() < 0.5:  # backward in time as well
                k, t = t, k
            keys.append(c.frames[k])
            curs.append(c.frames[t])
            labs.append(c.labels[t])
            flows.append(flow_to_feature_grid(c.flow(t, k), STRIDE))
        return (_to_tensor(np.stack(keys)), _to_tensor(np.stack(curs)), torch.from_numpy(np.stack(labs)).long(),
                torch.from_numpy(np.stack(flows)))


def epe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(pred - gt, dim=1).mean()


def multiscale_flow_loss(flows, gt):
    """EPE at the feature grid, 1/2 and 1/4 of it (ground truth averaged down, in that level's pixels)."""
    loss = 0.0
    for i, (f, w) in enumerate(zip(flows, (1.0, 0.5, 0.25))):
        g = F.adaptive_avg_pool2d(gt, f.shape[-2:]) / (2 ** i) if i else gt
        loss = loss + w * epe(f, g)
    return loss


def kd_loss(student, teacher):
    """Mean per-cell KL(teacher ‖ student) of the class distributions at the feature grid."""
    t = F.softmax(teacher, 1)
    return (t * (F.log_softmax(teacher, 1) - F.log_softmax(student, 1))).sum(1).mean()


def seg_loss(logits, labels):
    up = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(up, labels, weight=torch.tensor(CLASS_WEIGHT))


def heldout_clips(n: int = 12, length: int = 12, size=(256, 320), seed: int = 7):
    """The held-out evaluation clips (people, backgrounds and patches from the held-out split only)."""
    sampler = ClipSampler("heldout", seed=seed)
    return [sampler.sample(size, length) for _ in range(n)]


@torch.no_grad()
def evaluate(model, clips, intervals=(1, 2, 5, 10)) -> dict:
    """Person-segmentation mIoU of per-frame inference and of DFF at fixed key intervals, and flow EPE
    at the feature grid, on full-size held-out clips (PyTorch; the runtime has its own evaluation)."""
    from ..models.dff import frames_to_tensor

    model.eval()
    res = {}
    epes = []
    for k_int in intervals:
        conf = Confusion()
        for c in clips:
            frames = frames_to_tensor(c.frames)
            feats = None
            for t in range(len(frames)):
                if t % k_int == 0:
                    key_t, feats = t, model.key_features(frames[t:t + 1])
                    logits = model.per_frame(frames[t:t + 1], feats)
                else:
                    flow, scale, *ctx = model.flow(frames[key_t:key_t + 1], frames[t:t + 1], context=model.context)
                    logits = model.warp_head(feats, flow, scale, *ctx)
                    if k_int == max(intervals):
                        gt = torch.from_numpy(flow_to_feature_grid(c.flow(t, key_t), STRIDE))[None]
                        epes.append(float(epe(flow, gt)))
                up = F.interpolate(logits, size=c.labels.shape[1:], mode="bilinear", align_corners=False)
                conf.add(up.argmax(1)[0].numpy(), c.labels[t])
        res[f"miou_k{k_int}"] = round(conf.miou(), 4)
        res[f"person_iou_k{k_int}"] = round(float(conf.iou()[1]), 4)
    res["flow_epe_feature_px"] = round(float(np.mean(epes)), 4) if epes else None
    return res


@torch.no_grad()
def _init_squeeze_pca(model, source, rng, crops: int = 48):
    """The squeeze 1×1 starts as the projection on the frozen features' top principal components (centred), so the
    fresh head starts from the most of the features that the width keeps."""
    sampler = ClipSampler("train", seed=int(rng.integers(1 << 30)), person_height=(20, 90))
    frames = np.stack([sampler.sample(CROP, 1).frames[0] for _ in range(crops)])
    source.eval()
    f = source.feature(_to_tensor(frames))
    x = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()
    mean = x.mean(0)
    _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
    w = v[: model.squeeze.out_channels].float()
    model.squeeze.weight.copy_(w[:, :, None, None])
    model.squeeze.bias.copy_(-(w @ mean.float()))


def train(name: str = "dff-seg", steps: int = 3600, seed: int = 0, out_dir=None, save: bool = True,
          progress: bool = True, minutes: float | None = None, stage_steps=None, eval_clips: int = 12,
          finetune_from: str | None = None, max_gap: int | None = None):
    """Train ``name`` through the three stages; ``steps`` is split 60/20/20 (the flow steps are ~6× cheaper)
    unless ``stage_steps`` is given as (flow, frame, dff). A variant in ``FINETUNE_FROM`` (or any, given
    ``finetune_from``) starts from that model's weights and runs the dff stage alone with the feature net frozen.
    Returns (model, info)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    model = create_model(name, pretrained=False)
    finetune_from = finetune_from or FINETUNE_FROM.get(name)
    if not finetune_from:  # a fine-tuned variant takes every trained layer from its source below
        model.init_from_classifier()
    n_flow, n_frame, n_dff = stage_steps or (int(steps * 0.6), int(steps * 0.2), steps - int(steps * 0.6)
                                             - int(steps * 0.2))
    flow_from = FLOW_FROM.get(name)
    if flow_from:  # the same flow net: start from its trained weights, skip the flow stage, split steps 50/50
        model.flow.load_state_dict(create_model(flow_from, pretrained=True).flow.state_dict())
        if not stage_steps:
            n_flow, n_frame, n_dff = 0, steps // 2, steps - steps // 2
    if finetune_from:  # everything from the source; new layers (the context fusion) keep their fresh init
        source = create_model(finetune_from, pretrained=True).state_dict()
        own = model.state_dict()
        # layers the source has and this variant dropped (dff-seg-fast matches no stride-8 level), or has at another
        # width (dff-seg-thin's head, fusion and scale map at 32 channels): those start fresh
        dropped = [k for k, v in source.items() if k not in own or own[k].shape != v.shape]
        missing, unexpected = model.load_state_dict({k: v for k, v in source.items() if k not in dropped},
                                                    strict=False)
        fresh = ("fusion.", "warp_head.fusion.") + (("squeeze.",) if model.squeeze is not None else ())
        if unexpected or not all(k.startswith(fresh) or k in dropped for k in missing):
            raise RuntimeError(f"{finetune_from} → {name}: unexpected {unexpected}, missing {missing}")
        if dropped:  # the scale map now reads another decoder or width: start it at 1 rather than from old weights
            torch.nn.init.zeros_(model.flow.scale.weight)
            torch.nn.init.zeros_(model.flow.scale.bias)
        n_flow, n_frame, n_dff = 0, 0, steps
        if model.squeeze is not None:  # a fresh head: the per-frame path first, then DFF pairs
            n_frame = int(steps * FRESH_HEAD_FRAME_SHARE)
            n_dff = steps - n_frame
            _init_squeeze_pca(model, create_model(finetune_from, pretrained=True), rng)
        for prm in model.feature.parameters():
            prm.requires_grad_(False)
    teacher = None
    if DISTILL.get(name) and finetune_from:
        teacher = create_model(DISTILL[name], pretrained=True).eval()
        for prm in teacher.parameters():
            prm.requires_grad_(False)
        if any(not torch.equal(a, b) for a, b in zip(teacher.feature.state_dict().values(),
                                                      model.feature.state_dict().values())):
            raise RuntimeError(f"{name}: the teacher {DISTILL[name]} does not share the frozen feature net")
    max_gap = max_gap or MAX_GAP.get(name, 9)
    sampler = ClipSampler("train", seed=seed, person_height=(20, 90))
    bank = ClipBank(sampler, CROP, max(10, max_gap + 1), 240, rng)
    info = {"model": name, "task": "person segmentation (0 background, 1 person) on composite clips of real "
            "people over real backgrounds", "seed": seed, "crop": list(CROP), "class_weight": list(CLASS_WEIGHT),
            "stages": {}}
    budget = None if minutes is None else minutes * 60
    if not finetune_from:
        info["init"] = {"trunk": TRUNKS[model.trunk_name], "flow": flow_from or "random"}
    else:
        info["init"] = {"all": f"{finetune_from} (shipped weights) but for the fresh layers; feature net frozen"
                        + (f" and not saved here: loaded from {model.features_from}.pt"
                           if model.features_from else ""),
                        "context fusion": "fresh" if not model.fusion or "fusion.out.weight" not in source
                        or "fusion.out.weight" in dropped else f"{finetune_from}'s"}
        if model.squeeze is not None:
            info["init"]["squeeze"] = "PCA of the frozen features on training crops (top components)"
            info["init"]["fresh"] = sorted({k.split(".")[0] + "." + k.split(".")[1] for k in dropped})
    info["max_gap"] = max_gap
    if teacher is not None:
        info["distilled_from"] = f"{DISTILL[name]} (its per-frame logits on the current frame, KL weight {KD_WEIGHT})"

    def run_stage(stage, n, params, lr, step_fn):
        """``params``: a list of tensors, or of param groups with an ``lr_scale`` (pretrained trunks learn slower)."""
        if n <= 0:
            return
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        scales = [g.pop("lr_scale", 1.0) for g in groups]
        params = [p for g in groups for p in g["params"]]
        opt = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)
        bar = tqdm(total=n, desc=f"{name} {stage}", disable=not progress, unit="step")
        ema, ts = None, time.time()
        done = 0
        for step in range(n):
            for g, scale in zip(opt.param_groups, scales):
                g["lr"] = scale * lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / n))
            model.train()
            if finetune_from:  # frozen feature net: its batch-norm statistics stay the source's too
                model.feature.eval()
            loss = step_fn()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            bank.refresh(1)
            ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.3f}")
            done = step + 1
            if budget is not None and time.time() - t0 > budget:
                break
        bar.close()
        info["stages"][stage] = {"steps": done, "lr": lr, "final_loss_ema": round(ema, 4),
                                 "seconds": round(time.time() - ts, 1)}

    def flow_step():
        k, c, _, gt = bank.pairs(16, 8, zero_frac=0.05)
        _, _, flows = model.flow(k, c, all_scales=True)
        return multiscale_flow_loss(flows, gt)

    def teacher_logits(feat, c):
        """The teacher's per-frame logits on ``c`` from its (shared, frozen) features ``feat``."""
        with torch.no_grad():
            return teacher.per_frame(c, feat)

    def frame_step():
        _, c, lab, _ = bank.pairs(16, 1)
        if teacher is None:
            return seg_loss(model.per_frame(c), lab)
        feat = model.feature(c)
        logits = model.per_frame(c, model.squeezed(feat))
        return seg_loss(logits, lab) + KD_WEIGHT * kd_loss(logits, teacher_logits(feat, c))

    def dff_step():
        k, c, lab, gt = bank.pairs(8, max_gap, zero_frac=0.25)
        flow, scale, *ctx, flows = model.flow(k, c, all_scales=True, context=model.context)
        if name in KEY_PATH:  # a key frame (key is current): the head gets zero flow and unit scale, as at run time
            key = (k == c).flatten(1).all(1).view(-1, 1, 1, 1)
            flow, scale = torch.where(key, 0.0, flow), torch.where(key, 1.0, scale)
        if teacher is None:
            feats = model.key_features(k)
        else:  # one pass of the frozen feature net over both frames: the student's key, the teacher's current
            both = model.feature(torch.cat([k, c]))
            feats = model.squeezed(both[:len(k)])
        logits = model.warp_head(feats, flow, scale, *ctx)
        # keep the flow anchored to true motion while the task loss shapes it (DFF trains it end to end)
        loss = seg_loss(logits, lab) + 0.05 * multiscale_flow_loss(flows, gt)
        if teacher is not None:
            loss = loss + KD_WEIGHT * kd_loss(logits, teacher_logits(both[len(k):], c))
        return loss

    run_stage("flow", n_flow, list(model.flow.parameters()), 4e-3, flow_step)
    trunk_scale = TRUNK_LR_SCALE.get(name, 1.0)
    trunk = list(model.feature.trunk.parameters())
    in_trunk = {id(p) for p in trunk}
    rest = [p for p in list(model.feature.parameters()) + list(model.head.parameters()) if id(p) not in in_trunk]
    if finetune_from:  # the frozen feature net has nothing to learn; a fresh head learns with its squeeze and fusion
        rest = [p for m in (model.squeeze, model.fusion, model.head) if m is not None for p in m.parameters()]
    run_stage("frame", n_frame, [{"params": trunk, "lr_scale": trunk_scale}, {"params": rest}], 1e-3, frame_step)
    others = [p for p in model.parameters() if id(p) not in in_trunk and p.requires_grad]
    groups = [{"params": others}] + ([] if finetune_from else [{"params": trunk, "lr_scale": trunk_scale}])
    run_stage("dff", n_dff, groups, 3e-4, dff_step)
    model.eval()
    if progress:
        print("evaluating on held-out clips ...", flush=True)
    info["heldout"] = evaluate(model, heldout_clips(eval_clips))
    info["heldout_clips"] = f"{eval_clips} clips × 12 frames at 256×320, held-out people/backgrounds, seed 7"
    info["seconds"] = round(time.time() - t0, 1)
    info["recipe"] = f"edgecv train {name} --steps {steps} --seed {seed}"
    if finetune_from:
        info["recipe"] += f" (after {finetune_from})"
    if progress:
        print(f"{name}: {info['heldout']}")
    if save:  # a frozen feature net that is the shipped source's exactly is not saved twice
        same = bool(finetune_from and model.features_from)
        if same:
            from ..models.registry import shipped_state

            base = shipped_state(model.features_from)
            own = model.feature.state_dict()
            if any(not torch.equal(own[k], base[f"feature.{k}"]) for k in own):
                raise RuntimeError(f"{name}: the frozen feature net drifted from {model.features_from}.pt")
        save_weights(model, name, info, out_dir, skip=("feature.",) if same else ())
    return model, info
