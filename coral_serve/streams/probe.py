"""Open a source once, as a pipeline would, and describe it: size, fps, codec, thumbnail.

OpenCV blocks, so probes run in their own small thread pool: a source that never answers
holds one of those threads until OpenCV's own timeout, never the event loop or the threads
that serve workers.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from coral_serve.errors import InvalidRequestError
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.streams import ProbeResult
from coral_serve.schema.uri import parse_source_uri
from coral_serve.streams.errors import ProbeTimeoutError

__all__ = ["SourceProber"]

_THUMBNAIL_WIDTH = 320
_THUMBNAIL_QUALITY = 75
_PROBE_THREADS = 2
# OpenCV's timeouts are not exact; past this much extra the probe is abandoned.
_GRACE_SECONDS = 2.0
# Frames read before giving up on a decodable one (streams may start mid-GOP).
_FIRST_FRAME_ATTEMPTS = 30


class _Failure(Exception):
    def __init__(self, detail: str, timed_out: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.timed_out = timed_out


def _fourcc(capture: cv2.VideoCapture) -> str | None:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ")
    return text.lower() if text.isprintable() and text else None


def _open(uri: str, timeout: float) -> cv2.VideoCapture:
    source = parse_source_uri(uri)
    if source.scheme == "device":  # cameras: not through FFmpeg
        return cv2.VideoCapture(source.target)
    milliseconds = int(timeout * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, milliseconds, cv2.CAP_PROP_READ_TIMEOUT_MSEC]
    return cv2.VideoCapture(source.target, cv2.CAP_FFMPEG, [*params, milliseconds])


def _thumbnail(image: np.ndarray) -> str:
    height, width = image.shape[:2]
    if width > _THUMBNAIL_WIDTH:
        size = (_THUMBNAIL_WIDTH, max(1, round(height * _THUMBNAIL_WIDTH / width)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, _THUMBNAIL_QUALITY])
    if not ok:
        raise _Failure("the first frame could not be encoded", timed_out=False)
    return base64.b64encode(jpeg.tobytes()).decode("ascii")


def probe_source(uri: str, timeout: float) -> ProbeResult:
    """Blocking: open, read the first decodable frame, release."""
    began = time.monotonic()
    capture = _open(uri, timeout)
    try:
        if not capture.isOpened():
            raise _Failure(
                "could not be opened (unreachable, refused or not video)",
                timed_out=time.monotonic() - began >= timeout * 0.9,
            )
        image = None
        for _ in range(_FIRST_FRAME_ATTEMPTS):
            ok, image = capture.read()
            if ok and image is not None:
                break
            image = None
        if image is None:
            raise _Failure(
                "opened, but no frame could be decoded",
                timed_out=time.monotonic() - began >= timeout * 0.9,
            )
        fps = capture.get(cv2.CAP_PROP_FPS)
        return ProbeResult(
            uri=masked_uri(uri),
            width=image.shape[1],
            height=image.shape[0],
            fps=round(fps, 3) if math.isfinite(fps) and 0 < fps <= 1000 else None,
            codec=_fourcc(capture),
            thumbnail=_thumbnail(image),
        )
    finally:
        capture.release()


class SourceProber:
    """Probes a URI within the timeout; the caller has checked it against the policies."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(_PROBE_THREADS, thread_name_prefix="coral-probe")

    async def probe(self, uri: str) -> ProbeResult:
        masked = masked_uri(uri)
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._pool, probe_source, uri, self._timeout)
        try:
            return await asyncio.wait_for(job, self._timeout + _GRACE_SECONDS)
        except asyncio.TimeoutError:
            raise self._timed_out(masked) from None
        except _Failure as failure:
            if failure.timed_out:
                raise self._timed_out(masked) from None
            raise InvalidRequestError(f"source {masked}: {failure.detail}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _timed_out(self, masked: str) -> ProbeTimeoutError:
        return ProbeTimeoutError(
            f"source {masked} did not answer within {self._timeout:g}s (streams.capture_timeout)"
        )
