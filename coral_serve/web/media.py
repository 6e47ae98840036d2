"""Media files answered the way browsers' <video> and <img> elements ask: HTTP Range, ETag,
If-None-Match and If-Range, the body read chunk by chunk from the service that owns it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate

from fastapi import Request, Response, status
from fastapi.responses import StreamingResponse

from coral_serve.errors import CoralError
from coral_serve.schema.streams import RecordingFile
from coral_serve.streams.errors import RangeNotSatisfiableError
from coral_serve.streams.ranges import byte_range
from coral_serve.web.errors import error_response

__all__ = ["CHUNK", "ReadChunk", "file_response"]

CHUNK = 1 << 20
ReadChunk = Callable[[int, int], Awaitable[bytes]]
"""`read(offset, length)`: bytes of the file from `offset`, at most `length`."""


def file_response(
    request: Request, file: RecordingFile, read: ReadChunk, media_type: str
) -> Response:
    """200, 206, 304 or 416 for `file`, whose bytes `read` returns."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": file.etag,
        "Last-Modified": formatdate(file.modified, usegmt=True),
    }
    if file.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    wanted = request.headers.get("range")
    if request.headers.get("if-range", file.etag) != file.etag:
        wanted = None  # the client's partial copy is of another file: send it whole
    try:
        span = byte_range(wanted, file.size)
    except RangeNotSatisfiableError as exc:
        response = error_response(exc.status, exc.detail, exc.error)
        response.headers["Content-Range"] = f"bytes */{file.size}"
        return response
    code = status.HTTP_200_OK
    first, last = 0, file.size - 1
    if span is not None:
        code = status.HTTP_206_PARTIAL_CONTENT
        first, last = span
        headers["Content-Range"] = f"bytes {first}-{last}/{file.size}"
    headers["Content-Length"] = str(last - first + 1)
    body = _chunks(read, first, last)
    return StreamingResponse(body, status_code=code, media_type=media_type, headers=headers)


async def _chunks(read: ReadChunk, first: int, last: int) -> AsyncIterator[bytes]:
    offset = first
    while offset <= last:
        try:
            data = await read(offset, min(CHUNK, last - offset + 1))
        except CoralError:
            return  # deleted while being sent: the body ends short, as a client can tell
        if not data:
            return
        yield data
        offset += len(data)
