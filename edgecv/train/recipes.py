"""Which recipe trains which registered model."""
from __future__ import annotations

from edgecv.runtime.errors import EdgeCVError


def run(model: str, steps: int = 1600, minutes: float | None = None, out_dir=None, seed: int = 0,
        init: str | None = None):
    if init is not None and model not in ("spm", "spm-lite", "boxtrack"):
        raise EdgeCVError(f"--init applies to the SPM trackers and boxtrack only, not {model!r}")
    if model == "boxtrack" and init not in (None, "boxtrack"):
        raise EdgeCVError(f"boxtrack continues from its own shipped weights only (--init boxtrack), not {init!r}")
    if model in ("mnv2", "mnv2-dcn"):
        from .scenes import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)
    if model in ("siamfc", "sasiam", "spm", "spm-lite"):
        from .siamese import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed,
                     **({"init": init} if init else {}))
    if model in ("siamfc-lite0", "sasiam-lite0"):  # sasiam-lite0 after siamfc-lite0 (its appearance branch)
        from .siamese_lite0 import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)
    if model == "boxtrack":  # stage 1 from ImageNet; later stages (--init boxtrack): lower lr, shape change, tilt,
        from .boxtrack import train  # and (stage 4, the shipped weights) segment pairs of real images
        stage2 = {"init": init, "lr": 3e-4, "shape_change": 0.4, "scale_change": 0.4, "tilt": 50.0,
                  "composite_fraction": 0.25, "video_fraction": 0.3, "segment_fraction": 0.3} if init else {}
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed, **stage2)
    if model == "boxtrack-fast":
        raise EdgeCVError("boxtrack-fast has no recipe of its own: it runs boxtrack's weights on a smaller search "
                          "crop (`edgecv train boxtrack`)")
    if model == "boxtrack-fc":
        raise EdgeCVError("boxtrack-fc has no recipe of its own: it runs boxtrack's and siamfc-lite0's shipped weights "
                          "(`edgecv train boxtrack`, `edgecv train siamfc-lite0`)")
    if model == "excolor":
        from .colorize import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)
    if model in ("dff-seg", "dff-seg-nodcn", "dff-seg-lite0", "dff-seg-ctx", "dff-seg-fast", "dff-seg-thin"):
        from .dff import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)
    if model == "persondet-lite0":
        from .detect import train
        return train(model, steps=steps, minutes=minutes, out_dir=out_dir, seed=seed)
    if model == "spm-nano":
        raise EdgeCVError("spm-nano has no recipe of its own: it runs spm-lite's weights on a smaller search "
                          "crop (`edgecv train spm-lite --init siamfc`)")
    if model == "warp-head":
        raise EdgeCVError("warp-head has no recipe of its own: its weights are mnv2-dcn's trained head "
                          "(`edgecv train mnv2-dcn`)")
    from edgecv.models import list_models
    raise EdgeCVError(f"no training recipe for {model!r}; trainable models: mnv2, mnv2-dcn, siamfc, "
                      "sasiam (after siamfc), spm, spm-lite, boxtrack, siamfc-lite0 (after boxtrack), "
                      "sasiam-lite0 (after siamfc-lite0), dff-seg, dff-seg-nodcn, dff-seg-lite0 "
                      "(after dff-seg), dff-seg-ctx (after dff-seg-lite0), dff-seg-fast (after dff-seg-ctx), "
                      "dff-seg-thin (after dff-seg-fast), excolor, persondet-lite0 "
                      f"(registered: {', '.join(list_models())})")
