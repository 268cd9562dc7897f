"""The three graphs of a Deep Feature Flow model on disk, found by name and checked against each other.

``edgecv export dff-seg`` writes three static-shape graphs and a manifest beside each:

- ONNX: ``{model}-{part}-{ops}-{precision}.onnx`` (ops: ``standard`` or ``portable``);
- TFLite: ``{model}-{part}-{precision}.tflite`` (always portable ops);

with part ∈ ``feature`` (key frames), ``flow`` (key + current frame → flow, scale) and ``head``
(features, flow, scale → logits). The loop takes every number from the manifests' ``model_info``, so
the three must agree on the geometry: a flow graph exported at another stride than the feature graph
would warp features by flows in the wrong units without any shape error. :func:`check_artifacts`
refuses such a bundle, naming both files and the field.

Each part may come at its own precision (``part_precision={"flow": "fp32"}``), for parts that do not
hold up in int8.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import bundle
from ..bundle import BACKEND_FORMAT
from ..errors import ArtifactError
from .base import PropagateError

__all__ = ["PARTS", "GEOMETRY_FIELDS", "BACKEND_FORMAT", "DFFArtifacts", "artifact_path", "find_artifacts",
           "check_artifacts", "runtime_backend", "part_precisions"]

SPEC = bundle.PIPELINES["propagate"]
PARTS = SPEC.parts
GEOMETRY_FIELDS = SPEC.shared
artifact_path = bundle.artifact_path


def runtime_backend(backend: str) -> str:
    """The ``edgecv.runtime.load`` backend for a CLI backend name (``tflite`` → ``litert``)."""
    return bundle.runtime_backend(backend, PropagateError)


@dataclass
class DFFArtifacts:
    """A checked bundle: the three paths, the model they come from, the shared geometry and the classes."""
    feature: Path
    flow: Path
    head: Path
    model: str
    geometry: dict                    # frame_size [H, W], feature_stride, feature_size [h, w], feature_channels
    classes: list = field(default_factory=list)
    precisions: dict = field(default_factory=dict)   # part → precision, from the manifests

    def paths(self) -> dict:
        return {"feature": self.feature, "flow": self.flow, "head": self.head}

    @property
    def frame_size(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.geometry["frame_size"])

    @property
    def feature_size(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.geometry["feature_size"])


def part_precisions(precision: str, part_precision: dict | None) -> dict:
    return bundle.part_precisions("propagate", precision, part_precision, PropagateError)


def find_artifacts(art_dir, model: str = "dff-seg", fmt: str = "onnx", precision: str = "fp32",
                   ops: str | None = None, part_precision: dict | None = None) -> DFFArtifacts:
    """The feature, flow and head artifacts of ``model`` in ``art_dir``, checked with :func:`check_artifacts`.

    ``part_precision`` overrides ``precision`` per part, e.g. ``{"flow": "fp32"}`` with ``precision="int8"``.
    A missing file raises ``FileNotFoundError`` with the ``edgecv export`` command that makes it.
    """
    if fmt not in bundle.FORMATS:
        raise PropagateError(f"unknown artifact format {fmt!r}; choose from {', '.join(bundle.FORMATS)}")
    part_precisions(precision, part_precision)  # PropagateError for an unknown part or precision
    b = bundle.find_bundle("propagate", art_dir, model, fmt, precision, ops, part_precision, error=ArtifactError)
    return _artifacts(b)


def check_artifacts(paths) -> DFFArtifacts:
    """Check the manifests of a feature/flow/head bundle (a dict part → path, or three paths in that order)
    with :func:`edgecv.runtime.bundle.check_bundle`: ``pipeline: dff``, each its own part, one model, the
    same :data:`GEOMETRY_FIELDS`. Raises :class:`edgecv.runtime.ArtifactError` naming the file(s) and field."""
    if not isinstance(paths, dict):
        paths = list(paths)
        if len(paths) != 3:
            raise PropagateError(f"a DFF bundle is 3 artifacts ({', '.join(PARTS)}), got {len(paths)}")
        paths = dict(zip(PARTS, paths))
    missing = [p for p in PARTS if p not in paths]
    if missing:
        raise PropagateError(f"a DFF bundle needs the {', '.join(missing)} artifact(s) too")
    return _artifacts(bundle.check_bundle("propagate", paths, error=ArtifactError))


def _artifacts(b: bundle.Bundle) -> DFFArtifacts:
    classes = list(b.raw_infos["head"].get("classes") or b.raw_infos["feature"].get("classes") or [])
    return DFFArtifacts(b.paths["feature"], b.paths["flow"], b.paths["head"], b.model, b.geometry, classes,
                        b.precisions)
