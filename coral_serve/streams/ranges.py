"""HTTP `Range: bytes=...` for recorded segments, as browsers' <video> elements send it."""

from __future__ import annotations

import re

from coral_serve.streams.errors import RangeNotSatisfiableError

__all__ = ["byte_range"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a single-range header asks for; None: the whole file.

    Multi-range and malformed headers are ignored (RFC 9110 lets a server send the whole
    file instead); a range that starts past the end is a 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # bytes=-N: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiableError(f"bytes=-{suffix} of a {size}-byte file")
        return max(size - suffix, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # last before first: invalid, so ignored like any malformed range
    if start >= size:
        raise RangeNotSatisfiableError(f"bytes={start}- is past the end of a {size}-byte file")
    return start, min(int(last), size - 1) if last else size - 1
