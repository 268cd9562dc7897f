"""Siamese trackers: SiamFC, SA-Siam (semantic + appearance with channel attention), SPM-style
coarse-to-fine. Siam-BM is a search strategy (scale and angle candidates) over SA-Siam's network and
lives in the runtime (``edgecv.runtime.track``).

Geometry (all variants): template crop 127², search crop 255², RGB in [0, 1]. The backbone is a
MobileNetV2-0.5 trunk at output stride 8 (stages up to 48 channels, the last one dilated) plus a 1×1
neck to 64 channels, so 127 → 16×16 and 255 → 32×32 features. Like SiamRPN++ we keep the centre 8×8
of the template features (padding makes the border cells depend on their position); the correlation
of 8×8 with 32×32 is a 25×25 score map, one cell per 8 search pixels: cell (i, j) looks at search
pixel (127 + 8(j − 12), 127 + 8(i − 12)).

Each tracker is exported as two static-shape graphs (see ``export_parts``):
``*-template`` (127² crop → template features, run once at init) and ``*-search`` (255² crop and the
template features → score maps, run per frame). The template features are graph *inputs* of the
search graph, so the correlation uses :func:`edgecv.ops.xcorr` (``--ops portable`` gives the
MatMul form TensorRT accepts).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import XCorr, xcorr_depthwise
from .mobilenetv2 import MNV2_SETTINGS, ConvBNAct, MobileNetV2Features
from .registry import ExportSpec, TensorSpec, register_model, weights_path

Z_SIZE, X_SIZE = 127, 255
STRIDE = 8
Z_FEAT, X_FEAT = 16, 32
Z_CROP = 8                      # centre cells of the template features that are correlated
SCORE = X_FEAT - Z_CROP + 1     # 25
NECK = 64


def geometry(search_size: int = X_SIZE) -> dict:
    """The crop/score-map geometry a tracker's manifest carries (the runtime reads it from there).
    Any ``search_size`` of the form 8m + 7 keeps the score map's centre cell on the crop's centre."""
    if search_size % STRIDE != STRIDE - 1 or search_size < Z_SIZE:
        raise ValueError(f"search_size {search_size} must be 8m + 7 and at least {Z_SIZE}")
    score = -(-search_size // STRIDE) - Z_CROP + 1
    return {"template_size": Z_SIZE, "search_size": search_size, "stride": STRIDE, "score_size": score,
            "score_centre": (score - 1) // 2, "context": 0.5, "input": "RGB float [0,1] NCHW"}


GEOMETRY = geometry()


def centre_crop(f: torch.Tensor, size: int = Z_CROP) -> torch.Tensor:
    o = (f.shape[-1] - size) // 2
    return f[:, :, o:o + size, o:o + size]


class TrackBackbone(nn.Module):
    """MobileNetV2-0.5 trunk at stride 8 (the first five stages) + 1×1 neck to ``NECK`` channels."""

    def __init__(self, out_channels: int = NECK, stages: int = 5):
        super().__init__()
        self.trunk = MobileNetV2Features(0.5, output_stride=8, settings=MNV2_SETTINGS[:stages])
        self.neck = ConvBNAct(self.trunk.out_channels, out_channels, 1, act=False)

    def forward(self, x):
        return self.neck(self.trunk(x))

    def init_from_classifier(self, name: str = "mnv2-dcn"):
        """Start the trunk from the shipped scene classifier (same layer shapes; only the strides differ)."""
        state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
        own = self.trunk.state_dict()
        picked = {k[len("features."):]: v for k, v in state.items()
                  if k.startswith("features.") and k[len("features."):] in own}
        self.trunk.load_state_dict(picked, strict=False)
        return len(picked)


class ScoreAdjust(nn.Conv2d):
    """The 1×1 conv that turns the raw correlation into logits (SiamFC's "adjust": one scale, one bias).
    Its own class so that int8 exports can keep it in float; its state-dict keys are a Conv2d's."""

    def __init__(self):
        super().__init__(1, 1, 1)
        nn.init.constant_(self.weight, 1e-3)
        nn.init.zeros_(self.bias)


class SiamFC(nn.Module):
    """SiamFC (Bertinetto et al. 2016) on the MobileNetV2 trunk: score = a · (x ⋆ z) + b."""

    kind = "siamfc"

    def __init__(self):
        super().__init__()
        self.backbone = TrackBackbone()
        self.corr = XCorr()
        self.adjust = ScoreAdjust()

    def template(self, z_img):
        return (centre_crop(self.backbone(z_img)),)

    def search(self, x_img, z):
        return (self.adjust(self.corr(self.backbone(x_img), z)),)

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))[0]


class ChannelAttention(nn.Module):
    """SA-Siam channel attention, computed once from the template features *with* their context.

    Each channel's response is max-pooled over a 3×3 grid of the template feature map; a small MLP
    shared by all channels maps those 9 values to a weight in (0, 2): channels that fire on the target
    (centre cell) more than on its surroundings can be raised, context-only channels lowered.
    """

    def __init__(self, hidden: int = 9):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(9, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    @staticmethod
    def grid_max(f, cells: int = 3):
        """Max over each cell of a cells×cells grid (adaptive max pooling's cells, as static slices)."""
        return torch.cat([m.flatten(2) for m in ChannelAttention.grid_cells(f, cells)], -1)

    @staticmethod
    def grid_cells(f, cells: int = 3):
        """The cells' maxima, each (N, C, 1, 1), row by row. max_pool2d, not amax: amax lowers to a max
        with indices in LiteRT's int8 path."""
        size = f.shape[-1]
        edges = [(i * size // cells, -(-(i + 1) * size // cells)) for i in range(cells)]
        return [F.max_pool2d(f[:, :, a:b, c:d], (b - a, d - c)) for a, b in edges for c, d in edges]

    def weights(self, f):  # f: (N, C, H, W) template features with context → (N, C, 1, 1)
        n, c = f.shape[:2]
        pooled = self.grid_max(f)
        return torch.sigmoid(self.mlp(pooled)).reshape(n, c, 1, 1) * 2.0  # float scalar: int8 observers reject ints

    def forward(self, f, z):
        """``z`` (the correlated centre of ``f``) with each channel weighted by its attention."""
        return z * self.weights(f)


class ScoreUpsample(nn.Module):
    """Align-corners bilinear resize of a score map to the 25×25 grid; a module so that int8 exports
    can keep it in float (LiteRT's int8 converter rejects the quantised resize of this size)."""

    def forward(self, s):
        return F.interpolate(s, size=(SCORE, SCORE), mode="bilinear", align_corners=True)


class SemanticBranch(nn.Module):
    """SA-Siam's S-net: a frozen classification backbone (the shipped ``mnv2-dcn`` scene classifier, at
    its own stride 16) + trainable 1×1 fusion to ``NECK`` channels + channel attention.

    At stride 16 the template gives 8×8 features (centre 4×4 correlated) and the search 16×16, so the
    semantic score map is 13×13; cell k sits on search pixel 127 + 16(k − 6), i.e. on every other cell
    of the 25×25 appearance map, and an align-corners 2× upsampling puts it on the same grid."""

    def __init__(self):
        super().__init__()
        self.trunk = MobileNetV2Features(0.5, output_stride=16, dcn=True)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.fuse = ConvBNAct(self.trunk.out_channels, NECK, 1, act=False)
        self.attention = ChannelAttention()
        self.corr = XCorr()
        self.adjust = ScoreAdjust()
        self.upsample = ScoreUpsample()

    def train(self, mode: bool = True):
        super().train(mode)
        self.trunk.eval()  # frozen, BN statistics included
        return self

    def features(self, img):
        return self.fuse(self.trunk(img))

    def template(self, z_img):
        f = self.features(z_img)
        return self.attention(f, centre_crop(f, Z_CROP // 2))

    def score(self, x_img, z_s):
        return self.upsample(self.adjust(self.corr(self.features(x_img), z_s)))

    def load_classifier(self, name: str = "mnv2-dcn"):
        state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
        self.trunk.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})


class ScoreFusion(nn.Module):
    """``(1 − λ)·a + λ·b``: SA-Siam's weighted sum of the branch score maps, as a module so that int8
    exports can keep it in float (λ stays a buffer of the tracker, where the weights file has it)."""

    def forward(self, a, b, lam):
        return (1 - lam) * a + lam * b


class SASiam(nn.Module):
    """SA-Siam (He et al. 2018): appearance branch (SiamFC, trained for matching) + semantic branch
    (frozen classifier features, channel attention); score = (1 − λ)·appearance + λ·semantic.

    The branches are trained separately (their heterogeneity is the point); λ is chosen on held-out
    pairs after both are trained."""

    kind = "sasiam"

    def __init__(self):
        super().__init__()
        self.appearance = SiamFC()
        self.semantic = SemanticBranch()
        self.fusion = ScoreFusion()
        self.register_buffer("lam", torch.tensor(0.5))

    def template(self, z_img):
        return self.appearance.template(z_img)[0], self.semantic.template(z_img)

    def branch_scores(self, x_img, z_a, z_s):
        return self.appearance.search(x_img, z_a)[0], self.semantic.score(x_img, z_s)

    def search(self, x_img, z_a, z_s):
        s_a, s_s = self.branch_scores(x_img, z_a, z_s)
        return (self.fusion(s_a, s_s, self.lam),)

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))[0]


def _head(cin, cout, mid=NECK, lite=False):
    if lite:  # 1×1 squeeze, depthwise 3×3, 1×1 out: ~1/15 of the MACs of a full 3×3
        return nn.Sequential(ConvBNAct(cin, mid // 2, 1), ConvBNAct(mid // 2, mid // 2, 3, groups=mid // 2),
                             nn.Conv2d(mid // 2, cout, 1))
    return nn.Sequential(ConvBNAct(cin, mid, 3), nn.Conv2d(mid, cout, 1))


class SPM(nn.Module):
    """SPM-style coarse-to-fine tracker (after Wang et al. 2019, "SPM-Tracker").

    Coarse stage (per-channel correlation, SiamRPN++ style): a score for every *target-like* object
    and an FCOS-style box (distances to the four sides, so the aspect ratio can change). Trained with
    same-kind distractors as positives. Fine stage: an embedding of each 8×8 window of the search
    features, compared (cosine) with the template's embedding; trained with only the target positive,
    it re-scores the coarse stage's top candidates and rejects look-alikes. Both stages are outputs of
    one per-frame graph; the re-scoring of the top K is K dot products in the runtime.
    """

    kind = "spm"
    EMB = 32

    def __init__(self, lite: bool = False):
        super().__init__()
        self.kind = "spm-lite" if lite else "spm"
        self.backbone = TrackBackbone(stages=3 if lite else 5)
        self.cls = _head(NECK, 1, lite=lite)
        self.box = _head(NECK, 4, lite=lite)
        self.embed = _head(NECK, self.EMB, lite=lite)
        nn.init.constant_(self.cls[-1].bias, -2.0)

    def _embed(self, f):
        e = F.avg_pool2d(self.embed(f), Z_CROP, stride=1)  # one embedding per 8×8 window (= score cell)
        return e / (e.pow(2).sum(1, keepdim=True) + 1e-6).sqrt()

    def template(self, z_img):
        f = centre_crop(self.backbone(z_img))
        return f, self._embed(f)  # (1, 64, 8, 8), (1, EMB, 1, 1)

    def search(self, x_img, z, z_emb):
        f = self.backbone(x_img)
        corr = xcorr_depthwise(f, z)
        cls = self.cls(corr)
        ltrb = torch.exp(self.box(corr).clamp(-6, 6)) * 16.0
        emb = self._embed(f)
        fine = (emb * z_emb).sum(1, keepdim=True)  # cosine similarity per window
        return cls, ltrb, fine

    def forward(self, z_img, x_img):
        return self.search(x_img, *self.template(z_img))


# --------------------------------------------------------------------------------------------------
# Export parts: each a static-shape graph with an ExportSpec and real sample inputs.


def _crops_from_frames(frames, n=None, x_size=X_SIZE, z_size=Z_SIZE):
    """Real frames → template/search crop pairs (a box in the middle third, search around it)."""
    import numpy as np

    from edgecv.runtime.track.crop import affine_crop, crop_side

    out = []
    rng = np.random.default_rng(0)
    for f in frames[:n]:
        H, W = f.shape[:2]
        w, h = W * rng.uniform(0.1, 0.25), H * rng.uniform(0.1, 0.3)
        cx, cy = W * rng.uniform(0.35, 0.65), H * rng.uniform(0.35, 0.65)
        sz = crop_side(w, h)
        z, _ = affine_crop(f, cx, cy, sz, z_size)
        x, _ = affine_crop(f, cx + rng.normal(0, 0.1) * sz, cy + rng.normal(0, 0.1) * sz, sz * x_size / z_size,
                           x_size)
        out.append((to_input(z), to_input(x)))
    return out


def to_input(crop_bgr) -> torch.Tensor:
    from edgecv.runtime.track.crop import to_nchw

    return torch.from_numpy(to_nchw(crop_bgr))


class TemplatePart(nn.Module):
    def __init__(self, tracker, outputs):
        super().__init__()
        self.tracker = tracker
        self.model_name = f"{tracker.model_name}-template"
        self.export_spec = ExportSpec(
            # template features feed a correlation that sums thousands of products, so their int8 error
            # averages out: SA-Siam's semantic features at cosine 0.92 still give score maps at 0.99.
            # The score map (search graph, ≥ 0.97) and the dev-set AUC are what int8 is judged on.
            inputs=[TensorSpec("image", (1, 3, tracker.template_size, tracker.template_size))], outputs=outputs,
            int8_metric="cosine", int8_threshold=0.9,
            description=f"{tracker.model_name} template branch (run once per target)",
            extra=dict(tracker.geometry_info(), tracker=tracker.kind, part="template"), int8_float_outputs=True,
            int8_float_modules=tracker.INT8_FLOAT_MODULES)

    def forward(self, image):
        return self.tracker.template(image)

    @torch.no_grad()
    def sample_inputs(self, frames):
        t = self.tracker
        return [{"image": z} for z, _ in _crops_from_frames(frames, x_size=t.search_size, z_size=t.template_size)]


class SearchPart(nn.Module):
    def __init__(self, tracker, template_outputs, outputs):
        super().__init__()
        self.tracker = tracker
        self.template_outputs = template_outputs
        self.model_name = f"{tracker.model_name}-search"
        with torch.no_grad():
            zs = tracker.template_size
            shapes = [tuple(t.shape) for t in tracker.template(torch.zeros(1, 3, zs, zs))]
        self.export_spec = ExportSpec(
            inputs=[TensorSpec("image", (1, 3, tracker.search_size, tracker.search_size))] +
                   [TensorSpec(n, s) for n, s in zip(template_outputs, shapes)],
            outputs=outputs, int8_metric="cosine", int8_threshold=0.97,
            description=f"{tracker.model_name} search branch + head (run per frame)",
            extra=dict(tracker.geometry_info(), tracker=tracker.kind, part="search"), int8_float_outputs=True,
            int8_float_correlation=tracker.INT8_FLOAT_CORRELATION, int8_float_modules=tracker.INT8_FLOAT_MODULES)

    def forward(self, image, *template, **named):
        template = list(template) + [named[n] for n in self.template_outputs if n in named]
        return self.tracker.search(image, *template)

    @torch.no_grad()
    def sample_inputs(self, frames):
        feeds = []
        for z, x in _crops_from_frames(frames, x_size=self.tracker.search_size, z_size=self.tracker.template_size):
            t = self.tracker.template(z)
            feeds.append(dict({"image": x}, **{n: v for n, v in zip(self.template_outputs, t)}))
        return feeds


class _Exportable:
    TEMPLATE_OUT: list = []
    SEARCH_OUT: list = []
    INT8_FLOAT_MODULES: tuple = ()  # kept in float by LiteRT int8 exports (see ExportSpec.int8_float_modules)
    INT8_FLOAT_CORRELATION = True   # ONNX int8: correlation and what follows it in float (ExportSpec)
    search_size: int = X_SIZE       # the search graph's crop side (see ``geometry``)
    template_size: int = Z_SIZE     # the template graph's crop side

    def geometry_info(self) -> dict:
        """The crop/score-map geometry both graphs' manifests carry (the runtime reads it from there)."""
        return geometry(self.search_size)

    def export_parts(self):
        """The static-shape graphs a tracker ships as: template (once) and search (per frame)."""
        return {"template": TemplatePart(self, self.TEMPLATE_OUT),
                "search": SearchPart(self, self.TEMPLATE_OUT, self.SEARCH_OUT)}


class SiamFCTracker(_Exportable, SiamFC):
    TEMPLATE_OUT, SEARCH_OUT = ["z"], ["score"]
    # the score map stays in float in int8 exports: 8 bits would step it by 1/256 of its range, and a
    # near-tie between the target and a look-alike would flip on that rounding
    INT8_FLOAT_MODULES = (XCorr, ScoreAdjust)


class SASiamTracker(_Exportable, SASiam):
    TEMPLATE_OUT, SEARCH_OUT = ["z_a", "z_s"], ["score"]
    # the attention's Transpose breaks the converter's same-scale rule; the resize fails in int8.
    # Both are a few thousand values, once per target or once per frame: float costs nothing.
    INT8_FLOAT_MODULES = (ChannelAttention, ScoreUpsample, XCorr, ScoreAdjust, ScoreFusion)


class SPMTracker(_Exportable, SPM):
    TEMPLATE_OUT, SEARCH_OUT = ["z", "z_emb"], ["cls", "ltrb", "fine"]
    # SPM's correlation feeds int8 heads, and its heads' outputs are float already (float_outputs): a float
    # depthwise correlation left the score peaks as they were (94.7% on the fp32 cell, spm-nano, dev set)
    # and cost spm-nano's search graph ~0.7 ms in onnxruntime, so the SPM family keeps it in int8.
    INT8_FLOAT_CORRELATION = False

    def __init__(self, lite: bool = False, search_size: int = X_SIZE, weights_from: str | None = None):
        super().__init__(lite=lite)
        geometry(search_size)  # validates
        self.search_size = search_size
        self.weights_from = weights_from

    def load_pretrained(self):
        """Load the shipped weights of ``weights_from`` (a variant that only changes the search crop
        runs the same network) or of the model's own name."""
        state = torch.load(weights_path(self.weights_from or self.model_name), map_location="cpu",
                           weights_only=True)
        self.load_state_dict(state)


@register_model("siamfc")
def siamfc(**kw):
    return SiamFCTracker(**kw)


@register_model("sasiam")
def sasiam(**kw):
    return SASiamTracker(**kw)


@register_model("spm")
def spm(**kw):
    return SPMTracker(**kw)


@register_model("spm-lite")
def spm_lite(**kw):
    """SPM on a 3-stage trunk with light heads: one search pass per frame."""
    return SPMTracker(lite=True, **kw)


@register_model("spm-nano")
def spm_nano(**kw):
    """spm-lite's network (its shipped weights) on a 223² search crop: a 21×21 score map, 0.76× the
    per-frame pixels. The smallest tracker; the search range shrinks from ±96 to ±80 crop pixels."""
    kw.setdefault("search_size", 223)
    model = SPMTracker(lite=True, weights_from="spm-lite", **kw)
    model.kind = "spm-nano"
    return model
