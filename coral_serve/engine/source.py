"""Video capture in its own thread: pacing, frame dropping, looping and reconnecting."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np

from coral_serve.engine.channel import Channel, ChannelClosedError
from coral_serve.engine.download import SourceDownload
from coral_serve.engine.errors import SourceError
from coral_serve.engine.stats import PipelineStats
from coral_serve.schema.redact import masked_text, masked_uri
from coral_serve.schema.spec import Pacing, SourceSpec
from coral_serve.schema.uri import parse_source_uri

__all__ = ["EndOfStream", "Frame", "SourceState", "VideoSource"]

log = logging.getLogger(__name__)

_DEFAULT_FPS = 25.0


class SourceState(str, Enum):
    downloading = "downloading"
    connecting = "connecting"
    open = "open"
    reconnecting = "reconnecting"
    failed = "failed"
    finished = "finished"
    stopped = "stopped"


@dataclass(slots=True)
class Frame:
    frame_id: int  # counts frames handed to the pipeline, across loops and reconnects
    timestamp: float  # wall clock at capture (for records)
    captured: float  # monotonic clock at capture (for latencies)
    image: np.ndarray


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The last item a source emits when a file ends without `loop`."""


class VideoSource:
    """Reads in a daemon thread and hands frames to `output`; never blocks its caller."""

    def __init__(
        self,
        spec: SourceSpec,
        output: Channel[Frame | EndOfStream],
        stats: PipelineStats,
        on_failed: Callable[[str], None],
        name: str = "source",
        download: SourceDownload | None = None,
    ) -> None:
        """`download`: fetch the source onto this node first, then play the local copy."""
        self.spec = spec
        self._download = download
        self._output = output
        self._stats = stats
        self._on_failed = on_failed
        self._name = name
        self._target = parse_source_uri(spec.uri)
        # A path on this machine: missing means failed at once, not retried.
        self._local_file = self._target.path is not None
        self._lock = threading.Lock()
        self._state = SourceState.connecting
        self._reason: str | None = None
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._thread: threading.Thread | None = None
        self._next_id = 0
        self.live: bool | None = self._target.live
        self.width: int | None = None
        self.height: int | None = None
        self.fps: float | None = None
        self._frame_count: int | None = None  # of a network file, known once opened

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def reason(self) -> str | None:
        return self._reason

    @property
    def lossy(self) -> bool:
        """Whether stale frames are dropped rather than waited for."""
        pacing = self.spec.pacing
        return pacing is Pacing.realtime or (pacing is Pacing.auto and bool(self.live))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-capture", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and release the capture; waits at most `timeout`."""
        self._stop.set()
        self._running.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- capture thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._download is None or self._fetch(self._download):
                self._capture_loop()
        except ChannelClosedError:
            pass  # the engine is shutting down
        except Exception as exc:  # a bug or an OpenCV surprise must still end the pipeline
            log.exception("capture of %s failed", self._masked)
            self._fail(f"capture failed: {masked_text(str(exc))}")
        finally:
            if self._state not in (SourceState.failed, SourceState.finished):
                self._set_state(SourceState.stopped)

    def _fetch(self, download: SourceDownload) -> bool:
        """Fetch the source onto this node and play the copy from now on; False: stopped
        or failed (with the reason)."""
        self._set_state(SourceState.downloading)
        try:
            path = download.fetch(self._stop)
        except SourceError as exc:
            self._fail(exc.detail)
            return False
        if path is None:
            return False
        self._target = parse_source_uri(str(path))
        self._local_file = True
        self.live = False
        self._set_state(SourceState.connecting)
        return True

    def _capture_loop(self) -> None:
        attempts = 0
        while not self._stop.is_set():
            error, frames = self._session()
            if error is None:
                return  # finished, failed for good, or stopped
            if frames:
                attempts = 0
            limit = self.spec.reconnect.max_attempts
            if limit is not None and attempts >= limit:
                self._fail(f"{self._masked}: {error}; gave up after {attempts} reconnect attempts")
                return
            attempts += 1
            delay = min(
                self.spec.reconnect.initial_delay * 2 ** (attempts - 1),
                self.spec.reconnect.max_delay,
            )
            self._set_state(SourceState.reconnecting)
            self._stats.add_reconnect()
            log.warning(
                "%s: %s; reconnect attempt %d in %.1fs", self._masked, error, attempts, delay
            )
            self._stop.wait(delay)

    def _session(self) -> tuple[str | None, int]:
        """Open once and read (looping files); (error to retry on, or None; frames read)."""
        try:
            capture = self._open()
        except SourceError as exc:
            if self._local_file:  # a missing local file will not come back by retrying
                self._fail(exc.detail)
                return None, 0
            return exc.detail, 0
        total = 0
        while True:
            self._set_state(SourceState.open)
            try:
                outcome, frames = self._read(capture)
            finally:
                capture.release()
            total += frames
            if outcome == "stopped":
                return None, total
            if outcome == "lost":
                return "the stream stopped delivering frames", total
            if self._next_id == 0:
                self._fail(f"{self._masked} has no frames that can be decoded")
                return None, total
            if not (self.spec.loop and frames):
                self._finish()
                return None, total
            try:
                capture = self._open()
            except SourceError as exc:
                return exc.detail, total

    @property
    def _masked(self) -> str:
        return masked_uri(self.spec.uri)

    def _open(self) -> cv2.VideoCapture:
        target = self._target.target
        if self._local_file and not Path(str(target)).is_file():
            raise SourceError(f"file not found: {target}")
        if self._target.scheme in ("device", "file"):
            capture = cv2.VideoCapture(target)
        else:
            timeout_ms = int(self.spec.timeout * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms]
            params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            if self._local_file:
                raise SourceError(f"{self._masked} cannot be decoded as video")
            raise SourceError("could not be opened (unreachable, refused or not video)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 240 else None
        if self._target.live is None:  # http(s): a known frame count means a file
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            self.live = not count > 0
            self._frame_count = int(count) if count > 0 else None
        return capture

    def _read(self, capture: cv2.VideoCapture) -> tuple[str, int]:
        """Read until the stream ends, is lost or we stop: ("ended"|"lost"|"stopped", frames)."""
        live = bool(self.live)
        paced = not live and self.spec.pacing is not Pacing.unpaced
        lossy = self.lossy
        media_period = 1.0 / (self.fps or _DEFAULT_FPS)
        next_emit = 0.0
        grabbed = emitted = 0
        start = time.monotonic()
        while not self._stop.is_set():
            if not self._running.is_set():
                if live:  # keep draining the stream so it is fresh on resume
                    if not capture.grab():
                        return "lost", emitted
                    continue
                paused_at = time.monotonic()
                self._running.wait()
                start += time.monotonic() - paused_at
                continue
            media_time = grabbed * media_period
            if paced:
                behind = time.monotonic() - (start + media_time)
                if behind < 0:
                    self._stop.wait(-behind)
                    continue  # re-check stop and pause after sleeping
                if behind > 1.0:  # the pipeline fell far behind: do not burst to catch up
                    start += behind
            if not capture.grab():
                return self._stopped_reading(live, grabbed), emitted
            grabbed += 1
            captured = time.monotonic()
            clock = captured if live else media_time
            max_fps = self.spec.max_fps  # read per frame: a hot update changes it
            emit_period = 1.0 / max_fps if max_fps else 0.0
            if emit_period:
                if clock + 1e-6 < next_emit:
                    continue
                next_emit += emit_period
                if next_emit <= clock:  # after a stall, restart the cadence from now
                    next_emit = clock + emit_period
            ok, image = capture.retrieve()
            if not ok or image is None:
                return self._stopped_reading(live, grabbed), emitted
            size = self.spec.resize
            if size is not None and (image.shape[1], image.shape[0]) != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            self.height, self.width = image.shape[:2]
            frame = Frame(self._next_id, time.time(), captured, image)
            self._next_id += 1
            emitted += 1
            dropped = self._output.put(frame, drop_oldest=lossy)
            self._stats.add_read()
            if dropped:
                self._stats.add_dropped(dropped)
        return "stopped", emitted

    def _stopped_reading(self, live: bool, grabbed: int) -> str:
        """ "lost" or "ended": a network file that breaks off more than a second before its
        known frame count lost its server (the count can be an estimate, hence the slack)."""
        if live:
            return "lost"
        count = self._frame_count
        if count is not None and grabbed + (self.fps or _DEFAULT_FPS) < count:
            return "lost"
        return "ended"

    def _set_state(self, state: SourceState) -> None:
        with self._lock:
            self._state = state

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._state = SourceState.failed
            self._reason = reason
        log.error("source %s failed: %s", self._masked, reason)
        self._on_failed(reason)

    def _finish(self) -> None:
        self._output.put(EndOfStream())
        self._set_state(SourceState.finished)
