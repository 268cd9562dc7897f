"""Every tracker variant by name: the one table the factory, the CLI, the planner, eval and bench read.

A variant (pytracking's tracker + parameter file, timm's registered name) is one module in ``params/``: its
name, the family module and tracker class that run it, the exported model whose artifacts it runs (None for
the baselines) and ``parameters()``. Adding a variant is adding that module and its name to ``_MODULES``
(which also sets the order the CLI lists them in).
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import TrackError

__all__ = ["RETIRED", "VARIANTS", "Variant", "default_params", "graph_params", "get_variant", "tracker_names"]

_MODULES = ("boxtrack", "boxtrack_fast", "boxtrack_fc", "siamfc_lite0", "sasiam_lite0", "siambm_lite0", "siamfc",
            "spm_lite0", "mosse", "klt", "mil", "nanotrack")

# Variants retired (2026-12-07, issue 23): each fell below KLT on the dev set (spm-nano: tied with it), and a
# variant of the same design that is ahead on accuracy replaces it (the figures: BENCHMARKS.md#tracking-dev of
# 2026-12-07 05:14 UTC, int8 AUC; spm-nano's of 13:26 UTC, the run that first had spm-lite0). Their networks stay
# exportable models (the runtime's class tests and the device profiles use the graphs); only the ``--tracker`` names
# are gone, and asking for one names its replacement.
RETIRED: dict[str, tuple[str, str]] = {
    "sasiam": ("sasiam-lite0", "SA-Siam on the ImageNet Lite0 trunk: dev AUC 0.668 int8 against sasiam's 0.541"),
    "siambm": ("siambm-lite0", "Siam-BM over siamfc-lite0's graphs: dev AUC 0.685 int8 against siambm's 0.544"),
    "spm": ("spm-lite0", "SPM's coarse-to-fine loop on boxtrack-fc's graphs (the ImageNet Lite0 trunk): dev AUC "
                         "0.705 fp32, 0.727 int8, against spm's 0.506"),
    "spm-lite": ("spm-lite0", "SPM's coarse-to-fine loop on boxtrack-fc's graphs (the ImageNet Lite0 trunk): dev AUC "
                              "0.705 fp32, 0.727 int8, against spm-lite's 0.513"),
    "spm-nano": ("spm-lite0", "SPM's coarse-to-fine loop on boxtrack-fc's graphs (the ImageNet Lite0 trunk): dev AUC "
                              "0.705 fp32, 0.727 int8, against spm-nano's 0.563 (a tie with KLT's 0.562); it costs "
                              "more time per frame (about 5 against 3.3 ms int8); KLT ties spm-nano at 2 ms"),
}


@dataclass(frozen=True)
class Variant:
    """One tracker variant: ``name`` (the ``--tracker`` name), ``family`` (its module in ``runtime/track/``),
    ``tracker`` (the class there), ``model`` (the exported model whose template and search graphs it runs;
    None: it runs on frames, no artifacts), ``parameters`` (makes a fresh parameter object), ``summary``."""
    name: str
    family: str
    tracker: str
    model: str | None
    parameters: Callable[[], Any]
    summary: str
    foreign: bool = False   # its graphs are converted from the user's model folder (``--model DIR``), e.g. NanoTrack

    @property
    def siamese(self) -> bool:
        """It runs exported graphs (and so needs artifacts)."""
        return self.model is not None

    def tracker_class(self) -> type:
        return getattr(importlib.import_module(f".{self.family}", __package__), self.tracker)

    def params(self, **overrides):
        """A fresh copy of the variant's parameters, with ``overrides`` (field → value) replaced."""
        p = self.parameters()
        return dataclasses.replace(p, **overrides) if overrides else p

    def search_passes(self, params=None) -> float:
        """Search-graph passes per frame, on average, with ``params`` (default: the variant's): what a per-frame
        cost model multiplies the search latency by (the family's rule: a scale pyramid's crops, SPM's
        ``scale_every`` averaging them with one-crop frames, Siam-BM's 5 candidates). 0 for the baselines."""
        if not self.siamese:
            return 0.0
        return float(self.tracker_class().search_passes(params if params is not None else self.params()))


def _load(module: str) -> Variant:
    m = importlib.import_module(f".params.{module}", __package__)
    summary = (m.__doc__ or "").strip().splitlines()[0].removeprefix(f"{m.NAME}: ")
    return Variant(m.NAME, m.FAMILY, m.TRACKER, m.MODEL, m.parameters, summary, getattr(m, "FOREIGN", False))


VARIANTS: dict[str, Variant] = {v.name: v for v in map(_load, _MODULES)}


def tracker_names(siamese: bool | None = None, foreign: bool | None = False) -> tuple[str, ...]:
    """The variants' names in the registry's order; ``siamese=True``: only those over artifacts, False: only
    the baselines. ``foreign``: False (default) leaves out the variants that run a user's converted model
    (``nanotrack``: they need ``--model DIR``), True gives only those, None gives all."""
    return tuple(n for n, v in VARIANTS.items() if (siamese is None or v.siamese == siamese)
                 and (foreign is None or v.foreign == foreign))


def get_variant(name: str) -> Variant:
    if name in RETIRED:
        new, why = RETIRED[name]
        raise TrackError(f"tracker {name!r} was retired (below KLT on the dev set): use {new!r}, {why}")
    if name not in VARIANTS:
        raise TrackError(f"unknown tracker {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def default_params(name: str, **overrides):
    """A fresh copy of tracker ``name``'s parameters, with ``overrides`` replaced."""
    return get_variant(name).params(**overrides)


# Parameter modules of retired variants whose graphs still run under their family's class, with no --tracker name:
# no live variant runs the SPM graphs since spm-nano's retirement, so SPMTracker keeps spm-nano's values.
_GRAPH_VALUES = {"spm-nano": "spm_nano"}


def graph_params(graphs: str, fallback: str, **overrides):
    """The parameters a tracker class uses when given none: those of the variant named after the graphs it runs
    (``graphs``: the manifest's tracker name), or ``fallback``'s for graphs whose variant was retired (the
    stride-8 ``sasiam`` graphs under SiamFC's search take ``siamfc``'s values, which were theirs). ``fallback`` may
    be a retired variant whose values are kept for its graphs (``_GRAPH_VALUES``: ``spm-nano``)."""
    name = graphs if graphs in VARIANTS else fallback
    if name not in VARIANTS and name in _GRAPH_VALUES:
        p = importlib.import_module(f".params.{_GRAPH_VALUES[name]}", __package__).parameters()
        return dataclasses.replace(p, **overrides) if overrides else p
    return default_params(name, **overrides)
