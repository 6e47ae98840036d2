"""`MediaAgent`: one node's media files (recorded segments, event snapshots and clips).

Workers write media on the disk of the node they run on. On a cluster without a shared
volume, one agent per node (a Ray actor pinned there, see `serving.media_nodes`) lists, serves
byte ranges of, deletes and enforces the disk quota on that node's files, and StreamService
asks every node's agent. On one box, or with a shared volume, StreamService keeps a single
agent in its own process. Names are checked by StreamService before any agent is asked;
the agent answers `None`/`False` for a file it does not hold, so "not here" never travels as
an exception between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.config.streams import node_path
from coral_serve.engine.download import downloads_dir
from coral_serve.engine.event_media_files import EventMediaFile, event_media_files
from coral_serve.errors import NotFoundError
from coral_serve.monitoring.quota import QuotaKeeper
from coral_serve.schema.checks import CheckResult
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.schema.streams import RecordingFile, RecordingSegment
from coral_serve.services.client import ServiceClient
from coral_serve.sinks.points import Point
from coral_serve.streams.recordings import (
    EVENTS,
    RECORDINGS,
    MediaStore,
    RecordingStore,
    event_media_store,
)
from coral_serve.tasks import stop_tasks

__all__ = ["LOCAL_NODE", "LocalMediaNodes", "MediaAgent", "MediaNodes", "ask_every_node"]

log = logging.getLogger(__name__)

LOCAL_NODE = "local"


class MediaAgent:
    """The media roots of the node this object lives on (descriptor paths mapped by
    `node_path`), with blocking file work in threads."""

    def __init__(self, recordings_dir: str, data_dir: str, disk: DiskQuotaConfig) -> None:
        recordings = node_path(recordings_dir, data_dir)
        self._recordings = RecordingStore(recordings)
        self._event_root = node_path(data_dir, data_dir) / EVENTS
        self._stores: dict[str, MediaStore] = {
            RECORDINGS: self._recordings,
            EVENTS: event_media_store(self._event_root),
        }
        downloads = node_path(downloads_dir(data_dir), data_dir)
        self._quota = QuotaKeeper(recordings, disk, downloads)
        self._interval = disk.check_interval
        self._quota_task: asyncio.Task[None] | None = None

    async def segments(
        self, pipeline_id: str | None, start: float | None, end: float | None
    ) -> list[RecordingSegment]:
        return await asyncio.to_thread(self._recordings.segments, pipeline_id, start, end)

    async def describe(self, root: str, pipeline_id: str, name: str) -> RecordingFile | None:
        with contextlib.suppress(NotFoundError):
            return await asyncio.to_thread(self._stores[root].describe, pipeline_id, name)
        return None

    async def read(
        self, root: str, pipeline_id: str, name: str, offset: int, length: int
    ) -> bytes | None:
        with contextlib.suppress(NotFoundError):
            return await asyncio.to_thread(
                self._stores[root].read, pipeline_id, name, offset, length
            )
        return None

    async def delete(self, root: str, pipeline_id: str, name: str) -> bool:
        with contextlib.suppress(NotFoundError):
            await asyncio.to_thread(self._stores[root].delete, pipeline_id, name)
            return True
        return False

    async def event_media(self) -> tuple[list[EventMediaFile], int]:
        """This node's event media files, and the bytes its recordings use beside them (both
        count in its disk quota)."""
        files = await asyncio.to_thread(event_media_files, self._event_root)
        return files, await self._quota.used_bytes()

    async def disk_report(self) -> DiskReport:
        return await self._quota.report()

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota on this node now (or only say what it would delete)."""
        return await self._quota.cleanup(dry_run)

    async def check_disk(self) -> CheckResult:
        return await self._quota.check_disk()

    async def usage_points(self) -> list[Point]:
        """Recordings bytes and segments per pipeline on this node, for the sinks."""
        return await self._quota.usage_points()

    async def check_quota(self) -> CheckResult:
        return await self._quota.check_quota()

    async def keep_quota(self) -> None:
        """Enforce the quota every `check_interval` from now on; idempotent, so whoever finds
        the agent may call it."""
        if self._quota_task is None or self._quota_task.done():
            self._quota_task = asyncio.create_task(self._quota_loop(), name="coral-media-quota")

    async def stop(self) -> None:
        if self._quota_task is not None:
            await stop_tasks([self._quota_task])

    async def _quota_loop(self) -> None:
        while True:
            try:
                await self._quota.cleanup()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("recordings quota pass failed")
            await asyncio.sleep(self._interval)


class MediaNodes(Protocol):
    """Finds the media agent of every node that may hold media."""

    async def agents(self, in_process: bool = True) -> Mapping[str, Any]:
        """Node id -> agent: a `MediaAgent` or a handle whose methods have `.remote()`.
        `in_process=False`: the agent that enforces a node's quota, also for this node."""

    async def keep_quota(self) -> None:
        """Make sure every node's disk quota is being enforced (called periodically)."""


class LocalMediaNodes:
    """One box, or a shared volume every node mounts: this process's files are all there is."""

    def __init__(self, agent: MediaAgent) -> None:
        self._agents = {LOCAL_NODE: agent}

    async def agents(self, in_process: bool = True) -> Mapping[str, Any]:
        return self._agents

    async def keep_quota(self) -> None:
        """Nothing: MonitorService enforces the quota on the one directory there is."""


async def ask_every_node(
    media: MediaNodes, method: str, *args: Any, timeout: float, in_process: bool = False
) -> list[tuple[str, Any]]:
    """(node, answer) of every node's agent at once (the quota-keeping ones unless
    `in_process`); an agent that fails or takes longer than `timeout` answers with its
    exception, so the caller can name the node."""
    agents = await media.agents(in_process=in_process)

    async def ask(agent: Any) -> Any:
        return await asyncio.wait_for(ServiceClient(agent).call(method, *args), timeout)

    answers = await asyncio.gather(*(ask(a) for a in agents.values()), return_exceptions=True)
    return list(zip(agents, answers, strict=True))
