"""Schema ``edgecv.device-profile/1``: validation, lookup and the measured-over-predicted merge.

Light on purpose (pyyaml only; no torch, no jsonschema). ``validate_profile`` checks every field it knows,
names the first one that fails (``entries[2].provenance.host``) and tolerates fields it does not know,
except those that look like a misspelt known field. See devices/README.md for the documented schema.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import re
from pathlib import Path

from edgecv.runtime.errors import EdgeCVError

SCHEMA = "edgecv.device-profile/1"
KINDS = ("jetson", "phone", "desktop")
PROVENANCE_KINDS = ("measured", "predicted", "published")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4", "mixed", "unknown")
# edgecv runtime backends (runtime.BACKENDS), plus native TensorRT for published figures.
BACKENDS = ("ort", "ort-cuda", "ort-trt", "litert", "opencv", "tensorrt")
COMPUTE_UNITS = ("cpu", "cuda", "tensorrt", "gpu-delegate", "nnapi", "dsp", "npu", "dla")
# Compute unit an entry runs on when it does not say (the edgecv backends' defaults).
DEFAULT_COMPUTE_UNIT = {"ort": "cpu", "ort-cuda": "cuda", "ort-trt": "tensorrt", "litert": "cpu",
                        "opencv": "cpu", "tensorrt": "tensorrt"}
PEAK_KEY = re.compile(r"^(fp64|fp32|tf32|fp16|bf16|int8|int4)(_sparse)?_(tflops|tops)$")
STATISTICS = ("median", "mean", "unspecified")
# Which provenance beats which when two entries describe the same configuration.
PROVENANCE_RANK = {"measured": 0, "published": 1, "predicted": 2}


class ProfileError(EdgeCVError):
    """A device profile is missing, unknown or does not follow the schema (the message names file + field)."""


# --------------------------------------------------------------------------------------------- checkers
_NUM = (int, float)


def _is_num(v) -> bool:
    return isinstance(v, _NUM) and not isinstance(v, bool)


class _Ctx:
    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, msg: str):
        raise ProfileError(f"{self.source}: {path}: {msg}")

    def mapping(self, d, path: str) -> dict:
        if not isinstance(d, dict):
            self.fail(path, f"expected a mapping, got {type(d).__name__}")
        return d

    def keys(self, d: dict, path: str, known, required=()):
        known = set(known) | set(required)
        for k in d:  # misspelt fields first: "latency_msec" says more than "latency_ms is missing"
            if k in known:
                continue
            if not isinstance(k, str):
                self.fail(path or "(top level)", f"field names must be strings, got {k!r}")
            close = difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.8)
            if close:
                self.fail(f"{path}.{k}" if path else k, f"unknown field (did you mean {close[0]!r}?)")
        for k in required:
            if k not in d:
                self.fail(f"{path}.{k}" if path else k, "required field is missing")

    def field(self, d, k, path, required=False, nullable=True):
        """(path of ``k``, its value); the value is None when there is nothing more to check (absent, or an
        allowed null). Fails on a missing required field and on a null that is not allowed."""
        p = f"{path}.{k}" if path else k
        if k not in d:
            if required:
                self.fail(p, "required field is missing")
            return p, None
        if d[k] is None and not nullable:
            self.fail(p, "must not be null")
        return p, d[k]

    def str_(self, d, k, path, required=False, nullable=True, choices=None):
        p, v = self.field(d, k, path, required, nullable)
        if v is None:
            return
        if not isinstance(v, str):
            self.fail(p, f"expected a string, got {type(v).__name__} {v!r}")
        if required and not v.strip():
            self.fail(p, "must not be empty")
        if choices is not None and v not in choices:
            self.fail(p, f"{v!r} is not one of {', '.join(choices)}")

    def num(self, d, k, path, required=False, nullable=True, positive=False, integer=False, minimum=None):
        p, v = self.field(d, k, path, required, nullable)
        if v is None:
            return
        if integer and (not isinstance(v, int) or isinstance(v, bool)):
            self.fail(p, f"expected an integer, got {v!r}")
        if not _is_num(v):
            self.fail(p, f"expected a number, got {type(v).__name__} {v!r}")
        if v != v:  # NaN
            self.fail(p, "must not be NaN")
        if positive and v <= 0:
            self.fail(p, f"must be > 0, got {v!r}")
        if minimum is not None and v < minimum:
            self.fail(p, f"must be ≥ {minimum}, got {v!r}")

    def date(self, d, k, path, required=False):
        p, v = self.field(d, k, path, required, nullable=not required)
        if v is None:
            return
        if isinstance(v, (_dt.date, _dt.datetime)):
            return
        if not isinstance(v, str):
            self.fail(p, f"expected an ISO 8601 date, got {v!r}")
        try:
            _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            self.fail(p, f"expected an ISO 8601 date (2026-11-25 or 2026-11-25T10:41:53+00:00), got {v!r}")

    def str_map(self, d, k, path, required=False):
        p, v = self.field(d, k, path, required, nullable=not required)
        if v is not None:
            self.mapping(v, p)

    def str_list(self, d, k, path):
        p = f"{path}.{k}" if path else k
        v = d.get(k)
        if v is None:
            return
        if not isinstance(v, list):
            self.fail(p, f"expected a list, got {type(v).__name__}")
        for i, x in enumerate(v):
            if not isinstance(x, str):
                self.fail(f"{p}[{i}]", f"expected a string, got {x!r}")


# ---------------------------------------------------------------------------------------------- device
_DEVICE_KNOWN = ("name", "kind", "vendor", "model", "soc", "cpu", "cores", "cpu_clusters", "cpu_clock_ghz",
                 "gpu", "npu", "memory_gib", "memory_type", "memory_bandwidth_gbps", "peak_throughput",
                 "peak_notes", "power_w", "arch", "os", "compute_units", "sources", "notes")


def _check_device(c: _Ctx, dev, p="device"):
    c.mapping(dev, p)
    c.keys(dev, p, _DEVICE_KNOWN, required=("name", "kind"))
    c.str_(dev, "name", p, required=True, nullable=False)
    c.str_(dev, "kind", p, required=True, nullable=False, choices=KINDS)
    for k in ("vendor", "model", "soc", "cpu", "memory_type", "arch", "os", "notes"):
        c.str_(dev, k, p)
    c.num(dev, "cores", p, integer=True, positive=True)
    for k in ("cpu_clock_ghz", "memory_gib", "memory_bandwidth_gbps"):
        c.num(dev, k, p, positive=True)
    if dev.get("power_w") is not None:
        pw = dev["power_w"]
        if _is_num(pw):
            c.num(dev, "power_w", p, positive=True)
        elif isinstance(pw, list) and len(pw) == 2 and all(_is_num(x) and x > 0 for x in pw):
            pass
        else:
            c.fail(f"{p}.power_w", f"expected watts or [min, max] watts, got {pw!r}")
    if dev.get("cpu_clusters") is not None:
        if not isinstance(dev["cpu_clusters"], list):
            c.fail(f"{p}.cpu_clusters", "expected a list of {type, cores, clock_ghz}")
        for i, cl in enumerate(dev["cpu_clusters"]):
            q = f"{p}.cpu_clusters[{i}]"
            c.mapping(cl, q)
            c.keys(cl, q, ("type", "cores", "clock_ghz"), required=("cores",))
            c.str_(cl, "type", q)
            c.num(cl, "cores", q, required=True, nullable=False, integer=True, positive=True)
            c.num(cl, "clock_ghz", q, positive=True)
    if dev.get("gpu") is not None:
        q = f"{p}.gpu"
        g = c.mapping(dev["gpu"], q)
        c.keys(g, q, ("name", "architecture", "cores", "tensor_cores", "clock_ghz", "notes"))
        for k in ("name", "architecture", "notes"):
            c.str_(g, k, q)
        for k in ("cores", "tensor_cores"):
            c.num(g, k, q, integer=True, minimum=0)
        c.num(g, "clock_ghz", q, positive=True)
    if dev.get("npu") is not None:
        if not isinstance(dev["npu"], list):
            c.fail(f"{p}.npu", "expected a list of accelerators ({name, count, int8_tops, notes}) or null")
        for i, n in enumerate(dev["npu"]):
            q = f"{p}.npu[{i}]"
            c.mapping(n, q)
            c.keys(n, q, ("name", "count", "int8_tops", "int8_sparse_tops", "fp16_tflops", "notes"),
                   required=("name",))
            c.str_(n, "name", q, required=True, nullable=False)
            c.str_(n, "notes", q)
            c.num(n, "count", q, integer=True, positive=True)
            for k in ("int8_tops", "int8_sparse_tops", "fp16_tflops"):
                c.num(n, k, q, positive=True)
    if dev.get("peak_throughput") is not None:
        q = f"{p}.peak_throughput"
        pt = c.mapping(dev["peak_throughput"], q)
        for k in pt:
            if not isinstance(k, str) or not PEAK_KEY.match(k):
                c.fail(f"{q}.{k}", "expected keys like fp32_tflops, fp16_tflops, int8_tops, int8_sparse_tops")
            c.num(pt, k, q, positive=True)
    if dev.get("peak_notes") is not None:
        q = f"{p}.peak_notes"
        pn = c.mapping(dev["peak_notes"], q)
        for k in pn:
            c.str_(pn, k, q)
    if dev.get("compute_units") is not None:
        cu = dev["compute_units"]
        if not isinstance(cu, list):
            c.fail(f"{p}.compute_units", "expected a list")
        for i, u in enumerate(cu):
            if u not in COMPUTE_UNITS:
                c.fail(f"{p}.compute_units[{i}]", f"{u!r} is not one of {', '.join(COMPUTE_UNITS)}")
    if dev.get("sources") is not None:
        src = dev["sources"]
        if not isinstance(src, list):
            c.fail(f"{p}.sources", "expected a list of {name, url, covers}")
        for i, s in enumerate(src):
            q = f"{p}.sources[{i}]"
            c.mapping(s, q)
            c.keys(s, q, ("name", "url", "covers", "retrieved"), required=("name",))
            c.str_(s, "name", q, required=True, nullable=False)
            c.str_(s, "url", q)
            c.str_(s, "covers", q)
            c.date(s, "retrieved", q)


# ---------------------------------------------------------------------------------------------- entries
_ENTRY_KNOWN = ("artifact", "model", "format", "precision", "ops_mode", "sha256", "backend", "compute_unit",
                "runtime", "threads", "batch", "input_shape", "latency_ms", "peak_memory_mib",
                "process_peak_rss_mib", "provenance", "notes")
_LAT_KNOWN = ("median", "p90", "mean", "min", "max", "std", "runs", "warmup")
_PROV_KNOWN = {
    "measured": ("host", "date", "tools", "command", "device", "notes"),
    "predicted": ("predictor", "inputs", "calibrated_on", "date", "error_pct", "notes"),
    "published": ("source", "url", "date", "retrieved", "statistic", "setup", "tools", "notes"),
}
_PROV_REQUIRED = {"measured": ("host", "date", "tools", "command"), "predicted": ("predictor", "inputs"),
                  "published": ("source",)}


def _check_provenance(c: _Ctx, pv, p: str):
    c.mapping(pv, p)
    if "kind" not in pv:
        c.fail(f"{p}.kind", f"required field is missing (one of {', '.join(PROVENANCE_KINDS)})")
    c.str_(pv, "kind", p, required=True, nullable=False, choices=PROVENANCE_KINDS)
    kind = pv["kind"]
    c.keys(pv, p, ("kind",) + _PROV_KNOWN[kind], required=_PROV_REQUIRED[kind])
    c.str_(pv, "notes", p)
    if kind == "measured":
        c.str_(pv, "host", p, required=True, nullable=False)
        c.date(pv, "date", p, required=True)
        c.str_map(pv, "tools", p, required=True)
        c.str_(pv, "command", p, required=True, nullable=False)
        c.str_map(pv, "device", p)
    elif kind == "predicted":
        c.str_(pv, "predictor", p, required=True, nullable=False)
        c.str_map(pv, "inputs", p, required=True)
        c.str_list(pv, "calibrated_on", p)
        c.date(pv, "date", p)
        c.num(pv, "error_pct", p)
    else:
        c.str_(pv, "source", p, required=True, nullable=False)
        c.str_(pv, "url", p)
        c.str_(pv, "statistic", p, choices=STATISTICS)
        c.str_(pv, "setup", p)
        c.date(pv, "date", p)
        c.date(pv, "retrieved", p)
        c.str_map(pv, "tools", p)


def _check_entry(c: _Ctx, e, p: str):
    c.mapping(e, p)
    c.keys(e, p, _ENTRY_KNOWN, required=("artifact", "backend", "precision", "latency_ms", "provenance"))
    c.str_(e, "artifact", p, required=True, nullable=False)
    for k in ("model", "format", "runtime", "notes"):
        c.str_(e, k, p)
    c.str_(e, "ops_mode", p, choices=("standard", "portable"))
    c.str_(e, "precision", p, required=True, nullable=False, choices=PRECISIONS)
    c.str_(e, "backend", p, required=True, nullable=False, choices=BACKENDS)
    c.str_(e, "compute_unit", p, choices=COMPUTE_UNITS)
    if e.get("sha256") is not None:
        c.str_(e, "sha256", p)
        if not re.fullmatch(r"[0-9a-f]{64}", e["sha256"]):
            c.fail(f"{p}.sha256", f"expected 64 lower-case hex digits, got {e['sha256']!r}")
    c.num(e, "threads", p, integer=True, positive=True)
    c.num(e, "batch", p, integer=True, positive=True)
    if e.get("input_shape") is not None and not (isinstance(e["input_shape"], list) and all(
            isinstance(x, (int, list)) for x in e["input_shape"])):
        c.fail(f"{p}.input_shape", f"expected a list of ints (or of shapes), got {e['input_shape']!r}")
    for k in ("peak_memory_mib", "process_peak_rss_mib"):
        c.num(e, k, p, positive=True)
    q = f"{p}.latency_ms"
    lat = c.mapping(e["latency_ms"], q)
    c.keys(lat, q, _LAT_KNOWN, required=("median",))
    c.num(lat, "median", q, required=True, nullable=False, positive=True)
    for k in ("p90", "mean", "min", "max", "std"):
        c.num(lat, k, q, positive=k != "std", minimum=0 if k == "std" else None)
    for k in ("runs", "warmup"):
        c.num(lat, k, q, integer=True, minimum=0)
    if _is_num(lat.get("p90")) and lat["p90"] < lat["median"]:
        c.fail(f"{q}.p90", f"p90 {lat['p90']} is below the median {lat['median']}")
    _check_provenance(c, e["provenance"], f"{p}.provenance")


def validate_profile(d: dict, source: str = "profile") -> dict:
    """Check ``d`` against schema ``edgecv.device-profile/1``; return it normalised.

    Normalisation: every entry gets ``compute_unit`` (from its backend when absent), ``threads`` (null when
    absent) and ``latency_ms.p90`` (null when absent). Raises ProfileError naming ``source`` and the field.
    """
    c = _Ctx(source)
    if d is None:
        c.fail("(top level)", "the file is empty")
    c.mapping(d, "(top level)")
    c.keys(d, "", ("schema", "device", "entries", "calibration", "notes"), required=("schema", "device"))
    if d["schema"] != SCHEMA:
        c.fail("schema", f"expected {SCHEMA!r}, got {d['schema']!r}")
    _check_device(c, d["device"])
    if d.get("calibration") is not None:
        cal = d["calibration"]
        if not isinstance(cal, (str, dict)):
            c.fail("calibration", f"expected a note (string) or a mapping, got {type(cal).__name__}")
    c.str_(d, "notes", "")
    entries = d.get("entries")
    if entries is None:
        entries = d["entries"] = []
    if not isinstance(entries, list):
        c.fail("entries", f"expected a list, got {type(entries).__name__}")
    for i, e in enumerate(entries):
        _check_entry(c, e, f"entries[{i}]")
        e.setdefault("threads", None)
        e["latency_ms"].setdefault("p90", None)
        if e.get("compute_unit") is None:
            e["compute_unit"] = DEFAULT_COMPUTE_UNIT[e["backend"]]
    return d


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
    """Write ``profile`` to ``path`` via a temp file + rename (no merge)."""
    from edgecv.runtime.profile import write_profile

    return write_profile(profile, path, merge=False)


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
