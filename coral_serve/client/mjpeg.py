"""JPEG frames out of the server's `multipart/x-mixed-replace` stream: each part carries a
Content-Length, so a frame is cut by count, never by searching the JPEG for the boundary."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MultipartJpegParser"]


@dataclass
class MultipartJpegParser:
    """Fed the body's bytes as they come; returns the frames each chunk completes."""

    _buffer: bytearray = field(default_factory=bytearray)
    _length: int | None = None  # of the part whose headers were read

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        frames: list[bytes] = []
        while True:
            if self._length is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return frames
                self._length = _content_length(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            if len(self._buffer) < self._length:
                return frames
            frames.append(bytes(self._buffer[: self._length]))
            del self._buffer[: self._length]
            self._length = None


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("an MJPEG part without Content-Length")
