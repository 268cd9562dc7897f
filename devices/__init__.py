"""Device latency profiles (YAML data files, one per device; see devices/README.md).

>>> from edgecv.devices import load_profile, find_entry
>>> prof = load_profile("jetson-orin-nano")            # a device name or a path; validated
>>> find_entry(prof, artifact="mobilenet_v2_1.0_224", backend="opencv", compute_unit="cuda", precision="fp16")

Torch-free and light: pyyaml, msgspec (the typed profile, ``schema.check_profile``) and numpy; matplotlib only in
``edgecv.devices.report``. The lowest layer: it imports nothing from ``edgecv.runtime``, which reads it.
"""
from __future__ import annotations

from .schema import (
    BACKENDS,
    COMPUTE_UNITS,
    KINDS,
    PROVENANCE_KINDS,
    SCHEMA,
    ProfileError,
    check_profile,
    entry_key,
    find_entries,
    find_entry,
    known_devices,
    latency_ms,
    load_profile,
    merge_measured,
    profile_path,
    profile_paths,
    provenance_counts,
    same_config,
    validate_profile,
    write_yaml_atomic,
)

__all__ = ["SCHEMA", "KINDS", "BACKENDS", "COMPUTE_UNITS", "PROVENANCE_KINDS", "ProfileError", "check_profile",
           "load_profile",
           "known_devices", "validate_profile", "profile_path", "profile_paths", "find_entry", "find_entries",
           "entry_key", "same_config", "latency_ms", "merge_measured", "provenance_counts", "write_yaml_atomic"]
