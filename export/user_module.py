"""A user's own PyTorch module, exported unchanged: ``edgecv export --module pkg.mod:factory --input NAME=1x3x256x256``.

``UserModule`` wraps the module the factory returns with what the exporter needs (static input specs, sample
inputs: real frames for image-like inputs, seeded noise otherwise) and, while it runs, routes
``torch.nn.functional.grid_sample`` (every bilinear setting) and edgecv's own ops through edgecv's lowerings:
the standard ONNX op with ``--ops standard``, the portable row-gather with ``--ops portable`` and for TFLite. The
user's code is not edited: the call is redirected for the duration of the forward. An op that cannot be lowered
(bicubic or nearest sampling, reflection padding) is named with the submodule that called it.

Limits: a module that bound ``grid_sample`` at import (``from torch.nn.functional import grid_sample``) calls
the original, which the portable export then finds and names (``GridSample`` left in the graph).
``torchvision.ops.deform_conv2d`` is redirected when torchvision imports (the CPU build here does not have it).
"""
from __future__ import annotations

import contextlib
import importlib
import re
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ExportError, UnsupportedOpError
from .onnx_import import describe_feeds, sample_feeds

__all__ = ["UserModule", "load_factory", "parse_inputs"]

_SPEC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+(?:x\d+)*)$")


def parse_inputs(specs) -> list[tuple[str, tuple[int, ...]]]:
    """``["image=1x3x256x256", ...]`` → ``[("image", (1, 3, 256, 256)), ...]``; a spec that does not parse is an
    ExportError quoting it."""
    out = []
    for s in specs:
        m = _SPEC.match(s.strip())
        if not m or any(int(d) <= 0 for d in m.group(2).split("x")):
            raise ExportError(f"--input {s!r}: expected NAME=DxDx... with positive sizes (e.g. image=1x3x256x256)")
        out.append((m.group(1), tuple(int(d) for d in m.group(2).split("x"))))
    if not out:
        raise ExportError("--module needs at least one --input NAME=DxDx... (e.g. image=1x3x256x256)")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ExportError(f"--input: the names {names} repeat")
    return out


def load_factory(target: str) -> nn.Module:
    """``pkg.mod:factory`` → the module ``factory()`` returns (the current folder is importable, as for
    ``python -m``); each failure is one line naming the target."""
    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr:
        raise ExportError(f"--module {target!r}: expected MODULE:FACTORY (e.g. mypkg.models:build)")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # ImportError, SyntaxError, an error at import time: say which
        raise ExportError(f"--module {target!r}: cannot import {mod_name} ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''})") from None
    fn = getattr(mod, attr, None)
    if fn is None or not callable(fn):
        raise ExportError(f"--module {target!r}: {mod_name} has no callable {attr!r}")
    try:
        model = fn()
    except Exception as e:
        raise ExportError(f"--module {target!r}: {attr}() raised {type(e).__name__}: "
                          f"{(str(e).splitlines() or [''])[0][:200]}") from None
    if not isinstance(model, nn.Module):
        raise ExportError(f"--module {target!r}: {attr}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model


class _Where:
    """The qualified name of the submodule running now (forward pre/post hooks), for error messages."""

    def __init__(self, root: nn.Module):
        self.stack = []
        self.handles = []
        for name, m in root.named_modules():
            self.handles.append(m.register_forward_pre_hook(lambda mod, args, n=name: self.stack.append(n or "<root>")))
            self.handles.append(m.register_forward_hook(lambda mod, args, out: self.stack.pop() and None))

    def now(self) -> str:
        return self.stack[-1] if self.stack else "<root>"

    def remove(self):
        for h in self.handles:
            h.remove()


@contextlib.contextmanager
def lowered_ops(where: _Where):
    """Route ``F.grid_sample`` (and ``torchvision.ops.deform_conv2d`` when it imports) through edgecv's ops."""
    from edgecv.ops.deform_conv import deform_conv2d
    from edgecv.ops.warp import grid_sample

    def gs(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
        try:
            return grid_sample(input, grid, mode, padding_mode, bool(align_corners))
        except ValueError as e:
            raise UnsupportedOpError(f"grid_sample in module {where.now()!r}: {e}") from None

    saved = [(F, "grid_sample", F.grid_sample)]
    F.grid_sample = gs
    tv = sys.modules.get("torchvision.ops")
    if tv is not None and hasattr(tv, "deform_conv2d"):
        def dcn(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), mask=None):
            return deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask)

        saved.append((tv, "deform_conv2d", tv.deform_conv2d))
        tv.deform_conv2d = dcn
    try:
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)


class UserModule(nn.Module):
    """``inner`` (the user's module, unchanged) with static ``inputs`` [(name, shape)], exportable by
    :func:`edgecv.export.export`."""

    def __init__(self, inner: nn.Module, inputs, name: str, origin: str, noise_scale: float = 1.0):
        from edgecv.models.registry import ExportSpec, TensorSpec

        super().__init__()
        self.inner = inner.eval()
        self.inputs = list(inputs)
        self.model_name = name
        self.noise_scale = noise_scale
        self._where = _Where(self.inner)
        example = tuple(torch.zeros(s) for _, s in self.inputs)
        with torch.no_grad():
            try:
                out = self(*example)
            except UnsupportedOpError:
                raise
            except Exception as e:
                shapes = ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in self.inputs)
                raise ExportError(f"{origin}: the module does not run on the given inputs ({shapes}): "
                                  f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}") from None
        n_out = len(out) if isinstance(out, (tuple, list)) else 1
        self.export_spec = ExportSpec(
            inputs=[TensorSpec(n, s) for n, s in self.inputs],
            outputs=[f"output{k}" for k in range(n_out)] if n_out > 1 else ["output"],
            int8_metric="cosine", int8_threshold=0.98, description=f"user module {origin}",
            extra={"origin": f"user module {origin}, exported unchanged (grid_sample routed through edgecv's ops)",
                   "sample_inputs": describe_feeds(self.inputs, noise_scale)})

    def forward(self, *args, **kwargs):
        args = list(args) + [kwargs[n] for n, _ in self.inputs[len(args):] if n in kwargs]
        with lowered_ops(self._where):
            out = self.inner(*args)
        return tuple(out) if isinstance(out, list) else out

    def sample_inputs(self, frames) -> list[dict]:
        return sample_feeds(self.inputs, frames, self.noise_scale)
