"""MJPEG over `multipart/x-mixed-replace`, for clients without WebRTC.

The ingress asks StreamService for "a frame other than the one I sent" and paces the parts
to the fps cap; the JPEGs are the worker's own, never re-encoded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from coral_serve.errors import CoralError

__all__ = ["BOUNDARY", "MEDIA_TYPE", "mjpeg_parts", "part"]

BOUNDARY = "coralframe"
MEDIA_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"

LatestJpeg = tuple[int, float, bytes]
NextJpeg = Callable[[int], Awaitable[LatestJpeg | None]]


def part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


async def mjpeg_parts(
    first: LatestJpeg, next_jpeg: NextJpeg, max_fps: float
) -> AsyncIterator[bytes]:
    """Yield `first`, then each newer frame at most `max_fps` times a second, until the
    pipeline stops (`next_jpeg` raises) or the client goes (the generator is closed)."""
    period = 1.0 / max_fps
    seq, _, jpeg = first
    due = time.monotonic()
    while True:
        yield part(jpeg)
        due = max(due + period, time.monotonic())
        await asyncio.sleep(due - time.monotonic())
        latest = None
        while latest is None:  # None while paused: keep the connection, wait for frames
            try:
                latest = await next_jpeg(seq)
            except CoralError:
                return
        seq, _, jpeg = latest
