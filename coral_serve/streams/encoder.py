"""One H.264 encoder per pipeline per replica, whose packets every viewer sends as they are.

Encoding is what a live viewer costs (7-14 % of a core per viewer at 640x480, 30 fps); the
packets of one encoder serve every viewer instead. Delta frames need the frames before
them, so a viewer starts at a keyframe and never skips one: the encoder keeps a short ring
of encoded frames that each viewer reads by index, and makes a keyframe every
`keyframe_interval` seconds and soon after anyone asks (a viewer joining, falling behind
the ring, or sending PLI/FIR).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from coral_serve.streams.fanout import Feed, FeedClosedError, FrameView
from coral_serve.streams.pictures import picture
from coral_serve.tasks import stop_tasks

__all__ = ["EncodedFrame", "SharedEncoder"]

log = logging.getLogger(__name__)

# About two seconds at 30 fps: a viewer further behind than this restarts at a keyframe.
_RING = 64
# Forced keyframes at most this often, however many viewers join or report loss.
_MIN_KEYFRAME_GAP = 0.25
# How long the encoder waits for a frame before checking whether anyone still watches.
_IDLE_CHECK = 1.0
# aiortc's own starting bitrate; a shared stream cannot follow one viewer's bandwidth.
_BITRATE = 1_000_000
_TIME_BASE = Fraction(1, 90_000)  # the feed's pts clock, kept as the packets' timestamps


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame as every viewer sends it."""

    index: int  # consecutive within the encoder: a gap means a viewer missed a frame
    data: bytes  # one H.264 access unit, Annex B (SPS/PPS repeated before each keyframe)
    pts: int  # the feed's 90 kHz pts
    keyframe: bool
    view: FrameView  # the published frame it came from (its results go on the data channel)


class _H264:
    """libx264 for real-time WebRTC: constrained baseline 3.1, no B-frames, no lookahead."""

    def __init__(self) -> None:
        self._codec: av.VideoCodecContext | None = None
        self._lock = threading.Lock()  # an encode outlives a cancelled await

    def encode(self, i420: np.ndarray, pts: int, keyframe: bool) -> tuple[bytes, bool]:
        """The access unit of one I420 picture and whether it is a keyframe."""
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts, frame.time_base = pts, _TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        with self._lock:
            codec = self._codec
            if codec is None or (codec.width, codec.height) != (frame.width, frame.height):
                codec = self._codec = self._open(frame.width, frame.height)
            packets = codec.encode(frame)
        data = b"".join(bytes(packet) for packet in packets)
        return data, any(packet.is_keyframe for packet in packets)

    @staticmethod
    def _open(width: int, height: int) -> av.VideoCodecContext:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.bit_rate = _BITRATE
        codec.time_base = _TIME_BASE
        codec.framerate = Fraction(30)
        codec.profile = "Baseline"
        codec.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "level": "31",
            "forced-idr": "1",
        }
        return codec


class SharedEncoder:
    """Encodes a feed's frames while any viewer uses it; viewers read them by index."""

    def __init__(self, feed: Feed, keyframe_interval: float) -> None:
        self.feed = feed
        self._interval = keyframe_interval
        self._h264 = _H264()
        self._ring: deque[EncodedFrame] = deque(maxlen=_RING)
        self._changed = asyncio.Condition()
        self._keyframe_wanted = True
        self._last_keyframe = -math.inf
        self._users = 0
        self._closed = False
        self._reason = ""
        self._task: asyncio.Task[None] | None = None

    @property
    def users(self) -> int:
        return self._users

    @property
    def closed(self) -> bool:
        """The feed ended or encoding failed: viewers from now on need a new encoder."""
        return self._closed

    def attach(self) -> None:
        """One more viewer: encode from now on (again, if everyone had left)."""
        self._users += 1
        if self._task is None or self._task.done():
            name = f"coral-encoder-{self.feed.pipeline_id}"
            self._task = asyncio.create_task(self._run(), name=name)

    def detach(self) -> None:
        """The encoder stops within a frame (or `_IDLE_CHECK`) of its last viewer leaving."""
        self._users -= 1

    async def close(self) -> None:
        """Stop encoding now (the service stopping); viewers still reading end."""
        if self._task is not None:
            await stop_tasks([self._task])
        await self._close("the stream service stopped")

    def request_keyframe(self) -> None:
        """Make the next frame a keyframe (within `_MIN_KEYFRAME_GAP` of the last one)."""
        self._keyframe_wanted = True

    async def next(self, after: int | None) -> EncodedFrame:
        """The frame after index `after`; with None, or when `after` has left the ring,
        the next keyframe, asked for now. Raises FeedClosedError when the pipeline ends."""
        async with self._changed:
            if after is not None and self._lost(after):
                after = None
            if after is None:
                self.request_keyframe()
                start = self._ring[-1].index if self._ring else -1
                await self._changed.wait_for(lambda: self._closed or self._keyframe_after(start))
                found = self._keyframe_after(start)
            else:
                await self._changed.wait_for(lambda: self._closed or self._newest() > after)
                found = None if self._lost(after) else self._at(after + 1)
        if self._closed:
            raise FeedClosedError(self._reason)
        if found is None:
            return await self.next(None)  # fell out of the ring while waiting
        return found

    def _newest(self) -> int:
        return self._ring[-1].index if self._ring else -1

    def _lost(self, after: int) -> bool:
        return bool(self._ring) and after + 1 < self._ring[0].index

    def _at(self, index: int) -> EncodedFrame:
        return self._ring[index - self._ring[0].index]

    def _keyframe_after(self, start: int) -> EncodedFrame | None:
        return next((f for f in self._ring if f.index > start and f.keyframe), None)

    def _keyframe_due(self, now: float) -> bool:
        since = now - self._last_keyframe
        return since >= self._interval or (self._keyframe_wanted and since >= _MIN_KEYFRAME_GAP)

    async def _run(self) -> None:
        seq = 0
        try:
            while self._users > 0:
                view = await self.feed.next(seq, _IDLE_CHECK)
                if view is None:
                    continue
                seq = view.seq
                await self._encode(view)
        except FeedClosedError as exc:
            await self._close(str(exc))
        except Exception as exc:  # a frame libx264 refuses must not leave viewers waiting
            log.exception("encoding the live view of pipeline %s failed", self.feed.pipeline_id)
            await self._close(f"the live view failed: {type(exc).__name__}")

    async def _close(self, reason: str) -> None:
        async with self._changed:
            self._closed, self._reason = True, reason
            self._changed.notify_all()

    async def _encode(self, view: FrameView) -> None:
        keyframe = self._keyframe_due(time.monotonic())
        i420 = await picture(view)
        data, keyframe = await asyncio.to_thread(self._h264.encode, i420, view.pts, keyframe)
        if not data:
            return
        if keyframe:
            self._last_keyframe = time.monotonic()
            self._keyframe_wanted = False
        async with self._changed:
            self._ring.append(EncodedFrame(self._newest() + 1, data, view.pts, keyframe, view))
            self._changed.notify_all()
