"""`PacketEncoder`: a pipeline's one H.264 encoder, whose packets its recordings and its event
clips both mux as they are (`PacketFile`), so no frame is encoded twice.

The encoder is the engine's `recorder(frame_bgr, timestamp)` hook: the call only queues the
frame (the engine never touches a published frame again), and a full queue drops the frame
rather than hold up the publish stage. Its thread encodes with libx264 (`ENCODER_OPTIONS`),
a keyframe every `KEYFRAME_SECONDS` and SPS/PPS in-band, so that any keyframe starts a
playable file, and hands every packet to its consumers in that thread. A new frame size
(a source switching resolution) starts a new encoder, whose first packet is a keyframe.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np
from av.video.frame import PictureType

__all__ = [
    "ENCODER_OPTIONS",
    "IDLE_SECONDS",
    "KEYFRAME_SECONDS",
    "Packet",
    "PacketConsumer",
    "PacketEncoder",
    "PacketFile",
]

log = logging.getLogger(__name__)

# H.264 settings of the encoder (no B-frames, no lookahead: a frame's packet comes at once).
ENCODER_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "threads": "1"}
# A keyframe at least this often: a clip starts at most this early, a segment this late.
KEYFRAME_SECONDS = 1.0
# No frame for this long: the pipeline paused, finished or stalled (consumers' `on_idle`).
IDLE_SECONDS = 5.0
# Frames waiting for the encoder; beyond this frames are dropped.
_QUEUE_FRAMES = 32
_TIME_BASE = Fraction(1, 1000)  # pts in milliseconds


@dataclass(frozen=True)
class Packet:
    """One encoded frame: its capture timestamp and the size of the video it belongs to."""

    timestamp: float
    keyframe: bool
    data: bytes
    size: tuple[int, int]


class PacketConsumer(Protocol):
    """Called in the encoder's thread, so it should not wait long; what it raises is
    counted in the encoder's `errors`."""

    def on_packet(self, packet: Packet) -> None: ...

    def on_idle(self) -> None:
        """No frame came for `IDLE_SECONDS`; the next packet is a keyframe."""
        ...


class PacketFile:
    """An MP4 of packets as they are (no encoding), written at `path`, from a keyframe on."""

    def __init__(self, path: Path, first: Packet) -> None:
        if not first.keyframe:
            raise ValueError("a file starts at a keyframe: the packets before it cannot decode")
        self.path = path
        self.size = first.size
        self._first = round(first.timestamp * 1000)
        self._pts = -1
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        stream = self._container.add_stream("h264", rate=25)
        stream.width, stream.height = first.size
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        self._stream = stream

    def mux(self, packet: Packet) -> None:
        self._pts = max(round(packet.timestamp * 1000) - self._first, self._pts + 1)
        out = av.Packet(packet.data)
        out.pts = out.dts = self._pts
        out.time_base = _TIME_BASE
        out.stream = self._stream
        out.is_keyframe = packet.keyframe
        self._container.mux(out)

    def close(self) -> None:
        self._container.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        self.path.unlink(missing_ok=True)


class _Codec:
    """libx264 for one frame size; packets carry capture timestamps."""

    def __init__(self, size: tuple[int, int], first: float) -> None:
        self.size = size
        self._first = first
        self._pts = -1
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = size
        codec.pix_fmt = "yuv420p"
        codec.time_base = _TIME_BASE
        codec.framerate = Fraction(25)
        codec.options = dict(ENCODER_OPTIONS)
        codec.open()  # no global header: SPS/PPS go in-band, before every keyframe
        self._codec = codec

    def encode(self, image: np.ndarray, timestamp: float, keyframe: bool) -> list[Packet]:
        width, height = self.size
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image[:height, :width]), format="bgr24"
        )
        self._pts = max(self._pts + 1, round((timestamp - self._first) * 1000))
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        return self._packets(self._codec.encode(frame))

    def drain(self) -> list[Packet]:
        """The packets still inside the encoder; it takes no frame after this."""
        return self._packets(self._codec.encode(None))

    def _packets(self, packets: list[av.Packet]) -> list[Packet]:
        return [
            Packet(self._first + p.pts / 1000, bool(p.is_keyframe), bytes(p), self.size)
            for p in packets
        ]


class PacketEncoder:
    """See the module docstring. `status()` counts what a user pays for: the libx264 encoders
    opened (one, plus one per change of frame size) and the frames encoded."""

    def __init__(self, name: str = "encoder") -> None:
        self.encoders = 0
        self.frames = 0
        self.dropped = 0
        self.errors = 0
        self._consumers: list[PacketConsumer] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(_QUEUE_FRAMES)
        self._closed = False
        self._keyframe_now = True  # a consumer joined: it starts at the next frame
        # Owned by the encoder thread:
        self._codec: _Codec | None = None
        self._next_keyframe = 0.0
        # Started by the first consumer: an output that failed to open leaves no thread behind.
        self._thread = threading.Thread(target=self._run, name=f"{name}-encoder", daemon=True)

    def __call__(self, image: np.ndarray, timestamp: float) -> None:
        if self._closed or self._thread.ident is None:
            return
        try:
            self._queue.put_nowait((image, timestamp))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("encoder %s cannot keep up; dropping frames", self._thread.name)

    @property
    def consumers(self) -> int:
        return len(self._consumers)

    def subscribe(self, consumer: PacketConsumer) -> None:
        with self._lock:
            self._consumers.append(consumer)
            self._keyframe_now = True
            if self._thread.ident is None and not self._closed:
                self._thread.start()

    def unsubscribe(self, consumer: PacketConsumer) -> None:
        """After this, at most the packet being handed out reaches `consumer`."""
        with self._lock:
            if consumer in self._consumers:
                self._consumers.remove(consumer)

    def flush(self) -> None:
        """Wait until every frame queued so far is encoded and handed out."""
        self._queue.join()

    def close(self, timeout: float = 10.0) -> None:
        """Encode what is queued, hand out the last packets and end the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread.ident is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def status(self) -> dict[str, int]:
        return {
            "encoders": self.encoders,
            "frames": self.frames,
            "dropped": self.dropped,
            "errors": self.errors,
        }

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                self._keyframe_now = True
                for consumer in self._current():
                    consumer.on_idle()
                continue
            try:
                if item is None:
                    self._hand_out(self._drained())
                    return
                self._hand_out(self._encode(*item))
            finally:
                self._queue.task_done()

    def _encode(self, image: np.ndarray, timestamp: float) -> list[Packet]:
        size = (image.shape[1] & ~1, image.shape[0] & ~1)  # yuv420p needs even sizes
        packets = self._drained() if self._codec is not None and self._codec.size != size else []
        try:
            if self._codec is None:
                self._codec = _Codec(size, timestamp)
                self.encoders += 1
            keyframe = self._keyframe_now or timestamp >= self._next_keyframe
            if keyframe:  # by time, whatever the source's frame rate
                self._keyframe_now = False
                self._next_keyframe = timestamp + KEYFRAME_SECONDS
            packets += self._codec.encode(image, timestamp, keyframe)
            self.frames += 1
        except Exception:  # a bad frame costs this frame; a fresh encoder takes the next
            self.errors += 1
            if self.errors == 1:
                log.exception("encoder %s failed; it starts again", self._thread.name)
            self._codec = None
        return packets

    def _drained(self) -> list[Packet]:
        codec, self._codec = self._codec, None
        if codec is None:
            return []
        try:
            return codec.drain()
        except Exception:
            self.errors += 1
            return []

    def _hand_out(self, packets: list[Packet]) -> None:
        consumers = self._current()
        for packet in packets:
            for consumer in consumers:
                try:
                    consumer.on_packet(packet)
                except Exception:  # one consumer's bug must not end the others' video
                    self.errors += 1
                    if self.errors == 1:
                        log.exception("a consumer of encoder %s failed", self._thread.name)

    def _current(self) -> tuple[PacketConsumer, ...]:
        with self._lock:
            return tuple(self._consumers)
