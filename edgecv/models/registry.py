"""Registry of named model variants (timm-style): ``create_model("mnv2-dcn", pretrained=True)``."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

_REGISTRY: dict[str, Callable] = {}


@dataclass
class TensorSpec:
    """A static-shape graph input or output."""
    name: str
    shape: tuple
    dtype: str = "float32"


@dataclass
class ExportSpec:
    """What the exporter needs to know about a model beyond its forward.

    ``int8_metric``: how an int8 artifact is judged against PyTorch — ``top1`` (agreement of the
    arg-max over the last axis of the first output) or ``cosine`` (mean cosine similarity).
    ``int8_threshold``: the minimum acceptable value of that metric. ``int8_float_outputs``: keep the
    layers that produce the outputs in float in int8 ONNX exports. ``int8_op_types``: which ONNX op types
    an int8 export quantises (e.g. leave MatMul out to keep an attention in float).
    """
    inputs: list[TensorSpec]
    outputs: list[str]
    int8_metric: str = "cosine"
    int8_threshold: float = 0.98
    description: str = ""
    extra: dict = field(default_factory=dict)
    int8_float_outputs: bool = False
    int8_op_types: tuple = ()   # ONNX op types to quantise (empty: the exporter's default set)
    int8_calib_frames: int | None = None   # at most this many calibration frames (large graphs: memory)
    int8_float_modules: tuple = ()   # module classes PT2E (TFLite int8) leaves unannotated, i.e. in float
    int8_float_correlation: bool = False   # ONNX int8: correlations (convs whose weights are graph tensors)
                                           # and every node between the outputs and their producers stay float
    int8_calib_video: str | None = None   # int8 calibration default: this sample video's training split (the
    # model's own domain, e.g. the people detector's street scene) instead of the mixed photos-and-videos split
    int8_judge_where: dict = field(default_factory=dict)   # output → (mask output, threshold): its int8 cosine is
    # the mean per-cell cosine of its channel vectors where the reference mask output ≥ threshold (an output that
    # is only read at some cells, e.g. a detector's embedding at detected centres)


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


def register_model(name: str):
    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def weights_path(name: str) -> Path:
    return Path(str(resources.files("edgecv.weights").joinpath(f"{name}.pt")))


def create_model(name: str, pretrained: bool = True, **kwargs):
    """Build a registered model; ``pretrained`` loads the shipped weights (``edgecv/weights/NAME.pt``)."""
    if name not in _REGISTRY:
        raise UnknownModelError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    model = _REGISTRY[name](**kwargs)
    model.model_name = name
    if pretrained and hasattr(model, "load_pretrained"):
        model.load_pretrained()  # derived from another model's shipped weights
    elif pretrained:
        model.load_state_dict(shipped_state(name))
    return model.eval()


def shipped_state(name: str) -> dict:
    """The state dict in ``edgecv/weights/NAME.pt`` (loaded with ``weights_only=True``)."""
    import torch

    path = weights_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no shipped weights for {name!r} at {path}; train them with `edgecv train {name}`")
    return torch.load(path, map_location="cpu", weights_only=True)


def save_weights(model, name: str, info: dict, out_dir: Path | None = None, skip: tuple = ()) -> Path:
    """Save a state dict (atomically) plus a JSON card with how it was trained and how it scores. ``skip``: key
    prefixes left out (parts shipped in another model's file, which ``load_pretrained`` reads from there)."""
    import os

    import torch

    out_dir = Path(out_dir) if out_dir else weights_path(name).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(tuple(skip))}, tmp)
    os.replace(tmp, path)
    info = dict(info, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), bytes=path.stat().st_size)
    card = out_dir / f"{name}.json"
    tmp = card.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, card)
    return path
