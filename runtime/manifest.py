"""Artifact manifests: ``model.onnx`` is described by ``model.onnx.json`` next to it."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import ArtifactError

SCHEMA = "edgecv.manifest/1"


def manifest_path(artifact) -> Path:
    return Path(str(artifact) + ".json")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(artifact, required: bool = False) -> dict | None:
    path = manifest_path(artifact)
    if not path.exists():
        if required:
            raise ArtifactError(f"no manifest {path} beside artifact {artifact}")
        return None
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"manifest {path} is not valid JSON: {e}") from None
    if m.get("schema") != SCHEMA:
        raise ArtifactError(f"manifest {path} has schema {m.get('schema')!r}, expected {SCHEMA!r}")
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


def write_json_atomic(path, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
