"""The video tracks a viewer's peer connection sends: shared packets or its own frames.

`PacketTrack` hands aiortc H.264 packets every viewer shares (the shared encoder's, or the
camera's own through a source relay), which its sender only packetizes; `FeedTrack` hands
it pictures to encode for this viewer alone (VP8, for browsers without H.264, or with
`streams.webrtc.shared_encoder` off).
"""

from __future__ import annotations

from collections.abc import Callable

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError
from av import VideoFrame

from coral_serve.streams.fanout import Feed, FeedClosedError, FrameView
from coral_serve.streams.packets import PacketSource
from coral_serve.streams.pictures import picture

__all__ = ["FeedTrack", "PacketTrack", "forward_keyframe_requests"]


class FeedTrack(MediaStreamTrack):
    """A viewer's own encode; each gets its own `VideoFrame` (encoders mutate frames)."""

    kind = "video"

    def __init__(self, feed: Feed, on_frame: Callable[[FrameView], None]) -> None:
        super().__init__()
        self._feed = feed
        self._on_frame = on_frame
        self._seq = 0

    async def recv(self) -> VideoFrame:
        try:
            view = await self._feed.next(self._seq)
        except FeedClosedError:
            self.stop()
            raise MediaStreamError from None
        assert view is not None  # no timeout given
        self._seq = view.seq
        frame = VideoFrame.from_ndarray(await picture(view), format="yuv420p")
        frame.pts = view.pts
        frame.time_base = VIDEO_TIME_BASE
        self._on_frame(view)
        return frame


class PacketTrack(MediaStreamTrack):
    """The shared frames in order, from a keyframe on; uses their source until stopped."""

    kind = "video"

    def __init__(self, encoder: PacketSource, on_frame: Callable[[FrameView], None]) -> None:
        super().__init__()
        self._encoder = encoder
        self._on_frame = on_frame
        self._index: int | None = None  # None: wait for a keyframe
        encoder.attach()

    async def recv(self) -> av.Packet:
        try:
            frame = await self._encoder.next(self._index)
        except FeedClosedError:
            self.stop()
            raise MediaStreamError from None
        self._index = frame.index
        packet = av.Packet(frame.data)
        packet.pts, packet.time_base = frame.pts, VIDEO_TIME_BASE
        if frame.view is not None:
            self._on_frame(frame.view)
        return packet

    def request_keyframe(self) -> None:
        self._encoder.request_keyframe()

    def stop(self) -> None:
        if self.readyState != "ended":
            self._encoder.detach()
        super().stop()


def forward_keyframe_requests(sender: RTCRtpSender, track: PacketTrack) -> None:
    """Pass the viewer's PLI and FIR on to the shared packets' source.

    aiortc's sender turns them into `_send_keyframe()`, which only flags its own encoder,
    and packets bypass that encoder: this instance's hook asks the shared one as well.
    """
    own = sender._send_keyframe

    def send_keyframe() -> None:
        own()
        track.request_keyframe()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
