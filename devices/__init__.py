"""Device latency profiles (YAML data files, one per device; see devices/README.md)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def profile_paths() -> dict[str, Path]:
    """Device name → path of its shipped profile."""
    return {Path(str(p)).stem: Path(str(p)) for p in resources.files(__name__).iterdir()
            if str(p).endswith(".yaml")}
