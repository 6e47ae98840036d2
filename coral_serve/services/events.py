"""EventService: object events from every worker into their store, with their media.

One replica owns the store file. Each poll round reads every live worker's new revisions
from its cursor (`read_object_events(after=seq)`, which leaves them in the worker), and
stores them with the cursor in one transaction: a restart of this service resumes from the
cursor, losing nothing, and a revision read twice is stored once (the highest `revision`
per id wins). Events left open by a worker that is gone are ended by the next round.

Every revision that was new is queued in the notifications outbox (`coral_serve.notify`,
in this same store) inside that same transaction, so its message commits with it or not at
all; this replica runs the notifiers' delivery loops too, and hands them each worker's zone
counts as it polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite
from pydantic import ValidationError

from coral_serve.config import CoralConfig
from coral_serve.config.streams import node_path
from coral_serve.engine.event_media_files import (
    MEDIA_KINDS,
    EventMediaFile,
    MediaKind,
    event_media_dir,
    event_media_files,
    event_media_path,
)
from coral_serve.errors import NotFoundError, UnavailableError
from coral_serve.monitoring.disk import RecordingsQuota
from coral_serve.monitoring.loops import Loops
from coral_serve.notify.dispatcher import Dispatcher
from coral_serve.schema.event_views import EventFilter, ObjectEventPage, StoredObjectEvent
from coral_serve.schema.events import ClipState, ObjectEvent
from coral_serve.services.media_agent import MediaNodes, ask_every_node
from coral_serve.services.outbound import check_outbound
from coral_serve.store.events import EventStore, OnStored
from coral_serve.streams.recordings import EVENTS
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["READ_BATCH", "TASK_PREFIX", "EventService"]

log = logging.getLogger(__name__)

TASK_PREFIX = "coral-events-"
READ_BATCH = 500  # revisions asked of one worker per call
_CALL_TIMEOUT = 5.0
_CANCEL_SECONDS = 1.0
_ORPHAN_SECONDS = 3600.0  # a media file with no stored event this old is removed


class EventService:
    """Poller, store owner and media reader of object events; keep it at one replica."""

    def __init__(
        self,
        config: CoralConfig,
        workers: WorkerPool,
        on_stored: OnStored | None = None,
        media: MediaNodes | None = None,
    ) -> None:
        """`on_stored(db, revision)`, when given, replaces the configured notifiers' outbox
        (it runs in the store's transaction of that revision, as the outbox does). `media`:
        the agents of the nodes whose own disks hold event media (a cluster without a shared
        volume); without it, media are removed from this node's disk."""
        self._config = config
        self._media = media
        self._settings = config.object_events
        self._workers = workers
        self._on_stored = on_stored
        self._data_dir = config.pipelines.data_dir
        # This node's own files (its data dir may be mounted elsewhere, see node_path).
        self._media_root = node_path(event_media_dir(self._data_dir), self._data_dir)
        disk = config.monitoring.disk
        recordings = node_path(str(config.streams.recordings.directory), self._data_dir)
        self._recordings = RecordingsQuota(recordings, disk)
        self._store: EventStore | None = None
        self._loops = Loops(TASK_PREFIX)
        self._dispatcher = Dispatcher(
            config.notifications,
            str(self._settings.store_path),
            check_url=functools.partial(check_outbound, policy=config.pipelines.outbound),
            plugins=config.plugins,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store (and migrate it) and the notifications outbox, without polling."""
        if self._store is None:
            self._store = await EventStore.open(str(self._settings.store_path))
            await self._dispatcher.start()

    async def start(self) -> None:
        """Open the store, then poll and apply retention on their intervals."""
        await self.open()
        if not self._loops:
            self._loops.spawn("poll", self._every(self._settings.poll_interval, self.poll))
            self._loops.spawn(
                "retention", self._every(self._settings.retention_interval, self.retention)
            )

    async def stop(self) -> None:
        await self._loops.stop(_CANCEL_SECONDS)
        await self._dispatcher.stop()  # undelivered messages wait in the outbox
        if self._store is not None:
            await self._store.close()
            self._store = None

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise UnavailableError("the object-event store is not open yet")
        return self._store

    # -- polling -----------------------------------------------------------------------

    async def poll(self) -> int:
        """One round over every live worker; returns how many revisions were new."""
        live = sorted(await self._workers.live())
        answers = await asyncio.gather(*(self._poll_worker(pid) for pid in live))
        generations = {pid: answer[0] for pid, answer in zip(live, answers, strict=True) if answer}
        for pipeline_id in await self.store.pipelines_with_open_events():
            if pipeline_id in live and pipeline_id not in generations:
                continue  # alive but did not answer: not known to be gone
            if await self.store.end_open(pipeline_id, generations.get(pipeline_id), self._notify):
                self._dispatcher.wake()
        return sum(answer[1] for answer in answers if answer)

    async def _poll_worker(self, pipeline_id: str) -> tuple[int, int] | None:
        """(generation, new revisions) of one worker; None when it did not answer."""
        try:
            status = await self._workers.call(pipeline_id, "status", timeout=_CALL_TIMEOUT)
            generation = int(status["generation"])
            zones = status.get("analytics", {}).get("zones")
            if zones is not None:
                await self._dispatcher.zone_counts(pipeline_id, zones)
            new = 0
            while True:
                after = await self.store.cursor(pipeline_id, generation)
                batch = await self._workers.call(
                    pipeline_id, "read_object_events", after, READ_BATCH, timeout=_CALL_TIMEOUT
                )
                if not batch:
                    break
                new += await self._store_batch(pipeline_id, generation, batch)
                if len(batch) < READ_BATCH:
                    break
        except (WorkerGone, TimeoutError, AttributeError) as exc:
            log.debug("object events of %s not read: %r", pipeline_id, exc)
            return None
        return generation, new

    async def _store_batch(self, pipeline_id: str, generation: int, batch: list[dict]) -> int:
        revisions = []
        for item in batch:
            try:
                revisions.append(
                    ObjectEvent.model_validate({k: v for k, v in item.items() if k != "seq"})
                )
            except ValidationError as exc:  # a worker bug must not stop the others' events
                log.error("pipeline %s reported an unreadable object event: %s", pipeline_id, exc)
        cursor = max(int(item["seq"]) for item in batch)
        stored = await self.store.store(pipeline_id, generation, revisions, cursor, self._notify)
        if stored:
            self._dispatcher.wake()  # committed: deliver now, not at the next outbox scan
        return len(stored)

    async def _notify(self, db: aiosqlite.Connection, revision: ObjectEvent) -> None:
        """Every newly stored revision, inside its transaction: the notifications outbox."""
        if self._on_stored is not None:
            await self._on_stored(db, revision)
        else:
            await self._dispatcher.outbox(db).enqueue(revision, commit=False)

    # -- API ---------------------------------------------------------------------------

    async def list_events(
        self, where: EventFilter, limit: int, cursor: str | None = None
    ) -> ObjectEventPage:
        return await self.store.page(where, limit, cursor)

    async def get_event(self, event_id: str) -> StoredObjectEvent:
        found = await self.store.get(event_id)
        if found is None:
            raise NotFoundError(f"no object event {event_id!r}")
        return found

    async def changed_events(
        self, pipeline_id: str, since: float, limit: int = 100
    ) -> list[StoredObjectEvent]:
        """A pipeline's events stored or changed after `since` (their `updated`)."""
        return await self.store.changed(pipeline_id, since, limit)

    async def delete_event(self, event_id: str) -> None:
        """Remove the event and its snapshot, crop and clip."""
        found = await self.store.delete(event_id)
        if found is None:
            raise NotFoundError(f"no object event {event_id!r}")
        await self._remove_media(found.pipeline_id, found.id)

    async def media_name(self, event_id: str, kind: MediaKind) -> tuple[str, str, str]:
        """(media root, pipeline id, file name) of a snapshot, crop or clip that its event
        says is kept, for StreamService to find on whichever node holds it; 404 saying why
        there is none."""
        event = await self.get_event(event_id)
        self._check_kept(event, kind)
        return (
            EVENTS,
            event.pipeline_id,
            event_media_path(self._data_dir, event.pipeline_id, event.id, kind).name,
        )

    # -- retention ---------------------------------------------------------------------

    async def retention(self) -> int:
        """Remove events beyond their age and count limits with their media, then on each
        node the oldest media beyond `max_media_bytes` or beyond what the disk quota leaves
        beside that node's recordings (those events stay, their clip `deleted`); returns how
        many events went."""
        settings = self._settings
        now = time.time()
        expired = await self.store.expired(
            settings.max_age_days * 86400, settings.max_per_pipeline, now
        )
        await self.store.delete_many([event.id for event in expired])
        for event in expired:
            await self._remove_media(event.pipeline_id, event.id)
        for files, recordings_bytes in await self._media_by_node():
            known = await self.store.known(sorted({f.event_id for f in files}))
            kept: dict[str, tuple[float, str, int]] = {}  # event id: (oldest, pipeline, bytes)
            for file in files:
                if file.event_id in known:
                    oldest, _, total = kept.get(file.event_id, (file.modified, "", 0))
                    kept[file.event_id] = (
                        min(oldest, file.modified),
                        file.pipeline_id,
                        total + file.size,
                    )
                elif now - file.modified > _ORPHAN_SECONDS:
                    await self._remove_media(file.pipeline_id, file.event_id)
            limit = self._media_limit(recordings_bytes)
            if limit is not None:
                await self._trim_media(kept, *limit)
        return len(expired)

    async def _media_by_node(self) -> list[tuple[list[EventMediaFile], int]]:
        """(event media files, recordings bytes) of each node's disk: each is its own budget.
        A node whose agent does not answer keeps its media until the next pass."""
        if self._media is None:
            files = await asyncio.to_thread(event_media_files, self._media_root)
            inventory = await asyncio.to_thread(self._recordings.inventory, time.time())
            return [(files, inventory.used_bytes)]
        found = []
        for node, answer in await ask_every_node(self._media, "event_media", timeout=_CALL_TIMEOUT):
            if isinstance(answer, BaseException):
                log.warning("event media of node %s not counted this pass: %r", node, answer)
                continue
            files, recordings_bytes = answer
            found.append(([EventMediaFile(*file) for file in files], recordings_bytes))
        return found

    def _media_limit(self, recordings_bytes: int) -> tuple[int, str] | None:
        """The bytes event media may use on a node, and the setting that says so: their own
        budget, and what the disk quota leaves beside the recordings (media count in it too)."""
        limits = []
        if self._settings.max_media_bytes is not None:
            limits.append((self._settings.max_media_bytes, "object_events.max_media_bytes"))
        quota = self._config.monitoring.disk.max_bytes
        if quota is not None:
            left = max(quota - recordings_bytes, 0)
            limits.append((left, "monitoring.disk.max_bytes, shared with the recordings"))
        return min(limits) if limits else None

    async def _trim_media(
        self, kept: dict[str, tuple[float, str, int]], limit: int, setting: str
    ) -> None:
        """Remove the media of the oldest events until they use at most `limit` bytes."""
        used = sum(total for _, _, total in kept.values())
        for event_id, (_, pipeline_id, total) in sorted(kept.items(), key=lambda kv: kv[1]):
            if used <= limit:
                return
            used -= total
            await self._remove_media(pipeline_id, event_id)
            event = await self.store.get(event_id)
            if event is not None:
                await self.store.mark_clip_deleted(event, f"removed to keep {setting}")

    # -- internals ---------------------------------------------------------------------

    async def _every(self, interval: float, job: Callable[[], Awaitable[int]]) -> None:
        while True:
            started = time.monotonic()
            try:
                await job()
            except Exception:  # the loop must outlive any one bad round
                log.exception("object events: %s failed", job.__name__)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    @staticmethod
    def _check_kept(event: StoredObjectEvent, kind: MediaKind) -> None:
        if kind != "clip":
            if not event.has_snapshot:
                raise NotFoundError(f"object event {event.id} has no snapshot (none was kept)")
            return
        reasons = {
            ClipState.none: "its pipeline keeps no clips (analytics.events.clip is false)",
            ClipState.pending: "its clip is still being recorded (post_capture after its end)",
            ClipState.failed: "its clip could not be made",
            ClipState.deleted: "its clip was removed",
        }
        if event.clip in reasons:
            why = f": {event.clip_reason}" if event.clip_reason else ""
            raise NotFoundError(f"object event {event.id} has no clip: {reasons[event.clip]}{why}")

    async def _remove_media(self, pipeline_id: str, event_id: str) -> None:
        """The event's snapshot, crop and clip, from whichever node's disk holds them."""
        paths = [event_media_path(self._data_dir, pipeline_id, event_id, k) for k in MEDIA_KINDS]
        if self._media is None:
            await asyncio.to_thread(self._unlink_here, paths)
            return
        for path in paths:
            answers = await ask_every_node(
                self._media, "delete", EVENTS, pipeline_id, path.name, timeout=_CALL_TIMEOUT
            )
            for node, answer in answers:
                if isinstance(answer, BaseException):  # logged; the event itself is gone
                    log.warning("event media %s not removed on node %s: %r", path, node, answer)

    def _unlink_here(self, paths: list[Path]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError, ValueError):
                node_path(path, self._data_dir).unlink()
