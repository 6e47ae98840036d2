"""One H.264 encoder per pipeline per replica, whose packets every viewer sends as they are.

Encoding is what a live viewer costs (7-14 % of a core per viewer at 640x480, 30 fps); the
packets of one encoder serve every viewer instead, from a ring (`PacketRing`). It makes a
keyframe every `keyframe_interval` seconds and soon after anyone asks (a viewer joining,
falling behind the ring, or sending PLI/FIR).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from coral_serve.streams.fanout import Feed, FeedClosedError, FrameView
from coral_serve.streams.packets import PacketRing, SharedPackets
from coral_serve.streams.pictures import picture

__all__ = ["SharedEncoder"]

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


class SharedEncoder(SharedPackets):
    """Encodes a feed's frames while any viewer uses it; viewers read them by index."""

    def __init__(self, feed: Feed, keyframe_interval: float) -> None:
        ring = PacketRing(_RING, replay=0.0, on_join=self.request_keyframe)
        super().__init__(f"coral-encoder-{feed.pipeline_id}", ring)
        self.feed = feed
        self._interval = keyframe_interval
        self._h264 = _H264()
        self._keyframe_wanted = True
        self._last_keyframe = -math.inf

    def request_keyframe(self) -> None:
        """Make the next frame a keyframe (within `_MIN_KEYFRAME_GAP` of the last one)."""
        self._keyframe_wanted = True

    def _keyframe_due(self, now: float) -> bool:
        since = now - self._last_keyframe
        return since >= self._interval or (self._keyframe_wanted and since >= _MIN_KEYFRAME_GAP)

    async def _run(self) -> None:
        """Encode until the last viewer leaves (within a frame, or `_IDLE_CHECK`)."""
        seq = 0
        try:
            while self._users > 0:
                view = await self.feed.next(seq, _IDLE_CHECK)
                if view is None:
                    continue
                seq = view.seq
                await self._encode(view)
        except FeedClosedError as exc:
            await self._ring.close(str(exc))
        except Exception as exc:  # a frame libx264 refuses must not leave viewers waiting
            log.exception("encoding the live view of pipeline %s failed", self.feed.pipeline_id)
            await self._ring.close(f"the live view failed: {type(exc).__name__}")

    async def _encode(self, view: FrameView) -> None:
        keyframe = self._keyframe_due(time.monotonic())
        i420 = await picture(view)
        data, keyframe = await asyncio.to_thread(self._h264.encode, i420, view.pts, keyframe)
        if not data:
            return
        if keyframe:
            self._last_keyframe = time.monotonic()
            self._keyframe_wanted = False
        await self._ring.append(data, view.pts, keyframe, view)
