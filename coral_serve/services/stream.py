"""StreamService: live view (WebRTC, MJPEG, snapshots), source probes and recordings.

Any number of replicas: each pulls a watched pipeline's frames once (`FrameHub`) and fans
them out to its own viewers. Frames arrive as JPEG bytes with their results; raw frames
never cross Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

from coral_serve.config import CoralConfig
from coral_serve.errors import UnavailableError
from coral_serve.schema.streams import (
    ProbeResult,
    RecordingFile,
    RecordingSegment,
    SdpAnswer,
    SdpOffer,
)
from coral_serve.services.client import ServiceClient
from coral_serve.services.monitor import VIEWER_REPORT_TTL
from coral_serve.services.outbound import check_outbound
from coral_serve.services.sources import check_source
from coral_serve.streams.fanout import FeedClosedError, FrameHub, FrameView
from coral_serve.streams.probe import SourceProber
from coral_serve.streams.recordings import RecordingStore
from coral_serve.streams.webrtc import WebRTCSessions, pin_host_addresses
from coral_serve.tasks import stop_tasks
from coral_serve.workers.pool import WorkerPool

__all__ = ["StreamService"]

log = logging.getLogger(__name__)

# How long a snapshot of a pipeline that has not published a frame yet waits for one.
_SNAPSHOT_WAIT = 5.0
_LONGEST_WAIT = 30.0
# Largest chunk of a recording one call returns (the ingress streams chunk by chunk).
_MAX_READ = 4 << 20


class StreamService:
    """Fans each pipeline's frames out to its viewers; scales out with replicas."""

    def __init__(self, config: CoralConfig, workers: WorkerPool, monitor: Any = None) -> None:
        self._config = config
        self._workers = workers
        self._monitor = ServiceClient(monitor) if monitor is not None else None
        self._replica = uuid.uuid4().hex
        self._viewer_task: asyncio.Task[None] | None = None
        self._viewers_changed = asyncio.Event()
        self._hub = FrameHub(workers)
        self._sessions = WebRTCSessions(config.streams.webrtc, self._hub)
        self._prober = SourceProber(config.streams.capture_timeout)
        self._recordings = RecordingStore(Path(str(config.streams.recordings.directory)))

    async def start(self) -> None:
        """Nothing to open until the first viewer arrives; only the ICE host addresses."""
        pin_host_addresses(self._config.streams.webrtc.host_addresses)
        if self._monitor is not None:
            self._viewer_task = asyncio.create_task(self._report_viewers(), name="coral-viewers")

    async def stop(self) -> None:
        if self._viewer_task is not None:
            await stop_tasks([self._viewer_task])
        await self._sessions.close_all()
        await self._hub.close()
        self._prober.close()
        pin_host_addresses([])

    async def session_count(self, pipeline_id: str | None = None) -> int:
        """WebRTC viewers on this replica (of one pipeline, or of all)."""
        return self._sessions.count(pipeline_id)

    async def _report_viewers(self) -> None:
        """Tell MonitorService this replica's WebRTC viewers per pipeline (coral_stream_viewers),
        often enough that its per-replica reports never expire while the replica lives."""
        assert self._monitor is not None
        while True:
            try:
                await self._monitor.call(
                    "report_viewers", self._replica, self._sessions.by_pipeline()
                )
            except Exception as exc:  # monitoring being down must not touch live video
                log.debug("viewer report failed: %s", exc)
            self._viewers_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._viewers_changed.wait(), VIEWER_REPORT_TTL / 3)

    async def watched(self) -> list[str]:
        """Pipelines this replica is pulling frames for (one subscription each)."""
        return self._hub.active()

    # -- live view ------------------------------------------------------------------------

    async def offer(self, pipeline_id: str, offer: SdpOffer) -> SdpAnswer:
        """Answer a viewer's WebRTC offer; media then flows to the viewer directly."""
        answer = await self._sessions.open(pipeline_id, offer)
        self._viewers_changed.set()
        return answer

    async def close_session(self, session_id: str) -> None:
        await self._sessions.close(session_id)
        self._viewers_changed.set()

    async def first_jpeg(self, pipeline_id: str, timeout: float) -> tuple[int, float, bytes]:
        """The frame an MJPEG stream opens with: 404 unless running, 503 without frames."""
        view = await self._current(pipeline_id, timeout)
        return view.seq, view.timestamp, view.jpeg

    async def next_jpeg(
        self, pipeline_id: str, after_seq: int, timeout: float
    ) -> tuple[int, float, bytes] | None:
        """A frame other than `after_seq` from the shared feed; None while none comes."""
        view = await self._next(pipeline_id, after_seq, timeout)
        return None if view is None else (view.seq, view.timestamp, view.jpeg)

    async def snapshot(self, pipeline_id: str) -> bytes:
        """The newest frame as JPEG."""
        return (await self._current(pipeline_id, _SNAPSHOT_WAIT)).jpeg

    async def _current(self, pipeline_id: str, timeout: float) -> FrameView:
        feed = await self._hub.require(pipeline_id)
        view = feed.latest or await self._next(pipeline_id, 0, timeout)
        if view is None:
            raise UnavailableError(f"pipeline {pipeline_id!r} has not published a frame yet")
        return view

    async def _next(self, pipeline_id: str, after_seq: int, timeout: float) -> FrameView | None:
        try:
            return await self._hub.feed(pipeline_id).next(after_seq, min(timeout, _LONGEST_WAIT))
        except FeedClosedError as exc:
            raise UnavailableError(f"live view of pipeline {pipeline_id!r} ended: {exc}") from None

    # -- sources --------------------------------------------------------------------------

    async def probe(self, uri: str) -> ProbeResult:
        """Open `uri` as a pipeline would: the same scheme, file-root and outbound policy."""
        pipelines = self._config.pipelines
        await asyncio.to_thread(check_source, uri, pipelines.sources, pipelines.data_dir)
        await check_outbound(uri, pipelines.outbound)
        return await self._prober.probe(uri)

    # -- recordings -----------------------------------------------------------------------

    async def recordings(
        self, pipeline_id: str | None, start: float | None, end: float | None
    ) -> list[RecordingSegment]:
        return await asyncio.to_thread(self._recordings.segments, pipeline_id, start, end)

    async def recording_file(self, pipeline_id: str, segment: str) -> RecordingFile:
        return await asyncio.to_thread(self._recordings.describe, pipeline_id, segment)

    async def read_recording(
        self, pipeline_id: str, segment: str, offset: int, length: int
    ) -> bytes:
        length = min(length, _MAX_READ)
        return await asyncio.to_thread(self._recordings.read, pipeline_id, segment, offset, length)

    async def delete_recording(self, pipeline_id: str, segment: str) -> None:
        await asyncio.to_thread(self._recordings.delete, pipeline_id, segment)
        log.info("deleted recording %s of pipeline %s", segment, pipeline_id)
