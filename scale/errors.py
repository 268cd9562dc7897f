"""The one error class of edgecv.scale."""
from __future__ import annotations

from edgecv.runtime.errors import EdgeCVError

__all__ = ["ScaleError"]


class ScaleError(EdgeCVError):
    """A sweep could not be run or resumed (Ray missing, a unit failed, a file's hash does not match)."""
