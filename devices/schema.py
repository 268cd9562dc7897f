"""Schema ``edgecv.device-profile/1``: typed profiles, lookup and the measured-over-predicted merge.

A profile is typed by the msgspec Structs below (JSON Schema: ``docs/schemas/device-profile.schema.json``, made
by :func:`json_schema`). :func:`validate_profile` checks a parsed YAML dict against them and names the first
field that fails (``bad.yaml: entries[2].provenance.host: required field is missing``). Fields the schema does
not know are kept, except those that look like a misspelt known field. What the Structs cannot say is checked
by small functions after them: dates, and p90 not below the median. The provenance's kind-dependent fields are
a tagged union (``kind``: measured | predicted | published). No torch, no jsonschema, nothing from the runtime.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import functools
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from .errors import ProfileError

SCHEMA = "edgecv.device-profile/1"
Kind = Literal["jetson", "phone", "desktop"]
ProvenanceKind = Literal["measured", "predicted", "published"]
Precision = Literal["fp32", "fp16", "bf16", "int8", "int4", "mixed", "unknown"]
# edgecv runtime backends (runtime.BACKENDS), plus native TensorRT for published figures.
Backend = Literal["ort", "ort-cuda", "ort-trt", "litert", "opencv", "tensorrt"]
ComputeUnit = Literal["cpu", "cuda", "tensorrt", "gpu-delegate", "nnapi", "dsp", "npu", "dla"]
Statistic = Literal["median", "mean", "unspecified"]
KINDS, PROVENANCE_KINDS, PRECISIONS, BACKENDS, COMPUTE_UNITS, STATISTICS = (
    typing.get_args(t) for t in (Kind, ProvenanceKind, Precision, Backend, ComputeUnit, Statistic))
# Compute unit an entry runs on when it does not say (the edgecv backends' defaults).
DEFAULT_COMPUTE_UNIT = {"ort": "cpu", "ort-cuda": "cuda", "ort-trt": "tensorrt", "litert": "cpu",
                        "opencv": "cpu", "tensorrt": "tensorrt"}
PEAK_KEY = r"^(fp64|fp32|tf32|fp16|bf16|int8|int4)(_sparse)?_(tflops|tops)$"
NONEMPTY = r"\S"
SHA256 = r"^[0-9a-f]{64}$"
# Which provenance beats which when two entries describe the same configuration.
PROVENANCE_RANK = {"measured": 0, "published": 1, "predicted": 2}

Text = Annotated[str, Meta(pattern=NONEMPTY)]
PosInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
Pos = Annotated[float, Meta(gt=0)]
# A date is checked after the Structs (``_date_problem``): YAML gives a string, a date or a datetime.
Date = Annotated[Any, Meta(extra_json_schema={
    "type": "string", "description": "ISO 8601 date or date-time: 2026-11-25 or 2026-11-25T10:41:53+00:00"})]
Mapping = dict[str, Any]


# ---------------------------------------------------------------------------------------------- device
class CpuCluster(Struct, kw_only=True):
    """One CPU cluster of a big.LITTLE phone."""
    cores: PosInt
    type: str | None = None
    clock_ghz: Pos | None = None


class Gpu(Struct, kw_only=True):
    name: str | None = None
    architecture: str | None = None
    cores: NonNegInt | None = None
    tensor_cores: NonNegInt | None = None
    clock_ghz: Pos | None = None
    notes: str | None = None


class Npu(Struct, kw_only=True):
    """A DLA / DSP / NPU."""
    name: Text
    count: PosInt | None = None
    int8_tops: Pos | None = None
    int8_sparse_tops: Pos | None = None
    fp16_tflops: Pos | None = None
    notes: str | None = None


class Source(Struct, kw_only=True):
    """Where (part of) the spec comes from."""
    name: Text
    url: str | None = None
    covers: str | None = None
    retrieved: Date = None


class Device(Struct, kw_only=True):
    """The spec of the device; every field but ``name`` and ``kind`` may be null (unknown)."""
    name: Text
    kind: Kind
    vendor: str | None = None
    model: str | None = None
    soc: str | None = None
    cpu: str | None = None
    cores: PosInt | None = None
    cpu_clusters: list[CpuCluster] | None = None
    cpu_clock_ghz: Pos | None = None
    gpu: Gpu | None = None
    npu: list[Npu] | None = None
    memory_gib: Pos | None = None
    memory_type: str | None = None
    memory_bandwidth_gbps: Pos | None = None
    peak_throughput: dict[Annotated[str, Meta(pattern=PEAK_KEY)], Pos | None] | None = None
    peak_notes: dict[str, str | None] | None = None
    power_w: Pos | Annotated[list[Pos], Meta(min_length=2, max_length=2)] | None = None
    arch: str | None = None
    os: str | None = None
    compute_units: list[ComputeUnit] | None = None
    sources: list[Source] | None = None
    notes: str | None = None


# ---------------------------------------------------------------------------------------------- entries
class Latency(Struct, kw_only=True):
    """Milliseconds; a published figure goes into ``median`` (its ``provenance.statistic`` says what it is)."""
    median: Pos
    p90: Pos | None = None
    mean: Pos | None = None
    min: Pos | None = None
    max: Pos | None = None
    std: Annotated[float, Meta(ge=0)] | None = None
    runs: NonNegInt | None = None
    warmup: NonNegInt | None = None


class Measured(Struct, kw_only=True, tag_field="kind", tag="measured"):
    """Measured on the device (``edgecv profile``)."""
    host: Text
    date: Date
    tools: Mapping
    command: Text
    device: Mapping | None = None
    notes: str | None = None


class Predicted(Struct, kw_only=True, tag_field="kind", tag="predicted"):
    """Predicted by a latency predictor, which it names with its inputs."""
    predictor: Text
    inputs: Mapping
    calibrated_on: list[str] | None = None
    date: Date = None
    error_pct: float | None = None
    notes: str | None = None


class Published(Struct, kw_only=True, tag_field="kind", tag="published"):
    """A figure from a cited source."""
    source: Text
    url: str | None = None
    date: Date = None
    retrieved: Date = None
    statistic: Statistic | None = None
    setup: str | None = None
    tools: Mapping | None = None
    notes: str | None = None


Provenance = Measured | Predicted | Published


class Entry(Struct, kw_only=True):
    """One artifact × backend × compute unit × precision × threads."""
    artifact: Text
    backend: Backend
    precision: Precision
    latency_ms: Latency
    provenance: Provenance
    model: str | None = None
    format: str | None = None
    ops_mode: Literal["standard", "portable"] | None = None
    sha256: Annotated[str, Meta(pattern=SHA256)] | None = None
    compute_unit: ComputeUnit | None = None
    runtime: str | None = None
    threads: PosInt | None = None
    batch: PosInt | None = None
    input_shape: list[int | list[int]] | None = None
    peak_memory_mib: Pos | None = None
    process_peak_rss_mib: Pos | None = None
    notes: str | None = None


# ---------------------------------------------------------------------------------------------- loops
class LoopProvenance(Struct, kw_only=True):
    kind: ProvenanceKind
    host: str | None = None
    date: Date = None
    command: str | None = None


class LoopRecord(Struct, kw_only=True):
    """A loop's own per-frame work outside its graphs, ms (``edgecv profile-loops``; may be negative where
    the loop runs its graphs faster than they ran alone)."""
    overhead_ms: float | None = None
    p90_ms: float | None = None
    key_frame_ms: float | None = None
    propagated_frame_ms: float | None = None
    parts_ms: dict[str, float] | None = None   # what the figure is made of (mot: resize, decode, association, ...)
    frames: NonNegInt | None = None
    what: str | None = None
    provenance: LoopProvenance | None = None


class Profile(Struct, kw_only=True):
    """A device profile (``devices/<name>.yaml``); unknown extra fields are kept."""
    schema: Literal["edgecv.device-profile/1"]
    device: Device
    entries: list[Entry] | None = None
    calibration: str | Mapping | None = None
    loops: dict[str, dict[str, LoopRecord]] | None = None
    notes: str | None = None


# ---------------------------------------------------------------------------------------------- errors
def _strip(t):
    while typing.get_origin(t) is Annotated:
        t = typing.get_args(t)[0]
    return t


def _is_struct(t) -> bool:
    return isinstance(t, type) and issubclass(t, Struct)


@functools.cache
def _members(t) -> tuple | None:
    """(member, its struct config or None, its container origin) of a union; None when ``t`` is no union."""
    if typing.get_origin(_strip(t)) not in (typing.Union, types.UnionType):
        return None
    return tuple((m, _strip(m).__struct_config__ if _is_struct(_strip(m)) else None, typing.get_origin(_strip(m)))
                 for m in typing.get_args(_strip(t)) if m is not type(None))


def _pick(t, v):
    """The member of ``t`` (a union, or not) that the value ``v`` is checked against; None if none fits."""
    members = _members(t)
    if members is None:
        return t
    if isinstance(v, dict):
        for m, cfg, _ in members:
            if cfg is not None and (cfg.tag_field is None or v.get(cfg.tag_field) == cfg.tag):
                return m
        return next((m for m, _, origin in members if origin is dict), None)
    if isinstance(v, list):
        return next((m for m, _, origin in members if origin is list), None)
    return next((m for m, cfg, origin in members if origin not in (dict, list) and cfg is None),
                members[0][0] if members else None)


@functools.cache
def _fields(cls) -> dict[str, Any]:
    return {f.encode_name: f.type for f in msgspec.structs.fields(cls)}


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


@functools.cache
def _has_struct(t) -> bool:
    t = _strip(t)
    return _is_struct(t) or any(_has_struct(a) for a in typing.get_args(t))


def _typos(v, t, path: str, fail) -> None:
    """Fields that look like a misspelt known field (``latency_msec``), before the Structs say "missing"."""
    if not _has_struct(t):
        return
    t = _strip(_pick(t, v))
    if _is_struct(t) and isinstance(v, dict):
        known = _fields(t)
        tag = t.__struct_config__.tag_field
        for k in v:
            if k in known or k == tag:
                continue
            if not isinstance(k, str):
                fail(path or "(top level)", f"field names must be strings, got {k!r}")
            close = difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.8)
            if close:
                fail(_join(path, k), f"unknown field (did you mean {close[0]!r}?)")
        for k, ft in known.items():
            if k in v:
                _typos(v[k], ft, _join(path, k), fail)
    elif typing.get_origin(t) is list and isinstance(v, list):
        for i, x in enumerate(v):
            _typos(x, typing.get_args(t)[0], f"{path}[{i}]", fail)
    elif typing.get_origin(t) is dict and isinstance(v, dict):
        for k, x in v.items():
            _typos(x, typing.get_args(t)[1], _join(path, k), fail)


def _arg(t, i: int):
    """Item (0) or value (1) type of a list / dict type; None when ``t`` is not one."""
    args = typing.get_args(t) if t is not None else ()
    return args[i] if len(args) > i else None


def _fails(v, t) -> bool:
    if t is None:
        return False
    try:
        msgspec.convert(v, t)
        return False
    except msgspec.ValidationError:
        return True


_TOKEN = re.compile(r"\.(\w+)|\[(\d+)\]|\[(\.\.\.)\]")
_WHAT = {"int": "an integer", "float": "a number", "str": "a string", "object": "a mapping", "array": "a list",
         "bool": "true or false"}
_PATTERN_MSG = {NONEMPTY: "must not be empty", SHA256: "expected 64 lower-case hex digits",
                PEAK_KEY: "expected keys like fp32_tflops, fp16_tflops, int8_tops, int8_sparse_tops"}


def _got(v) -> str:
    if isinstance(v, (dict, list)):
        return type(v).__name__
    return f"{type(v).__name__} {v!r}" if not isinstance(v, str) or len(v) < 80 else f"str {v[:77]!r}…"


def _explain(err: msgspec.ValidationError, doc) -> tuple[str, str]:
    """A msgspec error → (field path as the profile names it, message): ``entries[2].provenance.host``,
    ``required field is missing``. The path is rebuilt from the document (msgspec writes dict keys as
    ``[...]``), and the message says what was found there."""
    msg, sep, where = str(err).partition(" - at `")
    where = where.rstrip("`") if sep else "$"
    in_key = where.startswith("key` in `")
    where = where.split("`")[-1] if in_key else where
    t, v, path = Profile, doc, ""
    for name, index, any_key in _TOKEN.findall(where[1:]):
        t = _strip(_pick(t, v)) if t is not None else None
        if name:
            t = _fields(t).get(name) if _is_struct(t) else None
            v, path = (v.get(name, ...) if isinstance(v, dict) else ...), _join(path, name)
        elif index and isinstance(v, list):
            t, v, path = _arg(t, 0), v[int(index)], f"{path}[{index}]"
        elif any_key and isinstance(v, dict):   # the first value of the mapping that fails
            vt = _arg(t, 1)
            k = next((k for k, x in v.items() if _fails(x, vt)), next(iter(v)))
            t, v, path = vt, v[k], _join(path, k)
    if in_key and isinstance(v, dict):            # the first key of the mapping that fails
        kt = _arg(_strip(_pick(t, v)), 0) if t is not None else str
        k = next((k for k in v if _fails(k, kt)), "?")
        pattern = getattr(typing.get_args(kt)[1], "pattern", None) if typing.get_origin(kt) is Annotated else None
        return _join(path, k), _PATTERN_MSG.get(pattern, f"field names must be strings, got {k!r}")
    path = path or "(top level)"
    missing = re.match(r"Object missing required field `(\w+)`", msg)
    if missing:
        name = missing.group(1)
        tagged = name == "kind" and path.endswith("provenance")
        return _join("" if path == "(top level)" else path, name), "required field is missing" + (
            f" (one of {', '.join(PROVENANCE_KINDS)})" if tagged else "")
    if msg.startswith(("Invalid enum value", "Invalid value")):
        choices = typing.get_args(_strip(_pick(t, v))) or PROVENANCE_KINDS
        return path, f"{v!r} is not one of {', '.join(map(str, choices))}"
    m = re.match(r"Expected `str` matching regex '(.*)'$", msg)
    if m:
        pattern = m.group(1).encode().decode("unicode_escape")
        return path, f"{_PATTERN_MSG.get(pattern, 'must match ' + pattern)}, got {v!r}" \
            if pattern != NONEMPTY else _PATTERN_MSG[NONEMPTY]
    m = re.match(r"Expected `(\w+)` (>=|>|<=|<) (\S+)$", msg)
    if m:
        return path, f"must be {m.group(2).replace('>=', '≥').replace('<=', '≤')} {float(m.group(3)):g}, got {v!r}"
    m = re.match(r"Expected `(\w+)` of length (>=|<=) (\d+)$", msg)
    if m:
        op = m.group(2).replace(">=", "≥").replace("<=", "≤")
        return path, f"expected {_WHAT.get(m.group(1), m.group(1))} of length {op} {m.group(3)}, got {v!r}"
    m = re.match(r"Expected `([\w |]+)`, got `(\w+)`$", msg)
    if m:
        if m.group(2) == "null":
            return path, "must not be null"
        whats = [_WHAT.get(w.strip(), w.strip()) for w in m.group(1).split("|") if w.strip() != "null"]
        return path, f"expected {' or '.join(whats)}, got {_got(v)}"
    return path, f"{msg[0].lower()}{msg[1:]}, got {_got(v)}" if v is not ... else msg


def _date_problem(v, required: bool) -> str | None:
    if v is None:
        return "must not be null" if required else None
    if isinstance(v, (_dt.date, _dt.datetime)):
        return None
    if isinstance(v, str):
        try:
            _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            return None
        except ValueError:
            pass
    return f"expected an ISO 8601 date (2026-11-25 or 2026-11-25T10:41:53+00:00), got {v!r}"


def _dates(p: Profile):
    """(path, value, required) of every date in the profile."""
    for i, s in enumerate(p.device.sources or []):
        yield f"device.sources[{i}].retrieved", s.retrieved, False
    for i, e in enumerate(p.entries or []):
        pv = e.provenance
        yield f"entries[{i}].provenance.date", pv.date, isinstance(pv, Measured)
        if isinstance(pv, Published):
            yield f"entries[{i}].provenance.retrieved", pv.retrieved, False
    for pipe, recs in (p.loops or {}).items():
        for key, r in recs.items():
            if r.provenance is not None:
                yield f"loops.{pipe}.{key}.provenance.date", r.provenance.date, False


def _cross_field_problems(p: Profile):
    """What the Structs cannot say: dates, and a p90 below the median. Yields (path, message)."""
    for path, v, required in _dates(p):
        problem = _date_problem(v, required)
        if problem:
            yield path, problem
    for i, e in enumerate(p.entries or []):
        lat = e.latency_ms
        if lat.p90 is not None and lat.p90 < lat.median:
            yield f"entries[{i}].latency_ms.p90", f"p90 {lat.p90:g} is below the median {lat.median:g}"


def check_profile(d, source: str = "profile") -> Profile:
    """The typed :class:`Profile` of a parsed profile ``d``; ProfileError naming ``source`` and the field."""
    def fail(path, msg):
        raise ProfileError(f"{source}: {path}: {msg}")

    if d is None:
        fail("(top level)", "the file is empty")
    if not isinstance(d, dict):
        fail("(top level)", f"expected a mapping, got {type(d).__name__}")
    _typos(d, Profile, "", fail)
    if "schema" in d and d["schema"] != SCHEMA:
        fail("schema", f"expected {SCHEMA!r}, got {d['schema']!r}")
    try:
        typed = msgspec.convert(d, Profile)
    except msgspec.ValidationError as e:
        problem = _explain(e, d)
    else:
        problem = next(_cross_field_problems(typed), None)
    if problem:
        fail(*problem)
    return typed


def validate_profile(d: dict, source: str = "profile") -> dict:
    """Check ``d`` against schema ``edgecv.device-profile/1``; return it normalised (in place).

    Normalisation: every entry gets ``compute_unit`` (from its backend when absent), ``threads`` (null when
    absent) and ``latency_ms.p90`` (null when absent). Raises ProfileError naming ``source`` and the field.
    """
    check_profile(d, source)
    if d.get("entries") is None:
        d["entries"] = []
    for e in d["entries"]:
        e.setdefault("threads", None)
        e["latency_ms"].setdefault("p90", None)
        if e.get("compute_unit") is None:
            e["compute_unit"] = DEFAULT_COMPUTE_UNIT[e["backend"]]
    return d


def json_schema() -> dict:
    """JSON Schema of a device profile (``docs/schemas/device-profile.schema.json``)."""
    (top,), defs = msgspec.json.schema_components((Profile,), ref_template="#/$defs/{name}")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "edgecv device profile",
            **top, "$defs": defs}


# ---------------------------------------------------------------------------------------------- files
def _dir() -> Path:
    return Path(__file__).resolve().parent


def profile_paths() -> dict[str, Path]:
    """Device name → path of its shipped profile."""
    from importlib import resources

    return {Path(str(p)).stem: Path(str(p)) for p in resources.files("edgecv.devices").iterdir()
            if str(p).endswith(".yaml")}


def known_devices() -> list[str]:
    return sorted(profile_paths())


def _unknown(name: str) -> ProfileError:
    known = known_devices()
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ProfileError(f"unknown device {name!r}{hint}; known devices: {', '.join(known) or 'none'}")


def profile_path(name: str) -> Path:
    """Path of the shipped profile of device ``name``; ProfileError listing the known ones otherwise."""
    paths = profile_paths()
    if name not in paths:
        raise _unknown(name)
    return paths[name]


def _looks_like_path(s: str) -> bool:
    return s.endswith((".yaml", ".yml")) or "/" in s or "\\" in s or Path(s).exists()


def read_yaml(path) -> dict:
    import yaml

    path = Path(path)
    if not path.exists():
        raise ProfileError(f"{path}: no such profile file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: not valid YAML ({str(e).splitlines()[0]} …)") from None


def load_profile(name_or_path) -> dict:
    """A validated device profile, by device name (a shipped profile) or by path to a YAML file."""
    s = str(name_or_path)
    shipped = profile_paths()
    if isinstance(name_or_path, Path) or (s not in shipped and _looks_like_path(s)):
        path = Path(s)
    elif s in shipped:
        path = shipped[s]
    else:
        raise _unknown(s)
    d = validate_profile(read_yaml(path), str(path))
    if path.parent.resolve() == _dir() and d["device"]["name"] != path.stem:
        raise ProfileError(f"{path}: device.name: {d['device']['name']!r} must match the file name "
                           f"({path.stem!r})")
    return d


# ---------------------------------------------------------------------------------------------- lookup
def latency_ms(entry: dict) -> float:
    return float(entry["latency_ms"]["median"])


def _same_artifact(a: dict, b: dict) -> bool:
    if a.get("artifact") != b.get("artifact"):
        return False
    sa, sb = a.get("sha256"), b.get("sha256")
    return sa is None or sb is None or sa == sb


def entry_key(e: dict) -> tuple:
    """Configuration key (without the sha256; compare that with ``same_config``)."""
    cu = e.get("compute_unit") or DEFAULT_COMPUTE_UNIT.get(e.get("backend"), None)
    return (e.get("artifact"), e.get("backend"), cu, e.get("precision"), e.get("threads"))


def same_config(a: dict, b: dict) -> bool:
    """Same artifact (name, and sha256 where both have one) × backend × compute unit × precision × threads."""
    return entry_key(a) == entry_key(b) and _same_artifact(a, b)


def _date_key(e: dict) -> str:
    d = (e.get("provenance") or {}).get("date")
    return d.isoformat() if isinstance(d, (_dt.date, _dt.datetime)) else str(d or "")


def _best_first(entries: list[dict]) -> list[dict]:
    """Measured, then published, then predicted; newest first within a kind."""
    by_date = sorted(entries, key=_date_key, reverse=True)
    return sorted(by_date, key=lambda e: PROVENANCE_RANK.get((e.get("provenance") or {}).get("kind"), 9))


def find_entries(profile: dict, artifact: str | None = None, backend: str | None = None,
                 precision: str | None = None, threads: int | None = None, compute_unit: str | None = None,
                 sha256: str | None = None, provenance: str | None = None) -> list[dict]:
    """All entries matching the given fields (None: any), best first (measured > published > predicted)."""
    out = []
    for e in profile.get("entries", []):
        cu = e.get("compute_unit") or DEFAULT_COMPUTE_UNIT.get(e.get("backend"))
        if artifact is not None and e.get("artifact") != artifact and e.get("model") != artifact:
            continue
        if backend is not None and e.get("backend") != backend:
            continue
        if precision is not None and e.get("precision") != precision:
            continue
        if threads is not None and e.get("threads") != threads:
            continue
        if compute_unit is not None and cu != compute_unit:
            continue
        if sha256 is not None and e.get("sha256") not in (None, sha256):
            continue
        if provenance is not None and (e.get("provenance") or {}).get("kind") != provenance:
            continue
        out.append(e)
    return _best_first(out)


def find_entry(profile: dict, artifact: str | None = None, backend: str | None = None,
               precision: str | None = None, threads: int | None = None, compute_unit: str | None = None,
               sha256: str | None = None, provenance: str | None = None) -> dict | None:
    """The best entry for this configuration (measured > published > predicted, newest first), or None.

    ``artifact`` matches the entry's artifact file name or its model name.
    """
    found = find_entries(profile, artifact, backend, precision, threads, compute_unit, sha256, provenance)
    return found[0] if found else None


def provenance_counts(profile: dict) -> dict[str, int]:
    out = {k: 0 for k in PROVENANCE_KINDS}
    for e in profile.get("entries", []):
        kind = (e.get("provenance") or {}).get("kind", "?")
        out[kind] = out.get(kind, 0) + 1
    return out


# ---------------------------------------------------------------------------------------------- merge
_FILLABLE_DEVICE = ("cpu", "cores", "memory_gib", "arch", "os")


def merge_measured(base: dict, imported: dict) -> tuple[dict, dict]:
    """Merge the measured entries of ``imported`` into ``base`` (both validated); returns (merged, summary).

    A measured entry replaces every entry of ``base`` with the same configuration (see ``same_config``),
    whatever its provenance: predictions and published figures give way to a measurement, and a newer
    measurement replaces an older one. Entries of ``imported`` that are not measured are skipped. The
    device block of ``base`` is kept; its null/missing ``cpu, cores, memory_gib, arch, os`` are filled
    from the imported device block.
    """
    new = [e for e in imported.get("entries", []) if (e.get("provenance") or {}).get("kind") == "measured"]
    skipped = len(imported.get("entries", [])) - len(new)
    replaced = {k: 0 for k in PROVENANCE_KINDS}
    kept = []
    for e in base.get("entries", []):
        if any(same_config(e, n) for n in new):
            replaced[(e.get("provenance") or {}).get("kind", "measured")] += 1
        else:
            kept.append(e)
    out = dict(base)
    dev = dict(base["device"])
    filled = []
    for k in _FILLABLE_DEVICE:
        if dev.get(k) is None and imported.get("device", {}).get(k) is not None:
            dev[k] = imported["device"][k]
            filled.append(k)
    out["device"] = dev
    out["entries"] = kept + new
    summary = {"added": len(new), "replaced": replaced, "kept": len(kept), "skipped_not_measured": skipped,
               "device_fields_filled": filled}
    return out, summary


def write_yaml_atomic(profile: dict, path) -> Path:
    """Write ``profile`` to ``path`` via a hidden temp file beside it + rename (no merge, no validation)."""
    import yaml

    path = Path(path)
    path.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        tmp.write_text(yaml.safe_dump(profile, sort_keys=False, width=120))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def import_measured(file, device: str | None = None, out=None) -> tuple[Path, dict]:
    """``edgecv profile --import``: merge the measured entries of ``file`` into a device's profile.

    ``device``: the shipped profile to merge into (default: the imported file's ``device.name``; it must be
    a known device). ``out``: write the merged profile there instead (the file there, if any, is the base;
    else the shipped profile of ``device`` when known, else the imported file's device block alone).
    The imported file is validated first; the merged profile is validated before it is written (temp file +
    rename). Returns (path written, summary of ``merge_measured``).
    """
    imported = validate_profile(read_yaml(file), str(file))
    name = device or imported["device"]["name"]
    if out is not None:
        dest = Path(out)
        if dest.exists():
            base = validate_profile(read_yaml(dest), str(dest))
        elif name in profile_paths():
            base = load_profile(name)
        else:
            base = {"schema": SCHEMA, "device": dict(imported["device"], name=name), "entries": []}
    else:
        dest = profile_path(name)  # ProfileError listing the known devices
        base = load_profile(name)
    if not any((e.get("provenance") or {}).get("kind") == "measured" for e in imported.get("entries", [])):
        raise ProfileError(f"{file}: entries: no measured entries to import")
    merged, summary = merge_measured(base, imported)
    merged = validate_profile(merged, f"{dest} (merged)")
    summary["device"] = merged["device"]["name"]
    return write_yaml_atomic(merged, dest), summary
