"""Errors the runtime raises; each message names the file, tensor or package at fault."""
from __future__ import annotations

import re

# The base class lives in the lowest layer (edgecv.devices imports nothing from the runtime); one class.
from edgecv.devices.errors import EdgeCVError

__all__ = ["EdgeCVError", "ArtifactError", "InputError", "BackendUnavailable", "explain_validation"]


class ArtifactError(EdgeCVError):
    """The artifact (or its manifest) is missing, corrupt, truncated or does not match its hash."""


class InputError(EdgeCVError):
    """A feed at ``run`` has the wrong name, shape or dtype."""


class BackendUnavailable(EdgeCVError):
    """The backend's package is not installed; the message says which extra installs it."""


_WHERE = re.compile(r"\.(\w+)|\[(\d+)\]")
_WHAT = {"int": "an int", "float": "a number", "str": "a string", "object": "a mapping", "array": "a list",
         "bool": "true or false", "null": "null"}


def explain_validation(err, doc, prefix: str = "", top: str = "the document") -> str:
    """A msgspec ``ValidationError`` on ``doc`` → one line naming the field and the value found, e.g.
    ``Expected `int` >= 1 - at `$.stride``` → ``model_info.stride must be an int >= 1, got 0`` (``prefix``:
    where ``doc`` sits in the file; ``top``: what to call ``doc`` itself). Manifests and plans use it."""
    msg, sep, where = str(err).partition(" - at `")
    where = where.rstrip("`") if sep else "$"
    in_key = where.startswith("key` in `")
    where = where.split("`")[-1] if in_key else where
    field = (prefix + where[2:]) if where.startswith("$.") else prefix.rstrip(".")
    missing = re.match(r"Object missing required field `(\w+)`", msg)
    if missing:
        return f"{(field + '.') if field else ''}{missing.group(1)} is missing"
    value = doc
    for name, index in _WHERE.findall(where):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            value = ...
            break
    got = "" if value is ... or in_key or "[...]" in where else f", got {value!r}"
    if msg.startswith("Expected `str` matching regex"):
        return f"{field} has an invalid value{got}"
    m = re.match(r"Expected `([\w |]+)`(?:, got `\w+`)?(.*)$", msg)
    if m:
        what = " or ".join(_WHAT.get(t.strip(), t.strip()) for t in m.group(1).split("|"))
        return f"{field or top} must be {what}{m.group(2)}{got}"
    if msg.startswith("Invalid enum value"):
        bad = msg[len("Invalid enum value "):]
        return f"{field} {'has a key' if in_key else 'has a value'} that is not allowed: {bad}"
    return f"{field}: {msg}{got}" if field else f"{msg}{got}"
