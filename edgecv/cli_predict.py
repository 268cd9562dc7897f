"""`edgecv` commands of the predictor (registered on `edgecv.cli.main` by import)."""
from __future__ import annotations

import click  # noqa: F401

from edgecv.cli import _errors, main  # noqa: F401
