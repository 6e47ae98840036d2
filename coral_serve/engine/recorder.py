"""`SegmentRecorder`: browser-playable H.264 MP4 segments of the packets of a pipeline's
`PacketEncoder` (the one its event clips are cut from too).

Each segment is written under a hidden temporary name and renamed only once its file is
complete, so whoever lists or serves the directory never sees a half-written file. The name
records the segment's start and end (epoch milliseconds, `recording_files.segment_name`), so
listing needs no probing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path

from coral_serve.engine.encoding import Packet, PacketEncoder, PacketFile
from coral_serve.engine.recording_files import segment_name

__all__ = ["SegmentRecorder"]

log = logging.getLogger(__name__)

_TEMP_PREFIX = ".recording-"
_TEMP_SUFFIX = ".part"
# A temporary file untouched this long belongs to a worker that died mid-segment.
_STALE_TEMP_SECONDS = 3600.0


class _Segment:
    """One MP4 being written; `finish` closes it and moves it to its final name."""

    def __init__(self, directory: Path, first: Packet) -> None:
        self.start = self.last = first.timestamp
        self.interval = 0.0
        self._directory = directory
        token = uuid.uuid4().hex[:8]
        name = f"{_TEMP_PREFIX}{round(first.timestamp * 1000)}-{token}{_TEMP_SUFFIX}"
        self._file = PacketFile(directory / name, first)

    def fits(self, packet: Packet, seconds: float) -> bool:
        """Whether `packet` goes into this segment: a new one starts at a keyframe."""
        if packet.size != self._file.size:
            return False
        return not packet.keyframe or packet.timestamp - self.start < seconds

    def write(self, packet: Packet) -> None:
        self._file.mux(packet)
        if packet.timestamp > self.last:
            self.interval = packet.timestamp - self.last
        self.last = max(self.last, packet.timestamp)

    def finish(self) -> Path:
        self._file.close()
        end = self.last + (self.interval or 1 / 25)
        final = self._directory / segment_name(self.start, end)
        os.replace(self._file.path, final)
        return final

    def discard(self) -> None:
        self._file.discard()


class SegmentRecorder:
    """A consumer of the pipeline's `PacketEncoder`: muxes its packets into segments, in the
    encoder's thread, so recording costs no encoding of its own.

    A slow disk holds up the encoder's thread, which then drops frames (`dropped`), never
    live video or detections.
    """

    def __init__(self, directory: Path, segment_seconds: float, encoder: PacketEncoder) -> None:
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.segments = 0
        self.errors = 0
        self._encoder = encoder
        self._lock = threading.Lock()  # the encoder's thread writes, `close` finishes
        self._segment: _Segment | None = None
        self._closed = False
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files()
        encoder.subscribe(self)

    def on_packet(self, packet: Packet) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if self._segment is not None and not self._segment.fits(
                    packet, self.segment_seconds
                ):
                    self._finish()
                if self._segment is None and packet.keyframe:
                    self._segment = _Segment(self.directory, packet)
                if self._segment is not None:
                    self._segment.write(packet)
            except Exception:  # a full disk loses this segment, not the next
                self._failed()

    def on_idle(self) -> None:
        """A gap ends the open segment, so what was recorded is listable without waiting."""
        with self._lock:
            self._finish()

    def close(self) -> None:
        """Finish the open segment (it is kept) and take no more packets; idempotent."""
        self._encoder.unsubscribe(self)
        with self._lock:
            self._closed = True
            self._finish()

    def status(self) -> dict[str, int]:
        return {"segments": self.segments, "dropped": self._encoder.dropped, "errors": self.errors}

    def _finish(self) -> None:
        if self._segment is None:
            return
        try:
            self._segment.finish()
            self.segments += 1
            self._segment = None
        except Exception:
            self._failed()

    def _failed(self) -> None:
        self.errors += 1
        if self.errors == 1:
            log.exception("recording into %s failed; the segment is discarded", self.directory)
        if self._segment is not None:
            self._segment.discard()
            self._segment = None

    def _remove_stale_temp_files(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for path in self.directory.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
