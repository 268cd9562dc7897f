"""SiamFC (Bertinetto et al. 2016) over exported artifacts; also runs SA-Siam's (same score-map interface).

Variants: ``siamfc``, ``siamfc-lite0`` and ``sasiam-lite0`` (``params/``). Siam-BM's search over the same graphs is
a subclass in ``siambm.py``."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .crop import affine_crop
from .registry import graph_params
from .siamese_base import LostParams, SiameseNet, SiameseTracker, scale_pyramid

__all__ = ["SiamFCParams", "SiamFCTracker"]


@dataclass
class SiamFCParams:
    """SiamFC search (Bertinetto et al. 2016). Values: ``params/siamfc.py``, ``params/siamfc_lite0.py``,
    ``params/sasiam_lite0.py``."""
    num_scales: int                    # crops of the scale pyramid searched per frame
    scale_step: float                  # scale factor between neighbouring crops
    scale_penalty: float               # multiplies the peak of every non-unit scale
    scale_lr: float                    # damped scale update
    window_influence: float            # cosine window blended into the normalised response
    response_up: int                   # bicubic upsampling of the score map
    min_size: float                    # smallest box side, px (a smaller init box is refused)
    lost: LostParams                   # the lost state


class SiamFCTracker(SiameseTracker):
    """SiamFC multi-scale search; also runs SA-Siam artifacts (same score-map interface)."""

    name = "siamfc"

    def __init__(self, net: SiameseNet, params: SiamFCParams | None = None):
        # the variant named after the graphs it runs (siamfc, siamfc-lite0, sasiam-lite0; the retired sasiam's
        # graphs take siamfc's values, which were its own)
        name = str(net.geometry.get("tracker", "siamfc"))
        super().__init__(net, params if params is not None else graph_params(name, "siamfc"))
        self.name = name

    @staticmethod
    def search_passes(params: SiamFCParams) -> float:
        """One search pass per crop of the scale pyramid."""
        return float(max(int(params.num_scales), 1))

    def _candidates(self):
        """(scale factor, angle in degrees, penalty) for each crop searched per frame."""
        p = self.p
        return [(f, 0.0, pen) for f, pen in scale_pyramid(p.num_scales, p.scale_step, p.scale_penalty)]

    def _search(self, frame, centre, explore):
        p, net = self.p, self.net
        _, sx = self._sides()
        best = None
        cands = [(1.0, 0.0, 1.0)] if explore and centre != (self.cx, self.cy) else self._candidates()
        for f, dang, pen in cands:
            side = sx * f
            ang = self.angle + dang
            crop, _ = affine_crop(frame, centre[0], centre[1], side, net.x_size, ang, pad=self.pad)
            logits = net.search(crop, self.z)["score"][0, 0]
            peak = float(logits.max())
            ranked = max(peak, 0.0) * pen  # as SiamFC: the penalty scales the response (a logit here)
            if best is None or ranked > best["ranked"]:
                best = {"ranked": ranked, "peak": peak, "logits": logits,
                        "f": f, "dang": dang, "side": side, "centre": centre, "ang": ang}
        best["strength"] = max(best["peak"], 0.0)  # a logit; ≤ 0 means "no better than chance"
        n = net.score_size * p.response_up
        r = cv2.resize(best["logits"].astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
        r -= r.min()
        r /= r.sum() + 1e-12
        wi = 0.0 if explore else p.window_influence
        r = (1 - wi) * r + wi * self.window
        pi, pj = np.unravel_index(int(r.argmax()), r.shape)
        best["disp"] = self._disp(pi, pj, p.response_up, best["side"], best["ang"])
        return best

    def _accept(self, c):
        p = self.p
        self.cx = c["centre"][0] + c["disp"][0]
        self.cy = c["centre"][1] + c["disp"][1]
        s = (1 - p.scale_lr) + p.scale_lr * c["f"]
        self.w, self.h = self.w * s, self.h * s
        H, W = self.frame_shape[:2]
        self.w, self.h = float(np.clip(self.w, p.min_size, W)), float(np.clip(self.h, p.min_size, H))
