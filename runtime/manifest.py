"""Artifact manifests: ``model.onnx`` is described by ``model.onnx.json`` next to it.

A manifest is typed (the msgspec Structs below; JSON Schema in ``docs/schemas/manifest.schema.json``,
made by :func:`json_schema`) and checked on every read: each field's type and range, ``model_info`` by
pipeline (:func:`info_type`), and its binding to the graph. Errors name the file and the field and are
raised as :class:`ArtifactError` (the CLI prints one line, exit 2).

Binding: ``sha256`` is the graph's hash (checked by :func:`verify_artifact`), and ``manifest_sha256`` is the
hash of the manifest's own canonical JSON without that field (:func:`manifest_digest`), so a manifest whose
``model_info`` (or graph hash) was edited after export is refused. This is integrity, not authenticity:
whoever can write the folder can re-seal a manifest. Manifests written before the field existed are refused
with a re-export hint (artifacts are rebuilt from the shipped weights in seconds).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from .errors import ArtifactError, explain_validation

SCHEMA = "edgecv.manifest/1"

PosInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
PosFloat = Annotated[float, Meta(gt=0)]
Pair = Annotated[list[PosInt], Meta(min_length=2, max_length=2, description="[height, width]")]
Name = Annotated[str, Meta(min_length=1)]
Sha256 = Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
DType = Literal["float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"]


class Quantization(Struct):
    scale: PosFloat
    zero_point: int


class Tensor(Struct):
    name: Name
    shape: list[NonNegInt]
    dtype: DType
    quantization: Quantization | None = None


class Calibration(Struct):
    source: str
    method: str | None = None


class Cost(Struct):
    macs: NonNegInt
    params: NonNegInt


class Parity(Struct):
    passed: bool
    max_rel_err: float
    max_abs_err: float
    outputs: dict[str, dict[str, float]] = {}
    inputs: str = ""
    backend: str = ""
    kept_despite_failure: bool = False
    tolerance: PosFloat | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None


class Manifest(Struct, kw_only=True):
    """One artifact's manifest, as ``edgecv export`` writes it (unknown extra fields are ignored)."""
    schema: Literal["edgecv.manifest/1"]
    model: Name
    format: Literal["onnx", "tflite"]
    precision: Literal["fp32", "fp16", "int8"]
    file: Name
    bytes: PosInt
    sha256: Sha256
    inputs: Annotated[list[Tensor], Meta(min_length=1)]
    outputs: list[Tensor]
    model_info: dict[str, Any] = {}
    manifest_sha256: Sha256 | None = None
    description: str = ""
    ops_mode: Literal["standard", "portable"] | None = None
    opset: PosInt | None = None
    op_counts: dict[str, NonNegInt] = {}
    custom_ops: list[str] = []
    calibration: Calibration | None = None
    cost: Cost | None = None
    tools: dict[str, str] = {}
    created: str = ""
    parity: Parity | None = None
    export_seconds: Annotated[float, Meta(ge=0)] | None = None


# ---- model_info, one Struct per pipeline (edgecv.runtime.bundle names which one a pipeline needs) ----------

class TrackInfo(Struct):
    """A Siamese tracker graph (template or search): the crop and score-map geometry."""
    tracker: Name
    part: Literal["template", "search"]
    template_size: PosInt
    search_size: PosInt
    stride: PosInt
    score_size: PosInt
    score_centre: NonNegInt | None = None
    context: Annotated[float, Meta(ge=0)] = 0.5
    input: str = ""

    def __post_init__(self):
        if self.search_size < self.template_size:
            raise ValueError(f"search_size ({self.search_size}) must be >= template_size ({self.template_size})")


class DFFInfo(Struct):
    """A Deep Feature Flow graph (feature, flow or head): frame and feature-grid geometry."""
    pipeline: Literal["dff"]
    part: Literal["feature", "flow", "head"]
    frame_size: Pair
    feature_stride: PosInt
    feature_size: Pair
    feature_channels: PosInt
    classes: list[str] = []
    dcn: bool | None = None
    input_format: str = ""
    flow_units: str = ""


class ColorizeInfo(Struct):
    """An exemplar colorizer graph (ref or frame): the match grid; frame graphs also their working size."""
    pipeline: Literal["colorize"]
    part: Literal["ref", "frame"]
    reference_size: Pair
    match_stride: PosInt
    match_grid: Pair
    match_channels: PosInt
    ab_scale: PosFloat
    l_scale: PosFloat
    size: Pair | None = None
    ab_size: Pair | None = None
    input_format: str = ""

    def __post_init__(self):
        if self.part == "frame" and (self.size is None or self.ab_size is None):
            raise ValueError("a frame graph needs size and ab_size")


class ClassifyInfo(Struct):
    """A single-graph model (the scene classifier and others): classes, when it has them."""
    classes: list[str] = []
    input_format: str = ""


class DetectInfo(Struct):
    """An object detector with an appearance embedding (one graph, e.g. ``persondet-lite0``): the whole frame
    resized to ``input_size``; a centre heatmap, box distances and embeddings on one ``stride`` grid."""
    pipeline: Literal["detect"]
    input_size: Pair
    stride: PosInt
    grid_size: Pair
    embed_dim: PosInt
    classes: Annotated[list[str], Meta(min_length=1)]
    input_format: str = ""
    box_format: str = ""
    trunk: str = ""
    # the detector's F1-optimal score on its training frames; the MOT variants' thresholds follow it
    operating_point: Annotated[float, Meta(gt=0, lt=1)] | None = None

    def __post_init__(self):
        want = [self.input_size[0] // self.stride, self.input_size[1] // self.stride]
        if list(self.grid_size) != want or any(s % self.stride for s in self.input_size):
            raise ValueError(f"grid_size {self.grid_size} does not fit input_size {self.input_size} at stride "
                             f"{self.stride} (expected {want}, the input a multiple of the stride)")


INFO_TAGS = {"dff": DFFInfo, "colorize": ColorizeInfo, "detect": DetectInfo}   # model_info.pipeline → its Struct


def info_type(info: dict) -> type:
    """The model_info Struct a manifest's ``model_info`` must satisfy: by its ``pipeline`` tag, trackers
    by their ``tracker`` field, anything else a single-graph model."""
    tag = info.get("pipeline")
    if tag is not None:
        if tag not in INFO_TAGS:
            raise ValueError(f"model_info.pipeline must be one of {', '.join(map(repr, INFO_TAGS))}, got {tag!r}")
        return INFO_TAGS[tag]
    return TrackInfo if "tracker" in info else ClassifyInfo


# ---- reading and checking -----------------------------------------------------------------------------------

def manifest_path(artifact) -> Path:
    return Path(str(artifact) + ".json")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def exported_model(m: dict) -> str:
    """The model ``edgecv export`` was given for this manifest's graph (its name without ``-{part}...``)."""
    info = m.get("model_info") if isinstance(m.get("model_info"), dict) else {}
    name, part = str(m.get("model", "")), info.get("part")
    return name.split(f"-{part}")[0] if part else name


def manifest_digest(m: dict) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, no spaces), ``manifest_sha256`` left out."""
    body = {k: v for k, v in m.items() if k != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def seal_manifest(m: dict) -> dict:
    """Bind ``m`` to its contents (graph sha256 included): set ``manifest_sha256``. Export calls it last."""
    m["manifest_sha256"] = manifest_digest(m)
    return m


def check_manifest(m, path, check_binding: bool = True) -> Manifest:
    """Validate a parsed manifest ``m`` (read from ``path``): types, ranges, model_info by pipeline, and
    (``check_binding``) ``manifest_sha256``. Returns the typed :class:`Manifest`; raises ArtifactError."""
    if not isinstance(m, dict):
        raise ArtifactError(f"{path}: not an edgecv manifest (a JSON {type(m).__name__}, expected an object); "
                            "re-export the artifact with `edgecv export`")
    if m.get("schema") != SCHEMA:
        raise ArtifactError(f"manifest {path} has schema {m.get('schema')!r}, expected {SCHEMA!r}")
    try:
        typed = msgspec.convert(m, Manifest)
    except msgspec.ValidationError as e:
        raise ArtifactError(f"{path}: {explain_validation(e, m, top='the manifest')}") from None
    info = m["model_info"] if isinstance(m.get("model_info"), dict) else {}
    try:
        msgspec.convert(info, info_type(info))
    except msgspec.ValidationError as e:
        raise ArtifactError(f"{path}: {explain_validation(e, info, 'model_info.', 'the manifest')}") from None
    except ValueError as e:  # an unknown pipeline tag
        raise ArtifactError(f"{path}: {e}") from None
    if check_binding:
        hint = (f"re-export it: `edgecv export {exported_model(m)} --format {typed.format} --precision "
                f"{typed.precision}" + (f" --ops {typed.ops_mode}`" if typed.format == "onnx" else "`"))
        if typed.manifest_sha256 is None:
            raise ArtifactError(f"manifest {path} has no manifest_sha256 (written by an older edgecv export, "
                                f"before manifests were bound to their graphs); {hint}")
        if manifest_digest(m) != typed.manifest_sha256:
            raise ArtifactError(f"manifest {path} was modified after export (its manifest_sha256 does not match "
                                f"its contents); {hint}")
    return typed


def read_manifest(artifact, required: bool = False) -> dict | None:
    """The checked manifest of ``artifact`` as a dict (None when it has none and not ``required``)."""
    path = manifest_path(artifact)
    if not path.exists():
        if required:
            raise ArtifactError(f"no manifest {path} beside artifact {artifact}")
        return None
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"manifest {path} is not valid JSON: {e}") from None
    check_manifest(m, path)
    return m


def verify_artifact(artifact, manifest: dict) -> None:
    """Check size and sha256 of ``artifact`` against its manifest before anything loads it."""
    artifact = Path(artifact)
    size = artifact.stat().st_size
    if "bytes" in manifest and size != manifest["bytes"]:
        raise ArtifactError(f"{artifact}: {size} bytes on disk but the manifest says {manifest['bytes']} "
                            "(truncated or replaced artifact)")
    digest = sha256_file(artifact)
    if digest != manifest.get("sha256"):
        raise ArtifactError(f"{artifact}: sha256 {digest[:16]}… does not match the manifest's "
                            f"{str(manifest.get('sha256'))[:16]}… (corrupted or replaced artifact)")


def json_schema() -> dict:
    """JSON Schema of a manifest, with ``model_info`` one of the per-pipeline Structs (for the docs)."""
    infos = (TrackInfo, DFFInfo, ColorizeInfo, DetectInfo, ClassifyInfo)
    (top, *_), defs = msgspec.json.schema_components((Manifest, *infos), ref_template="#/$defs/{name}")
    defs["Manifest"]["properties"]["model_info"] = {
        "description": "per pipeline: TrackInfo (has `tracker`), DFFInfo / ColorizeInfo / DetectInfo (by `pipeline`), "
                       "else ClassifyInfo",
        "anyOf": [{"$ref": f"#/$defs/{t.__name__}"} for t in infos]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "edgecv artifact manifest",
            **top, "$defs": defs}
