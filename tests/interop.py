"""Models edgecv did not write, shared by the interop tests and ``bench/bench_interop.py``: an ONNX graph built
with ``onnx.helper`` that holds ``DeformConv`` and ``GridSample``, and a user's plain PyTorch module that calls
``torch.nn.functional.grid_sample`` (its source, written into a package by the caller)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

USER_CODE = '''
import torch
import torch.nn.functional as F
from torch import nn


class Stabiliser(nn.Module):
    """Predicts an affine warp from the image and resamples its features with it (user code, not edgecv's)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1))
        self.pose = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 6))
        nn.init.zeros_(self.pose[2].weight)
        with torch.no_grad():
            self.pose[2].bias.copy_(torch.tensor([0.9, 0.1, 0.05, -0.1, 0.9, -0.05]))

    def forward(self, image):
        f = self.features(image)
        theta = self.pose(f).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(f.shape), align_corners=False)
        a = F.grid_sample(f, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        b = F.grid_sample(f, grid * 1.1, mode="bilinear", padding_mode="border", align_corners=True)
        return a + b


def build():
    torch.manual_seed(0)
    return Stabiliser()


def broken():
    raise RuntimeError("weights file missing")


def bicubic():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.warp = Warp()

        def forward(self, image):
            return self.warp(image)

    class Warp(nn.Module):
        def forward(self, image):
            return F.grid_sample(image, torch.zeros(1, 4, 4, 2), mode="bicubic", align_corners=False)

    return M()
'''


def dcn_grid_graph(path: Path, size: int = 64) -> Path:
    """A small image model written with onnx.helper (not by edgecv): conv → DeformConv (DCNv2: offsets and a
    sigmoid mask from convs) → GridSample (a fixed rotate-and-zoom grid) — the two nodes few runtimes have."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)

    def t(name, *shape, scale=0.2):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    a = np.deg2rad(12)
    theta = torch.tensor([[[np.cos(a) * 0.8, -np.sin(a) * 0.8, 0.1], [np.sin(a) * 0.8, np.cos(a) * 0.8, -0.05]]],
                         dtype=torch.float32)
    grid = F.affine_grid(theta, (1, 8, size // 2, size // 2), align_corners=False).numpy()
    inits = [t("w1", 8, 3, 3, 3), t("b1", 8), t("wo", 18, 8, 3, 3, scale=0.3), t("bo", 18),
             t("wm", 9, 8, 3, 3), t("bm", 9), t("wd", 8, 8, 3, 3), t("bd", 8),
             numpy_helper.from_array(grid.astype(np.float32), "grid")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
             helper.make_node("Relu", ["c1"], ["f"], name="relu1"),
             helper.make_node("Conv", ["f", "wo", "bo"], ["off"], pads=[1, 1, 1, 1], name="offsets"),
             helper.make_node("Conv", ["f", "wm", "bm"], ["ml"], pads=[1, 1, 1, 1], name="mask_logits"),
             helper.make_node("Sigmoid", ["ml"], ["m"], name="mask"),
             helper.make_node("DeformConv", ["f", "wd", "off", "bd", "m"], ["d"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], name="dcn"),
             helper.make_node("GridSample", ["d", "grid"], ["y"], mode="linear", padding_mode="zeros",
                              align_corners=0, name="resample")]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, size // 2, size // 2])
    graph = helper.make_graph(nodes, "dcn_grid", [x_info], [y_info], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="onnx.helper")
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
