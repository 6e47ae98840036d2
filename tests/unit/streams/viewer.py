"""A real aiortc viewer, as a browser would be: receives the video and the results channel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frame_times: list[float] = []
        self.frame_pts: list[int] = []
        self.results: list[dict[str, Any]] = []
        self.result_times: list[float] = []
        self.first_image: np.ndarray | None = None
        self.ended = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.pc.addTransceiver("video", direction="recvonly")
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

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

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
