"""A real aiortc viewer, as a browser would be: receives the video and the results channel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket


class Viewer:
    """`codecs` (e.g. ["video/VP8"]) limits what the offer accepts, as a browser without
    H.264 would; `record` keeps every video RTP packet's arrival time, payload type and
    payload."""

    def __init__(self, codecs: list[str] | None = None, record: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.packets: list[tuple[float, int, bytes]] = []
        self._ssrc: int | None = None
        self.frame_times: list[float] = []
        self.frame_pts: list[int] = []
        self.results: list[dict[str, Any]] = []
        self.result_times: list[float] = []
        self.first_image: np.ndarray | None = None
        self.ended = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if codecs is not None:
            accepted = RTCRtpReceiver.getCapabilities("video").codecs
            transceiver.setCodecPreferences([c for c in accepted if c.mimeType in codecs])
        self._receiver = transceiver.receiver
        if record:
            self._record_packets()
        channel = self.pc.createDataChannel("results")
        channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    async def offer(self) -> dict[str, str]:
        """The offer body, with every ICE candidate (aiortc gathers before returning)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": "offer"}

    async def accept(self, answer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def wait_frames(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.frame_times) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.frame_times)} of {count} frames in {timeout}s")
            await asyncio.sleep(0.05)

    async def report_picture_loss(self) -> None:
        """Send a PLI for the video stream, as a browser does after losing packets."""
        assert self._ssrc is not None, "record=True, and wait for a packet first"
        await self._receiver._send_rtcp_pli(self._ssrc)

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def _record_packets(self) -> None:
        """Keep each arriving packet: wraps this receiver's own RTP handler."""
        handle = self._receiver._handle_rtp_packet

        async def recording(packet: RtpPacket, arrival_time_ms: int) -> None:
            self._ssrc = packet.ssrc
            self.packets.append((time.time(), packet.payload_type, packet.payload))
            await handle(packet, arrival_time_ms)

        self._receiver._handle_rtp_packet = recording  # type: ignore[method-assign]

    def _on_message(self, message: str) -> None:
        self.result_times.append(time.time())
        self.results.append(json.loads(message))

    def _on_state(self) -> None:
        if self.pc.connectionState in ("closed", "failed"):
            self.ended.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frame_times.append(time.time())
                self.frame_pts.append(frame.pts)
                if self.first_image is None:
                    self.first_image = frame.to_ndarray(format="bgr24")
        except MediaStreamError:
            self.ended.set()
