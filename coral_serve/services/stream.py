"""StreamService: live view (WebRTC, MJPEG, snapshots), source probes and recordings.

Any number of replicas: each pulls a watched pipeline's frames once (`FrameHub`) and fans
them out to its own viewers. Frames arrive as JPEG bytes with their results; raw frames
never cross Ray. A viewer session's id starts with its replica's tag, so a close can be
routed to the replica that holds it. Media files may lie on any node: every node's media
agent is asked and the answers merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from coral_serve.config import CoralConfig
from coral_serve.errors import NotFoundError, UnavailableError
from coral_serve.schema.spec import SourceSpec
from coral_serve.schema.streams import (
    ProbeResult,
    RecordingFile,
    RecordingSegment,
    SdpAnswer,
    SdpOffer,
)
from coral_serve.services.client import ServiceClient
from coral_serve.services.media_agent import (
    LocalMediaNodes,
    MediaAgent,
    MediaNodes,
    ask_every_node,
)
from coral_serve.services.monitor import VIEWER_REPORT_TTL
from coral_serve.services.outbound import check_outbound
from coral_serve.services.sources import check_source
from coral_serve.streams.errors import RawViewUnavailableError
from coral_serve.streams.fanout import FeedClosedError, FrameHub, FrameView
from coral_serve.streams.probe import SourceProber
from coral_serve.streams.recordings import (
    RECORDINGS,
    check_media_name,
    check_pipeline_id,
    missing_media,
)
from coral_serve.streams.webrtc import WebRTCSessions, pin_host_addresses
from coral_serve.tasks import stop_tasks
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["StreamService"]

log = logging.getLogger(__name__)

# How long a snapshot of a pipeline that has not published a frame yet waits for one.
_SNAPSHOT_WAIT = 5.0
_LONGEST_WAIT = 30.0
# Largest chunk of a recording one call returns (the ingress streams chunk by chunk).
_MAX_READ = 4 << 20
# Files whose node this replica remembers, so each chunk of a playback asks one node.
_MAX_LOCATIONS = 1024
_WORKER_CALL = 5.0


class StreamService:
    """Fans each pipeline's frames out to its viewers; scales out with replicas."""

    def __init__(
        self,
        config: CoralConfig,
        workers: WorkerPool,
        monitor: Any = None,
        media: MediaNodes | None = None,
        replica_tag: Callable[[], str] | None = None,
    ) -> None:
        """`media` finds each node's media agent (default: this process's files only);
        `replica_tag` names this replica the way the session router knows it."""
        self._config = config
        self._workers = workers
        self._monitor = ServiceClient(monitor) if monitor is not None else None
        self._replica = replica_tag() if replica_tag is not None else uuid.uuid4().hex[:8]
        self._viewer_task: asyncio.Task[None] | None = None
        self._viewers_changed = asyncio.Event()
        self._hub = FrameHub(workers)
        self._sessions = WebRTCSessions(config.streams.webrtc, self._hub, self._replica)
        self._prober = SourceProber(config.streams.capture_timeout)
        self._media = media or LocalMediaNodes(
            MediaAgent(
                str(config.streams.recordings.directory),
                config.pipelines.data_dir,
                config.monitoring.disk,
            )
        )
        self._locations: dict[tuple[str, str, str], str] = {}
        self._media_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Nothing to open until the first viewer arrives; only the ICE host addresses, and
        the media agents of every node, whose quota runs whether or not anyone asks."""
        pin_host_addresses(self._config.streams.webrtc.host_addresses)
        if self._monitor is not None:
            self._viewer_task = asyncio.create_task(self._report_viewers(), name="coral-viewers")
        self._media_task = asyncio.create_task(self._keep_media(), name="coral-media-agents")

    async def stop(self) -> None:
        await stop_tasks([t for t in (self._viewer_task, self._media_task) if t is not None])
        await self._sessions.close_all()
        await self._hub.close()
        self._prober.close()
        pin_host_addresses([])

    async def session_count(self, pipeline_id: str | None = None, raw: bool = False) -> int:
        """WebRTC viewers on this replica (of one pipeline, or of all; of the raw view only)."""
        return self._sessions.count(pipeline_id, raw)

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

    async def _keep_media(self) -> None:
        """Every quota interval: agents on nodes that joined, quota loops of restarted ones."""
        while True:
            try:
                await self._media.keep_quota()
            except Exception as exc:  # a node being unreachable must not end the loop
                log.warning("keeping the media agents failed: %r", exc)
            await asyncio.sleep(self._config.monitoring.disk.check_interval)

    async def watched(self) -> list[str]:
        """Pipelines this replica is pulling frames for (one subscription each)."""
        return self._hub.active()

    # -- live view ------------------------------------------------------------------------

    async def offer(self, pipeline_id: str, offer: SdpOffer) -> SdpAnswer:
        """Answer a viewer's WebRTC offer; media then flows to the viewer directly."""
        source = await self._raw_source(pipeline_id) if offer.view == "raw" else None
        answer = await self._sessions.open(pipeline_id, offer, source)
        self._viewers_changed.set()
        return answer

    async def _raw_source(self, pipeline_id: str) -> SourceSpec:
        """The source the raw view relays: the running worker's, credentials included."""
        self._sessions.check_enabled()
        try:
            source: SourceSpec = await self._workers.call(
                pipeline_id, "source", timeout=_WORKER_CALL
            )
        except (WorkerGone, asyncio.TimeoutError):
            raise NotFoundError(f"pipeline {pipeline_id!r} is not running") from None
        except AttributeError:  # a worker from an older release, adopted
            raise RawViewUnavailableError(
                f"the worker of pipeline {pipeline_id!r} predates the raw view; restart it"
            ) from None
        await check_outbound(source.uri, self._config.pipelines.outbound)  # reopened from here
        return source

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

    # -- media (recordings, event snapshots and clips) ------------------------------------

    async def recordings(
        self, pipeline_id: str | None, start: float | None, end: float | None
    ) -> list[RecordingSegment]:
        """Every node's finished segments, merged oldest first."""
        if pipeline_id is not None:
            check_pipeline_id(pipeline_id)
        answers = await self._ask_all("segments", pipeline_id, start, end)
        merged = itertools.chain.from_iterable(segments for _, segments in answers)
        return sorted(merged, key=lambda s: (s.start, s.pipeline_id))

    async def recording_file(self, pipeline_id: str, segment: str) -> RecordingFile:
        return await self.media_file(RECORDINGS, pipeline_id, segment)

    async def read_recording(
        self, pipeline_id: str, segment: str, offset: int, length: int
    ) -> bytes:
        return await self.read_media(RECORDINGS, pipeline_id, segment, offset, length)

    async def delete_recording(self, pipeline_id: str, segment: str) -> None:
        await self.delete_media(RECORDINGS, pipeline_id, segment)

    async def media_file(self, root: str, pipeline_id: str, name: str) -> RecordingFile:
        """Size, ETag and time of a media file, on whichever node holds it."""
        check_media_name(root, pipeline_id, name)
        _, file = await self._locate(root, pipeline_id, name)
        return file

    async def read_media(
        self, root: str, pipeline_id: str, name: str, offset: int, length: int
    ) -> bytes:
        """Up to `length` bytes (at most 4 MiB) of a media file from its node."""
        check_media_name(root, pipeline_id, name)
        key = (root, pipeline_id, name)
        node = self._locations.get(key) or (await self._locate(*key))[0]
        data = await self._ask(node, "read", *key, offset, min(length, _MAX_READ))
        if data is None:
            self._locations.pop(key, None)
            raise missing_media(*key)
        return data

    async def delete_media(self, root: str, pipeline_id: str, name: str) -> None:
        check_media_name(root, pipeline_id, name)
        answers = await self._ask_all("delete", root, pipeline_id, name)
        self._locations.pop((root, pipeline_id, name), None)
        if not any(deleted for _, deleted in answers):
            raise missing_media(root, pipeline_id, name)
        log.info("deleted %s file %s of pipeline %s", root, name, pipeline_id)

    async def _locate(self, root: str, pipeline_id: str, name: str) -> tuple[str, RecordingFile]:
        """The node holding a file, asking every node's agent at once."""
        for node, file in await self._ask_all("describe", root, pipeline_id, name):
            if file is not None:
                if len(self._locations) >= _MAX_LOCATIONS:
                    self._locations.clear()
                self._locations[(root, pipeline_id, name)] = node
                return node, file
        self._locations.pop((root, pipeline_id, name), None)
        raise missing_media(root, pipeline_id, name)

    async def _ask_all(self, method: str, *args: Any) -> list[tuple[str, Any]]:
        """Each node's answer; a node whose agent fails or is too slow is left out (logged)."""
        timeout = self._config.streams.media.agent_timeout
        answers = await ask_every_node(self._media, method, *args, timeout=timeout, in_process=True)
        found = []
        for node, answer in answers:
            if isinstance(answer, BaseException):
                log.warning("media agent of node %s did not answer %s: %r", node, method, answer)
                continue
            found.append((node, answer))
        return found

    async def _ask(self, node: str, method: str, *args: Any) -> Any:
        agent = (await self._media.agents()).get(node)
        if agent is None:
            raise UnavailableError(f"node {node} holding the file has left the cluster")
        timeout = self._config.streams.media.agent_timeout
        return await asyncio.wait_for(ServiceClient(agent).call(method, *args), timeout)
