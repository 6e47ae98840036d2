"""`SegmentRecorder`: the engine's recorder hook, writing browser-playable H.264 MP4 segments.

Each segment is written under a hidden temporary name and renamed only once its file is
complete, so whoever lists or serves the directory never sees a half-written file. The name
records the segment's start and end (epoch milliseconds), so listing needs no probing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from coral_serve.config.pipelines import DownloadConfig

__all__ = [
    "ENCODER_OPTIONS",
    "RecordingSettings",
    "SegmentRecorder",
    "SegmentTimes",
    "parse_segment_name",
    "segment_name",
]

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"^(\d{13})-(\d{13})\.mp4$")
_TEMP_PREFIX = ".recording-"
_TEMP_SUFFIX = ".part"
_TIME_BASE = Fraction(1, 1000)  # pts in milliseconds since the segment's first frame
# A gap this long ends the open segment (paused, finished or stalled pipeline), so what was
# recorded becomes listable without waiting for the next frame.
_IDLE_CLOSE_SECONDS = 5.0
# Frames waiting for the encoder; beyond this the recorder drops frames rather than ever
# holding up the pipeline's publish stage.
_QUEUE_FRAMES = 32
# A temporary file untouched this long belongs to a worker that died mid-segment.
_STALE_TEMP_SECONDS = 3600.0
# H.264 settings of every encoder a worker runs (recordings, event clips).
ENCODER_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "threads": "1"}


@dataclass(frozen=True)
class RecordingSettings:
    """Where a worker keeps files on its node, resolved from the descriptor: its recordings
    and how long their segments run, and (with `downloads`) its downloaded source."""

    directory: str
    segment_seconds: float
    data_dir: str | None = None  # the descriptor's, which `directory` may lie under
    downloads: DownloadConfig | None = None  # None: every source is opened where it is


@dataclass(frozen=True)
class SegmentTimes:
    start: float
    end: float


def segment_name(start: float, end: float) -> str:
    return f"{round(start * 1000):013d}-{round(end * 1000):013d}.mp4"


def parse_segment_name(name: str) -> SegmentTimes | None:
    """The times in a finished segment's name; None for anything else (temp files too)."""
    match = _SEGMENT.fullmatch(name)
    if match is None:
        return None
    start, end = (int(group) / 1000 for group in match.groups())
    return SegmentTimes(start, end) if end >= start else None


class _Segment:
    """One MP4 being written; `finish` closes it and moves it to its final name."""

    def __init__(self, directory: Path, first: np.ndarray, timestamp: float) -> None:
        self.start = self.last = timestamp
        self.interval = 0.0
        self.size = (first.shape[1] & ~1, first.shape[0] & ~1)  # yuv420p needs even sizes
        self._directory = directory
        token = uuid.uuid4().hex[:8]
        self._temp = directory / f"{_TEMP_PREFIX}{round(timestamp * 1000)}-{token}{_TEMP_SUFFIX}"
        self._container = av.open(
            str(self._temp), "w", format="mp4", options={"movflags": "+faststart"}
        )
        stream = self._container.add_stream("libx264", rate=25, options=ENCODER_OPTIONS)
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        self._stream = stream
        self._pts = -1

    def fits(self, image: np.ndarray, timestamp: float, seconds: float) -> bool:
        size = (image.shape[1] & ~1, image.shape[0] & ~1)
        return size == self.size and timestamp - self.start < seconds

    def write(self, image: np.ndarray, timestamp: float) -> None:
        width, height = self.size
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image[:height, :width]), format="bgr24"
        )
        self._pts = max(self._pts + 1, round((timestamp - self.start) * 1000))
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if timestamp > self.last:
            self.interval = timestamp - self.last
        self.last = max(self.last, timestamp)

    def finish(self) -> Path:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        end = self.last + (self.interval or 1 / 25)
        final = self._directory / segment_name(self.start, end)
        os.replace(self._temp, final)
        return final

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self._temp.unlink(missing_ok=True)


class SegmentRecorder:
    """Callable as the engine's `recorder(frame_bgr, timestamp)`; encodes in its own thread.

    The call only queues the frame (the engine never touches a published frame again), so
    a slow disk or encoder costs recorded frames, never live video or detections.
    """

    def __init__(self, directory: Path, segment_seconds: float, name: str = "recorder") -> None:
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.segments = 0
        self.dropped = 0
        self.errors = 0
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(_QUEUE_FRAMES)
        self._closed = False
        directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files()
        self._thread = threading.Thread(target=self._run, name=f"{name}-recorder", daemon=True)
        self._thread.start()

    def __call__(self, image: np.ndarray, timestamp: float) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait((image, timestamp))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("recorder for %s cannot keep up; dropping frames", self.directory)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the open segment (it is kept) and end the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def status(self) -> dict[str, int]:
        return {"segments": self.segments, "dropped": self.dropped, "errors": self.errors}

    def _run(self) -> None:
        segment: _Segment | None = None
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_CLOSE_SECONDS)
            except queue.Empty:
                self._finish(segment)
                segment = None
                continue
            if item is None:
                self._finish(segment)
                return
            image, timestamp = item
            try:
                if segment is not None and not segment.fits(image, timestamp, self.segment_seconds):
                    self._finish(segment)
                    segment = None
                if segment is None:
                    segment = _Segment(self.directory, image, timestamp)
                segment.write(image, timestamp)
            except Exception:  # a bad frame or a full disk loses this segment, not the next
                self._failed(segment)
                segment = None

    def _finish(self, segment: _Segment | None) -> None:
        if segment is None:
            return
        try:
            segment.finish()
            self.segments += 1
        except Exception:
            self._failed(segment)
        return None

    def _failed(self, segment: _Segment | None) -> None:
        self.errors += 1
        if self.errors == 1:
            log.exception("recording into %s failed; the segment is discarded", self.directory)
        if segment is not None:
            segment.discard()

    def _remove_stale_temp_files(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for path in self.directory.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
