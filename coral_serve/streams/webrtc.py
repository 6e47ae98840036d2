"""WebRTC live view with aiortc: one peer connection per viewer, fed from the shared feed.

The browser offers (receive video, optionally a data channel); the replica answers with a
send-only video track and sends each frame's results as JSON on the data channel. Media goes
straight to the browser over UDP; only signalling passes through Serve. The annotated view
sends the pipeline's frames; the raw view the camera's own H.264 (`SourceRelay`), with the
results still on the data channel as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.sdp import SessionDescription

from coral_serve.config.streams import Codec, WebRTCConfig
from coral_serve.errors import InvalidRequestError, NotFoundError, TooManyError
from coral_serve.schema.spec import SourceSpec
from coral_serve.schema.streams import SdpAnswer, SdpOffer
from coral_serve.streams.encoder import SharedEncoder
from coral_serve.streams.errors import RawViewUnavailableError
from coral_serve.streams.fanout import Feed, FeedClosedError, FrameHub, FrameView
from coral_serve.streams.packets import PacketSource
from coral_serve.streams.relay import SourceRelay
from coral_serve.streams.tracks import FeedTrack, PacketTrack, forward_keyframe_requests

__all__ = [
    "WebRTCSessions",
    "codec_preferences",
    "negotiated_codec",
    "pin_host_addresses",
    "session_owner",
]

log = logging.getLogger(__name__)

# A viewer whose ICE has not connected this long after the answer has gone away.
_CONNECT_TIMEOUT = 30.0
# Results are dropped, not queued, while this much is still unsent to a slow viewer.
_MAX_BUFFERED_BYTES = 1 << 20
_GONE_STATES = frozenset({"failed", "closed"})
_gather_all_host_addresses = aioice.ice.get_host_addresses
_H264_PROFILE = "42e01f"


def pin_host_addresses(addresses: Sequence[str]) -> None:
    """Gather host candidates on exactly `addresses`; empty restores aioice's own choice.

    aioice reads host addresses process-wide (and never offers loopback by itself), so the
    pin is process-wide too: one replica is one process with one configuration.
    """
    if not addresses:
        aioice.ice.get_host_addresses = _gather_all_host_addresses
        return
    pinned = list(addresses)

    def gather(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = gather


def codec_preferences(codec: Codec) -> list[RTCRtpCodecCapability]:
    """Every video codec aiortc sends, the configured one first (the others stay fallbacks);
    of H.264, packetization mode 1 in constrained baseline (42e01f), what every browser
    that has H.264 decodes."""
    wanted = f"video/{codec.value}".lower()
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return sorted(
        codecs,
        key=lambda c: (
            c.mimeType.lower() != wanted,
            str(c.parameters.get("profile-level-id", "")).lower() != _H264_PROFILE,
        ),
    )


def negotiated_codec(sdp: str) -> str:
    """The codec an answer sends video with (the first of its video section), e.g. H264."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "video" and media.rtp.codecs:
            return media.rtp.codecs[0].name
    return ""


async def _first(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Wait until any of `events` is set, or `timeout` passes."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


class ViewerSession:
    """One browser's peer connection; closes itself when the peer or the pipeline goes."""

    def __init__(
        self,
        session_id: str,
        pipeline_id: str,
        configuration: RTCConfiguration,
        on_end: Callable[[str], None],
    ) -> None:
        self.id = session_id
        self.pipeline_id = pipeline_id
        self._pc = RTCPeerConnection(configuration)
        self._on_end = on_end
        self._channel: RTCDataChannel | None = None
        self._connected = asyncio.Event()
        self._gone = asyncio.Event()
        self._closed = False
        self._feed: Feed | None = None
        self._track: FeedTrack | PacketTrack | None = None
        self.codec = ""
        self.raw = False
        self._tasks: list[asyncio.Task[None]] = []

    async def answer(
        self,
        feed: Feed,
        offer: SdpOffer,
        codecs: list[RTCRtpCodecCapability],
        shared: Callable[[], PacketSource] | None,
    ) -> str:
        """Answer `offer` with the `shared` packets when H.264 is negotiated, else this
        viewer's own encode of the feed (never for the raw view: its packets are the
        camera's). The codec preference is set before the remote description, the only
        time aiortc applies it; the track is chosen once the codec is known, before any
        media flows."""
        self.raw = offer.view == "raw"
        pc = self._pc
        self._feed = feed
        feed.attach()
        transceiver = pc.addTransceiver("video", direction="sendonly")
        transceiver.setCodecPreferences(codecs)
        pc.on("datachannel", self._on_channel)
        pc.on("connectionstatechange", self._on_state)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            if transceiver.mid is None:
                raise InvalidRequestError("the SDP offer has no video section to receive video")
            answer = await pc.createAnswer()
        except InvalidRequestError:
            raise
        except Exception as exc:  # aiortc raises many types for SDP it cannot use
            raise InvalidRequestError(f"the SDP offer cannot be used: {str(exc)[:200]}") from None
        self.codec = negotiated_codec(answer.sdp)
        if shared is not None and self.codec == "H264":
            track: FeedTrack | PacketTrack = PacketTrack(shared(), self._send_result)
            forward_keyframe_requests(transceiver.sender, track)
        elif self.raw:
            raise RawViewUnavailableError(
                "the raw view sends the camera's H.264 as it is, and this offer does not "
                "accept H.264 (the annotated view works in VP8)"
            )
        else:
            track = FeedTrack(feed, self._send_result)
        self._track = track
        transceiver.sender.replaceTrack(track)
        await pc.setLocalDescription(answer)  # gathers candidates: seconds with STUN/TURN
        self._tasks.append(asyncio.create_task(self._supervise(feed)))
        if self.raw:  # the video carries no results of its own
            self._tasks.append(asyncio.create_task(self._forward_results(feed)))
        return pc.localDescription.sdp

    @property
    def encoding(self) -> str:
        """How this viewer's video is made, for logs: `H264 shared`, `H264 raw`, `VP8 own`."""
        if self.raw:
            return f"{self.codec} raw"
        return f"{self.codec} {'shared' if isinstance(self._track, PacketTrack) else 'own'}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await self._pc.close()
        if self._track is not None:
            self._track.stop()  # a sender that never started does not stop its track
        if self._feed is not None:
            self._feed.detach()
        self._on_end(self.id)
        log.info("viewer session %s of pipeline %s closed", self.id, self.pipeline_id)

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self._channel = channel

    def _on_state(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self._connected.set()
        elif state in _GONE_STATES:
            self._gone.set()

    def _send_result(self, view: FrameView) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        if channel.bufferedAmount > _MAX_BUFFERED_BYTES:
            return
        if view.message is None:  # serialised once per frame, however many viewers
            view.message = json.dumps({"seq": view.seq, "pts": view.pts, **view.result})
        channel.send(view.message)

    async def _forward_results(self, feed: Feed) -> None:
        """Each published frame's results, as the annotated view sends them with its video."""
        seq = 0
        with contextlib.suppress(FeedClosedError):  # the supervisor closes the session
            while True:
                view = await feed.next(seq)
                assert view is not None  # no timeout given
                seq = view.seq
                self._send_result(view)

    async def _supervise(self, feed: Feed) -> None:
        """Close when ICE never connects, the peer goes away or the pipeline ends."""
        await _first(self._connected, self._gone, feed.closed, timeout=_CONNECT_TIMEOUT)
        if self._connected.is_set():
            await _first(self._gone, feed.closed)
        await self.close()


def session_owner(session_id: str) -> str:
    """The tag of the replica holding a session: ids are `<replica tag>-<32 hex digits>`."""
    return session_id.partition("-")[0]


class WebRTCSessions:
    """The viewer sessions of one replica, within the configured limits."""

    def __init__(self, config: WebRTCConfig, hub: FrameHub, owner: str) -> None:
        self._config = config
        self._hub = hub
        self._owner = owner
        servers = config.ice_config().ice_servers
        # An explicit empty list: aiortc falls back to a public STUN server on None.
        self._rtc = RTCConfiguration(
            iceServers=[RTCIceServer(**server.model_dump()) for server in servers]
        )
        self._codecs = codec_preferences(config.codec)
        self._raw_codecs = codec_preferences(Codec.h264)
        self._sessions: dict[str, ViewerSession] = {}
        self._encoders: dict[str, SharedEncoder] = {}
        self._relays: dict[str, SourceRelay] = {}

    def count(self, pipeline_id: str | None = None, raw: bool = False) -> int:
        """Open sessions (of one pipeline; only those of the raw view)."""
        return sum(
            1
            for s in self._sessions.values()
            if pipeline_id in (None, s.pipeline_id) and (s.raw or not raw)
        )

    def by_pipeline(self) -> dict[str, int]:
        """Open sessions per pipeline id."""
        return dict(Counter(session.pipeline_id for session in self._sessions.values()))

    def check_enabled(self) -> None:
        if not self._config.enabled:
            raise NotFoundError("WebRTC is disabled (streams.webrtc.enabled); use MJPEG")

    async def open(
        self, pipeline_id: str, offer: SdpOffer, source: SourceSpec | None = None
    ) -> SdpAnswer:
        """A viewer session; the raw view needs the pipeline's `source`, relayed from here."""
        self.check_enabled()
        self._check_limits(pipeline_id)
        session_id = f"{self._owner}-{uuid.uuid4().hex}"
        session = ViewerSession(session_id, pipeline_id, self._rtc, self._forget)
        self._sessions[session.id] = session  # counts against the limits from now on
        try:
            feed = await self._hub.require(pipeline_id)
            if source is not None:
                sdp = await self._answer_raw(session, feed, offer, source)
            else:
                shared = (lambda: self._encoder(feed)) if self._config.shared_encoder else None
                sdp = await session.answer(feed, offer, self._codecs, shared)
        except BaseException:
            await session.close()
            raise
        log.info(
            "viewer session %s of pipeline %s opened (%s)",
            session.id,
            pipeline_id,
            session.encoding,
        )
        return SdpAnswer(session_id=session.id, sdp=sdp)

    async def close(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFoundError(
                f"no viewer session {session_id!r} (closed, or its replica has gone)"
            )
        await session.close()

    async def close_all(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()
        for encoder in [*self._encoders.values(), *self._relays.values()]:
            await encoder.close()
        self._encoders.clear()
        self._relays.clear()

    def _check_limits(self, pipeline_id: str) -> None:
        config = self._config
        if len(self._sessions) >= config.max_sessions_per_replica:
            raise TooManyError(
                f"this replica already serves {config.max_sessions_per_replica} viewers "
                "(streams.webrtc.max_sessions_per_replica)"
            )
        if self.count(pipeline_id) >= config.max_viewers_per_pipeline:
            raise TooManyError(
                f"pipeline {pipeline_id!r} already has {config.max_viewers_per_pipeline} "
                "viewers (streams.webrtc.max_viewers_per_pipeline)"
            )

    def _encoder(self, feed: Feed) -> SharedEncoder:
        """The feed's shared encoder; a new one when the feed is new or the last one ended."""
        encoder = self._encoders.get(feed.pipeline_id)
        if encoder is None or encoder.feed is not feed or encoder.closed:
            encoder = SharedEncoder(feed, self._config.keyframe_interval)
            self._encoders[feed.pipeline_id] = encoder
        return encoder

    async def _answer_raw(
        self, session: ViewerSession, feed: Feed, offer: SdpOffer, source: SourceSpec
    ) -> str:
        """Answer with the pipeline's relay, held while the source opens (a refusal then
        answers the offer) and until the viewer's track holds it."""
        relay = self._relays.get(feed.pipeline_id)
        if relay is None or relay.closed or relay.source != source:
            relay = self._relays[feed.pipeline_id] = SourceRelay(feed.pipeline_id, source)
        relay.attach()
        try:
            await relay.ready()
            return await session.answer(feed, offer, self._raw_codecs, lambda: relay)
        finally:
            relay.detach()
            self._drop_unused(feed.pipeline_id)

    def _forget(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._drop_unused(session.pipeline_id)

    def _drop_unused(self, pipeline_id: str) -> None:
        for users in (self._encoders, self._relays):
            encoder = users.get(pipeline_id)
            if encoder is not None and not encoder.users:
                del users[pipeline_id]
