"""Stream and recording errors that need HTTP codes beyond the common ones."""

from __future__ import annotations

from coral_serve.errors import CoralError

__all__ = [
    "BadPathError",
    "ProbeTimeoutError",
    "RangeNotSatisfiableError",
    "RawViewUnavailableError",
]


class BadPathError(CoralError):
    """A recording path that is not a plain pipeline id and segment name (traversal)."""

    status = 400
    error = "bad_path"


class RangeNotSatisfiableError(CoralError):
    status = 416
    error = "range_not_satisfiable"


class ProbeTimeoutError(CoralError):
    status = 504
    error = "timeout"


class RawViewUnavailableError(CoralError):
    """The raw view cannot be relayed (not H.264, or not reachable from this node); the
    annotated view of the same pipeline is unaffected."""

    status = 409
    error = "raw_view_unavailable"
