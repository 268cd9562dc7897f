"""The pipeline/bundle contract: which graphs a pipeline runs, what ``edgecv export`` calls them on disk,
and what their manifests must say. Torch-free.

One :class:`PipelineSpec` per pipeline (:data:`PIPELINES`) and one function for each rule, so the exporter
(which writes names), the runtime loops, the planner, the CLI, the demo and the benches (which read them)
cannot drift apart:

- :func:`artifact_name` / :func:`artifact_path`: ``{model}[-{part}]-{ops}-{precision}.onnx`` or
  ``{model}[-{part}]-{precision}.tflite`` (TFLite is always portable ops, so the name leaves it out);
- :func:`backend_format` / :func:`runtime_backend`: a backend name → the artifact format it runs / the
  ``edgecv.runtime.load`` backend;
- :func:`find_bundle` / :func:`check_bundle`: a pipeline's artifacts in a folder, their manifests checked
  (pipeline, part, model, shared geometry), errors naming the file and the field; a single-graph pipeline
  (``parts == ()``: ``classify``, ``detect``) is one file, checked by :func:`check_graph` (its bundle's one
  part is ``""``).

Each manifest's field types and ranges are checked on read by :mod:`edgecv.runtime.manifest`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from .errors import ArtifactError
from .manifest import (
    ClassifyInfo,
    ColorizeInfo,
    DetectInfo,
    DFFInfo,
    TrackInfo,
    exported_model,
    info_type,
    manifest_path,
    read_manifest,
)

__all__ = ["FORMATS", "PRECISIONS", "BACKEND_FORMAT", "FORMAT_BACKEND", "SUFFIX_BACKEND", "PipelineSpec",
           "PIPELINES", "Bundle", "artifact_name", "artifact_path", "precision_of", "backend_format",
           "runtime_backend", "export_hint", "part_precisions", "find_bundle", "check_bundle", "check_graph",
           "describe_artifact", "model_of"]

FORMATS = ("onnx", "tflite")
PRECISIONS = ("fp32", "fp16", "int8")
# every backend name the CLI, plans and device profiles use → the artifact format it runs
BACKEND_FORMAT = {"ort": "onnx", "ort-cuda": "onnx", "ort-trt": "onnx", "opencv": "onnx", "tensorrt": "onnx",
                  "onnx": "onnx", "litert": "tflite", "tflite": "tflite"}
FORMAT_BACKEND = {"onnx": "ort", "tflite": "litert"}   # the default backend of each format
SUFFIX_BACKEND = {f".{fmt}": b for fmt, b in FORMAT_BACKEND.items()}   # an artifact file's suffix → that backend


@dataclass(frozen=True)
class PipelineSpec:
    """What one pipeline's bundle is: its graphs, the model_info they carry, and how to make them."""
    name: str                     # the pipeline's name in the CLI and plans
    parts: tuple[str, ...]        # graph parts, in run order; () for a single-graph model
    info: type                    # the model_info Struct (edgecv.runtime.manifest) every part's manifest holds
    noun: str                     # for messages: "not a {noun} artifact"
    default_model: str            # what `edgecv export` makes for it by default
    shared: tuple[str, ...] = ()  # model_info fields all parts must agree on
    fp32_fallback: tuple[str, ...] = ()   # parts that may run fp32 when their lower precision is missing
    model_field: str | None = None        # model_info field naming the model (else: the manifest's model name)


PIPELINES = {
    "track": PipelineSpec(
        "track", ("template", "search"), TrackInfo, "tracker", "siamfc",
        shared=("template_size", "search_size", "stride", "score_size", "context"),
        # the template graph runs once per target: a lower precision buys no per-frame speed
        fp32_fallback=("template",), model_field="tracker"),
    "propagate": PipelineSpec(
        "propagate", ("feature", "flow", "head"), DFFInfo, "Deep Feature Flow", "dff-seg",
        shared=("frame_size", "feature_stride", "feature_size", "feature_channels")),
    "colorize": PipelineSpec(
        "colorize", ("ref", "frame"), ColorizeInfo, "colorizer", "excolor",
        shared=("reference_size", "match_stride", "match_grid", "match_channels", "ab_scale", "l_scale")),
    "classify": PipelineSpec("classify", (), ClassifyInfo, "classifier", "mnv2-dcn"),
    # one graph: centre heatmap, box distances and re-id embeddings (the multi-object tracker's detector)
    "detect": PipelineSpec("detect", (), DetectInfo, "person detector", "persondet-lite0"),
}


@dataclass
class Bundle:
    """A checked bundle: the part paths, the model they come from, each part's typed model_info and
    precision, and the shared geometry."""
    pipeline: str
    model: str
    paths: dict                                     # part → Path
    infos: dict                                     # part → model_info Struct
    precisions: dict = field(default_factory=dict)  # part → precision, from the manifests
    geometry: dict = field(default_factory=dict)    # the spec's shared fields (as in the manifests)
    raw_infos: dict = field(default_factory=dict)   # part → model_info dict


def artifact_name(model: str, part: str | None = None, fmt: str = "onnx", precision: str = "fp32",
                  ops: str | None = None) -> str:
    """The file name ``edgecv export`` writes for ``part`` of ``model`` (the ops mode is in ONNX names only)."""
    stem = f"{model}-{part}" if part else model
    if fmt == "onnx":
        return f"{stem}-{ops or 'standard'}-{precision}.onnx"
    if fmt == "tflite":
        return f"{stem}-{precision}.tflite"
    raise ArtifactError(f"unknown artifact format {fmt!r}; choose from {', '.join(FORMATS)}")


def precision_of(name: str) -> str | None:
    """The precision an artifact file name carries (the inverse of :func:`artifact_name`'s last field)."""
    stem = str(name).rsplit(".", 1)[0]
    return next((p for p in PRECISIONS if stem.endswith(f"-{p}")), None)


def artifact_path(art_dir, model: str, part: str | None = None, fmt: str = "onnx", precision: str = "fp32",
                  ops: str | None = None) -> Path:
    return Path(art_dir) / artifact_name(model, part, fmt, precision, ops)


def backend_format(backend: str, error: type = ArtifactError) -> str:
    """The artifact format (onnx | tflite) ``backend`` runs; a ``backend:unit`` name counts as its backend."""
    fmt = BACKEND_FORMAT.get(str(backend).split(":")[0])
    if fmt is None:
        raise error(f"unknown backend {backend!r}; choose from ort, ort-cuda, ort-trt, litert, opencv")
    return fmt


def runtime_backend(backend: str, error: type = ArtifactError) -> str:
    """The ``edgecv.runtime.load`` backend for a CLI backend name (``tflite`` → ``litert``, ``onnx`` → ``ort``)."""
    if backend == "auto":
        return backend
    backend_format(backend, error)
    return FORMAT_BACKEND.get(backend, backend)


def export_hint(model: str, fmt: str, precision: str, ops: str | None = None, art_dir=None) -> str:
    """The ``edgecv export`` command that makes a missing artifact."""
    return (f"edgecv export {model} --format {fmt} --precision {precision}" + (f" --ops {ops}" if ops else "")
            + (f" --out {art_dir}" if art_dir is not None else ""))


def part_precisions(pipeline: str, precision: str, part_precision: dict | None = None,
                    error: type = ArtifactError) -> dict:
    """part → precision: ``precision`` for every part of ``pipeline``, overridden by ``part_precision``."""
    parts = PIPELINES[pipeline].parts
    out = {p: precision for p in parts}
    for part, prec in (part_precision or {}).items():
        if part not in parts:
            raise error(f"part precision for {part!r}: unknown part; the parts are {', '.join(parts)}")
        out[part] = prec
    bad = sorted({v for v in out.values() if v not in PRECISIONS})
    if bad:
        raise error(f"unknown precision {', '.join(bad)}; choose from {', '.join(PRECISIONS)}")
    return out


def find_bundle(pipeline: str, art_dir, model: str | None = None, fmt: str = "onnx", precision: str = "fp32",
                ops: str | None = None, part_precision: dict | None = None, file_parts: dict | None = None,
                error: type = ArtifactError) -> Bundle:
    """The artifacts of ``pipeline`` for ``model`` in ``art_dir``, checked with :func:`check_bundle`.

    ``file_parts`` names a part differently on disk (colorize: ``{"frame": "frame-320x240"}``). A missing
    file raises ``FileNotFoundError`` with the ``edgecv export`` command that makes it.
    """
    spec = PIPELINES[pipeline]
    model = model or spec.default_model
    if fmt not in FORMATS:
        raise error(f"unknown artifact format {fmt!r}; choose from {', '.join(FORMATS)}")
    ops = (ops or "standard") if fmt == "onnx" else None
    if not spec.parts:
        if precision not in PRECISIONS:
            raise error(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
        p = artifact_path(art_dir, model, None, fmt, precision, ops)
        if not p.is_file():
            raise FileNotFoundError(f"no {spec.noun} artifact {p}; export it with "
                                    f"`{export_hint(model, fmt, precision, ops, art_dir)}`")
        return check_graph(pipeline, p, model, error)
    paths = {}
    for part, prec in part_precisions(pipeline, precision, part_precision, error).items():
        name = (file_parts or {}).get(part, part)
        p = artifact_path(art_dir, model, name, fmt, prec, ops)
        if not p.is_file() and part in spec.fp32_fallback and prec != "fp32":
            fp32 = artifact_path(art_dir, model, name, fmt, "fp32", ops)
            p = fp32 if fp32.is_file() else p
        if not p.is_file():
            extra = ""
            if name != part and Path(art_dir).is_dir():  # a part exported in several variants (sizes)
                have = sorted({q.name[len(f"{model}-{part}-"):].split("-")[0].split(".")[0]
                               for q in Path(art_dir).glob(f"{model}-{part}-*")})
                extra = f" ({part} sizes exported there: {', '.join(have)})" if have else ""
            raise FileNotFoundError(f"no {part} artifact {p}{extra}; export it with "
                                    f"`{export_hint(model, fmt, prec, ops, art_dir)}`")
        paths[part] = p
    return check_bundle(pipeline, paths, model, error)


def model_of(manifest: dict, spec: PipelineSpec | None = None) -> str:
    """The exported model a part's manifest comes from (its name without the ``-{part}...`` suffix)."""
    if spec is not None and spec.model_field:
        return str((manifest.get("model_info") or {}).get(spec.model_field))
    return exported_model(manifest)


def check_bundle(pipeline: str, paths: dict, model: str | None = None, error: type = ArtifactError) -> Bundle:
    """Check the manifests of a bundle (part → path): each says ``pipeline`` and its own part, all come from
    one model (``model`` when given) and agree on the spec's shared fields. Raises ``error`` for the wrong
    pipeline, part or model and ArtifactError for a missing file or a disagreement, naming file and field."""
    spec = PIPELINES[pipeline]
    if not spec.parts:   # one graph: a path, or a one-entry mapping (part "")
        if isinstance(paths, dict):
            if len(paths) != 1:
                raise error(f"a {pipeline} model is one graph, got {len(paths)} paths")
            (paths,) = paths.values()
        return check_graph(pipeline, paths, model, error)
    missing = [p for p in spec.parts if p not in paths]
    if missing:
        raise error(f"a {pipeline} bundle needs the {', '.join(missing)} artifact(s) too")
    paths = {part: Path(paths[part]) for part in spec.parts}
    infos, raw, models, precs = {}, {}, {}, {}
    for part, path in paths.items():
        if not path.is_file():
            raise ArtifactError(f"artifact {path} does not exist")
        manifest = read_manifest(path, required=True)   # types, ranges and binding checked there
        info = manifest.get("model_info") or {}
        if info_type(info) is not spec.info:
            raise error(_wrong_pipeline(path, manifest, spec, model))
        got = model_of(manifest, spec)
        if info.get("part") != part:
            raise error(f"{path}: is the {info.get('part')!r} graph of a {got!r} {spec.noun}, but the {part!r} "
                        "graph was expected here")
        if model is not None and got != model:
            raise error(f"{path}: is the {part} graph of a {got!r} {spec.noun}, but the {part} graph of {model!r} "
                        "was expected")
        infos[part], raw[part] = msgspec.convert(info, spec.info), info
        models[part], precs[part] = got, manifest.get("precision")
    first = spec.parts[0]
    for part in spec.parts[1:]:
        for f in spec.shared:
            if raw[part].get(f) != raw[first].get(f):
                raise ArtifactError(f"{paths[part]} and {paths[first]} disagree on {f}: {raw[part].get(f)} in the "
                                    f"{part} graph, {raw[first].get(f)} in the {first} graph; export all parts "
                                    "from one model")
        if models[part] != models[first]:
            raise ArtifactError(f"{paths[part]} comes from model {models[part]!r} but {paths[first]} from "
                                f"{models[first]!r}; the parts of a bundle must come from one model")
    geometry = {f: raw[first][f] for f in spec.shared if f in raw[first]}
    return Bundle(pipeline, models[first], paths, infos, precs, geometry, raw)


def describe_artifact(manifest: dict) -> str:
    """What an artifact is, from its (checked) manifest, for messages: "the 'template' graph of the 'siamfc'
    tracker", "the 'persondet-lite0' person detector"; a manifest without a pipeline tag or a tracker field
    (the scene classifier, an imported graph) reads "the single-graph model 'mnv2-dcn' (...)"."""
    info = manifest.get("model_info") or {}
    kind = info_type(info)
    spec = next((s for s in PIPELINES.values() if s.info is kind), None)
    noun = spec.noun if spec is not None else "model"
    got = model_of(manifest, spec)
    if kind is ClassifyInfo:
        return f"the single-graph model {got!r} (a classifier or an imported graph)"
    part = info.get("part")
    return f"the {part!r} graph of the {got!r} {noun}" if part else f"the {got!r} {noun}"


def _wrong_pipeline(path, manifest: dict, spec: PipelineSpec, model: str | None) -> str:
    info = manifest.get("model_info") or {}
    tag = f"model_info.pipeline is {info.get('pipeline')!r}" if "pipeline" in info else (
        "model_info has no pipeline" + ("" if spec.model_field is None else f" and no {spec.model_field}"))
    return (f"{path}: not a {spec.noun} artifact: it is {describe_artifact(manifest)} (its manifest's {tag}); "
            f"export one with `edgecv export {model or spec.default_model}`")


def check_graph(pipeline: str, path, model: str | None = None, error: type = ArtifactError) -> Bundle:
    """Check the manifest of a single-graph pipeline's artifact (``classify``, ``detect``): it exists, has a
    manifest, is of ``pipeline`` (``error`` naming the file and what it is otherwise) and comes from ``model``
    when given. Returns a :class:`Bundle` whose one part is ``""``."""
    spec = PIPELINES[pipeline]
    if spec.parts:
        raise error(f"a {pipeline} bundle has {len(spec.parts)} graphs ({', '.join(spec.parts)}): use check_bundle")
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"artifact {path} does not exist" if not path.exists() else
                            f"artifact {path} is not a file")
    if not manifest_path(path).exists():
        raise error(f"{path}: no manifest {manifest_path(path).name} beside it, so it cannot be checked as a "
                    f"{spec.noun}; export one with `edgecv export {model or spec.default_model}` (it writes both)")
    manifest = read_manifest(path, required=True)   # types, ranges and binding checked there
    info = manifest.get("model_info") or {}
    if info_type(info) is not spec.info:
        raise error(_wrong_pipeline(path, manifest, spec, model))
    got = model_of(manifest, spec)
    if model is not None and got != model:
        raise error(f"{path}: is the {got!r} {spec.noun}, but {model!r} was expected")
    return Bundle(pipeline, got, {"": path}, {"": msgspec.convert(info, spec.info)},
                  {"": manifest.get("precision")}, {}, {"": info})
