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

from ..errors import ArtifactError
from ..manifest import read_manifest
from .base import PropagateError

__all__ = ["PARTS", "GEOMETRY_FIELDS", "BACKEND_FORMAT", "DFFArtifacts", "artifact_path", "find_artifacts",
           "check_artifacts", "runtime_backend", "part_precisions"]

PARTS = ("feature", "flow", "head")
GEOMETRY_FIELDS = ("frame_size", "feature_stride", "feature_size", "feature_channels")
PRECISIONS = ("fp32", "fp16", "int8")
BACKEND_FORMAT = {"ort": "onnx", "ort-cuda": "onnx", "ort-trt": "onnx", "opencv": "onnx", "onnx": "onnx",
                  "litert": "tflite", "tflite": "tflite"}


def runtime_backend(backend: str) -> str:
    """The ``edgecv.runtime.load`` backend for a CLI backend name (``tflite`` → ``litert``)."""
    if backend not in BACKEND_FORMAT:
        raise PropagateError(f"unknown backend {backend!r}; choose from ort, ort-cuda, ort-trt, litert, opencv")
    return {"tflite": "litert", "onnx": "ort"}.get(backend, backend)


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


def artifact_path(art_dir, model: str, part: str, fmt: str = "onnx", precision: str = "fp32",
                  ops: str | None = None) -> Path:
    """Where ``edgecv export`` writes ``part`` of ``model`` (the ops mode is in ONNX names only)."""
    if fmt == "onnx":
        return Path(art_dir) / f"{model}-{part}-{ops or 'standard'}-{precision}.onnx"
    return Path(art_dir) / f"{model}-{part}-{precision}.tflite"


def part_precisions(precision: str, part_precision: dict | None) -> dict:
    out = {p: precision for p in PARTS}
    for part, prec in (part_precision or {}).items():
        if part not in PARTS:
            raise PropagateError(f"part precision for {part!r}: unknown part; the parts are {', '.join(PARTS)}")
        out[part] = prec
    bad = sorted({v for v in out.values() if v not in PRECISIONS})
    if bad:
        raise PropagateError(f"unknown precision {', '.join(bad)}; choose from {', '.join(PRECISIONS)}")
    return out


def find_artifacts(art_dir, model: str = "dff-seg", fmt: str = "onnx", precision: str = "fp32",
                   ops: str | None = None, part_precision: dict | None = None) -> DFFArtifacts:
    """The feature, flow and head artifacts of ``model`` in ``art_dir``, checked with :func:`check_artifacts`.

    ``part_precision`` overrides ``precision`` per part, e.g. ``{"flow": "fp32"}`` with ``precision="int8"``.
    A missing file raises ``FileNotFoundError`` with the ``edgecv export`` command that makes it.
    """
    if fmt not in ("onnx", "tflite"):
        raise PropagateError(f"unknown artifact format {fmt!r}; choose from onnx, tflite")
    ops = (ops or "standard") if fmt == "onnx" else None
    paths = {}
    for part, prec in part_precisions(precision, part_precision).items():
        p = artifact_path(art_dir, model, part, fmt, prec, ops)
        if not p.is_file():
            how = f"--format {fmt} --precision {prec}" + (f" --ops {ops}" if ops else "")
            raise FileNotFoundError(f"no {part} artifact {p}; export it with `edgecv export {model} {how} "
                                    f"--out {art_dir}`")
        paths[part] = p
    return check_artifacts(paths)


def check_artifacts(paths) -> DFFArtifacts:
    """Check the manifests of a feature/flow/head bundle (a dict part → path, or three paths in that order).

    Each manifest must exist and say ``pipeline: dff`` and its own part; all three must come from one
    model and agree on :data:`GEOMETRY_FIELDS`. Raises :class:`edgecv.runtime.ArtifactError` naming the
    file(s) and the field at fault.
    """
    if not isinstance(paths, dict):
        paths = list(paths)
        if len(paths) != 3:
            raise PropagateError(f"a DFF bundle is 3 artifacts ({', '.join(PARTS)}), got {len(paths)}")
        paths = dict(zip(PARTS, paths))
    missing = [p for p in PARTS if p not in paths]
    if missing:
        raise PropagateError(f"a DFF bundle needs the {', '.join(missing)} artifact(s) too")
    paths = {part: Path(paths[part]) for part in PARTS}
    infos, models, precs = {}, {}, {}
    for part, path in paths.items():
        if not path.is_file():
            raise ArtifactError(f"artifact {path} does not exist")
        manifest = read_manifest(path, required=True)
        info = manifest.get("model_info") or {}
        if info.get("pipeline") != "dff":
            raise ArtifactError(f"{path}: not a Deep Feature Flow artifact (its manifest's model_info.pipeline is "
                                f"{info.get('pipeline')!r}, expected 'dff'); export one with `edgecv export dff-seg`")
        if info.get("part") != part:
            raise ArtifactError(f"{path}: is the {info.get('part')!r} graph of a DFF model, but the {part!r} "
                                f"graph was expected here")
        for f in GEOMETRY_FIELDS:
            if f not in info:
                raise ArtifactError(f"{path}: its manifest has no model_info.{f}; re-export it")
        name = str(manifest.get("model", ""))
        models[part] = name[: -len(part) - 1] if name.endswith(f"-{part}") else name
        infos[part], precs[part] = info, manifest.get("precision")
    ref = paths["feature"]
    for part in ("flow", "head"):
        for f in GEOMETRY_FIELDS:
            if infos[part][f] != infos["feature"][f]:
                raise ArtifactError(f"{paths[part]} and {ref} disagree on {f}: {infos[part][f]} in the {part} "
                                    f"graph, {infos['feature'][f]} in the feature graph; export all three parts "
                                    f"from one model")
        if models[part] != models["feature"]:
            raise ArtifactError(f"{paths[part]} comes from model {models[part]!r} but {ref} from "
                                f"{models['feature']!r}; the three parts must come from one model")
    geometry = {f: infos["feature"][f] for f in GEOMETRY_FIELDS}
    classes = list(infos["head"].get("classes") or infos["feature"].get("classes") or [])
    return DFFArtifacts(paths["feature"], paths["flow"], paths["head"], models["feature"], geometry, classes, precs)
