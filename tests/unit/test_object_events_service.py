"""EventService: every revision a worker reports is stored once, across restarts; events of
gone workers end; retention by age, count and media bytes; pages newest first."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.engine.event_media_files import (
    event_media_dir,
    event_media_files,
    event_media_path,
)
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.event_views import EventFilter
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent
from coral_serve.services.events import READ_BATCH, EventService
from coral_serve.services.media_agent import MediaAgent
from tests.unit.object_events import (
    T0,
    ScriptedPool,
    ScriptedWorker,
    events_config,
    new_id,
    revision,
)


class Outbox:
    """The notifier hook: records what it was handed, with the transaction it ran in."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def __call__(self, db, event: ObjectEvent) -> None:
        assert db.in_transaction  # an outbox row written here commits with the revision
        self.keys.append(f"{event.id}:{event.revision}")


@pytest.fixture
def config(tmp_path: Path):
    return events_config(tmp_path)


@pytest.fixture
async def outbox() -> Outbox:
    return Outbox()


async def _service(config, pool, outbox) -> EventService:
    service = EventService(config, pool, outbox)
    await service.open()
    return service


@pytest.fixture
async def running(config, outbox) -> AsyncIterator[tuple[EventService, ScriptedWorker]]:
    worker = ScriptedWorker("cam-1")
    service = await _service(config, ScriptedPool(worker), outbox)
    yield service, worker
    await service.stop()


async def test_the_highest_revision_is_kept_and_each_is_notified_once(running, outbox) -> None:
    service, worker = running
    event = new_id()
    worker.emit(revision(event, 1, EventPhase.start), revision(event, 2))
    assert await service.poll() == 2
    worker.emit(revision(event, 3, EventPhase.end, zones=("dock",)))
    assert await service.poll() == 1
    assert await service.poll() == 0

    stored = await service.get_event(event)
    assert (stored.revision, stored.phase, stored.zones) == (3, EventPhase.end, ["dock"])
    assert outbox.keys == [f"{event}:1", f"{event}:2", f"{event}:3"]


async def test_a_revision_older_than_the_stored_one_changes_nothing(running, outbox) -> None:
    service, worker = running
    event = new_id()
    worker.emit(revision(event, 2, zones=("dock",)), revision(event, 1, EventPhase.start))
    await service.poll()
    assert (await service.get_event(event)).revision == 2
    assert outbox.keys == [f"{event}:2"]


async def test_a_restarted_service_neither_loses_nor_repeats_revisions(config, outbox) -> None:
    worker = ScriptedWorker("cam-1")
    events = [new_id() for _ in range(READ_BATCH + 20)]  # more than one read's worth
    worker.emit(*(revision(e, 1, EventPhase.start) for e in events))
    first = await _service(config, ScriptedPool(worker), outbox)
    await first.poll()
    await first.stop()  # the serving process goes; the worker keeps its events

    worker.emit(*(revision(e, 2, EventPhase.end) for e in events[:3]))
    second = await _service(config, ScriptedPool(worker), outbox)
    try:
        assert await second.poll() == 3
        page = await second.list_events(EventFilter(), limit=1000)
    finally:
        await second.stop()
    assert len(page.events) == len(events)
    assert len(outbox.keys) == len(set(outbox.keys)) == len(events) + 3


@pytest.mark.parametrize(
    ("phase", "end"),
    [(EventPhase.start, None), (EventPhase.end, T0 + 3)],
    ids=["under way", "ended, its clip's post-capture still recording"],
)
async def test_events_left_unfinished_by_a_gone_worker_are_ended_with_their_clip_failed(
    config, outbox, phase: EventPhase, end: float | None
) -> None:
    """An event under way ends at its last update; one that had ended keeps its end. Either
    way its clip does not wait forever."""
    worker = ScriptedWorker("cam-1")
    pool = ScriptedPool(worker)
    service = await _service(config, pool, outbox)
    event = new_id()
    worker.emit(revision(event, 1, phase, clip=ClipState.pending, end=end))
    await service.poll()
    await pool.kill("cam-1")
    try:
        await service.poll()
        ended = await service.get_event(event)
    finally:
        await service.stop()
    assert (ended.phase, ended.revision, ended.ended_by) == (EventPhase.end, 2, "store")
    assert ended.end is not None and ended.end >= ended.start
    assert end is None or ended.end == end
    assert ended.clip is ClipState.failed and "stopped" in (ended.clip_reason or "")
    assert outbox.keys[-1] == f"{event}:2"


async def test_a_restarted_worker_ends_its_predecessors_open_events(config, outbox) -> None:
    old = ScriptedWorker("cam-1", generation=1)
    pool = ScriptedPool(old)
    service = await _service(config, pool, outbox)
    gone, kept = new_id(), new_id()
    old.emit(revision(gone, 1, EventPhase.start))
    await service.poll()
    new = ScriptedWorker("cam-1", generation=2)  # numbering restarts with the new worker
    new.emit(revision(kept, 1, EventPhase.start))
    pool.workers["cam-1"] = new
    try:
        assert await service.poll() == 1
        assert (await service.get_event(gone)).phase is EventPhase.end
        assert (await service.get_event(kept)).phase is EventPhase.start
    finally:
        await service.stop()


async def test_pages_are_newest_first_filtered_and_continue_by_cursor(running) -> None:
    service, worker = running
    for index in range(25):
        worker.emit(
            revision(
                new_id(),
                1,
                EventPhase.start,
                start=T0 + index,
                label="car" if index % 5 == 0 else "person",
                zones=("dock",) if index % 2 else (),
            )
        )
    await service.poll()

    seen, cursor = [], None
    while True:
        page = await service.list_events(EventFilter(label="person"), limit=7, cursor=cursor)
        seen += [event.start for event in page.events]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted((T0 + i for i in range(25) if i % 5), reverse=True)

    docked = await service.list_events(
        EventFilter(zone="dock", after=T0 + 10, before=T0 + 20), limit=100
    )
    assert [e.start for e in docked.events] == [T0 + i for i in (19, 17, 15, 13, 11)]
    assert (await service.list_events(EventFilter(pipeline_id="cam-2"), 10)).events == []
    with pytest.raises(InvalidRequestError, match="cursor"):
        await service.list_events(EventFilter(), 10, cursor="not-a-cursor")


def _media(config, event: str, size: int, age: float) -> list[Path]:
    paths = [
        event_media_path(config.pipelines.data_dir, "cam-1", event, k) for k in ("snapshot", "clip")
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return paths


async def test_retention_by_age_and_count_removes_events_and_their_media(tmp_path) -> None:
    config = events_config(
        tmp_path, "object_events.max_per_pipeline=2", "object_events.max_age_days=1"
    )
    worker = ScriptedWorker("cam-1")
    service = await _service(config, ScriptedPool(worker), None)
    now = time.time()
    old, older_kept, new_a, new_b = (new_id() for _ in range(4))
    worker.emit(
        revision(old, 1, start=now - 2 * 86400),
        revision(older_kept, 1, start=now - 300),
        revision(new_a, 1, start=now - 200),
        revision(new_b, 1, start=now - 100),
    )
    await service.poll()
    old_files = _media(config, old, 10, 0)
    count_files = _media(config, older_kept, 10, 0)
    kept_files = _media(config, new_b, 10, 0)
    try:
        assert await service.retention() == 2
        left = [e.id for e in (await service.list_events(EventFilter(), 10)).events]
    finally:
        await service.stop()
    assert left == [new_b, new_a]
    assert not any(p.exists() for p in old_files + count_files)
    assert all(p.exists() for p in kept_files)


async def test_media_beyond_its_byte_limit_go_oldest_first_and_the_event_says_so(tmp_path) -> None:
    config = events_config(tmp_path, "object_events.max_media_bytes=2500")
    worker = ScriptedWorker("cam-1")
    service = await _service(config, ScriptedPool(worker), None)
    first, second = new_id(), new_id()
    kept = {"clip": ClipState.ready, "has_snapshot": True, "start": time.time()}
    worker.emit(
        revision(first, 1, EventPhase.end, **kept), revision(second, 1, EventPhase.end, **kept)
    )
    await service.poll()
    old_files = _media(config, first, 1000, 600)
    new_files = _media(config, second, 1000, 0)
    try:
        await service.retention()
        trimmed = await service.get_event(first)
        kept = await service.get_event(second)
        files = event_media_files(event_media_dir(config.pipelines.data_dir))
        assert sum(file.size for file in files) == 2000
    finally:
        await service.stop()
    assert not any(p.exists() for p in old_files) and all(p.exists() for p in new_files)
    assert (trimmed.clip, trimmed.has_snapshot) == (ClipState.deleted, False)
    assert "max_media_bytes" in (trimmed.clip_reason or "")
    assert kept.clip is ClipState.ready


async def test_a_service_killed_mid_event_keeps_the_event_and_its_clip(config, outbox) -> None:
    """The serving process dies while an event is open (its clip still recording); the
    worker lives on, and a service restarted on the same store gets the rest."""
    worker = ScriptedWorker("cam-1")
    event = new_id()
    worker.emit(revision(event, 1, EventPhase.start, clip=ClipState.pending, has_snapshot=True))
    killed = await _service(config, ScriptedPool(worker), outbox)
    await killed.poll()
    # Gone without stopping: no shutdown step runs; only its connections are closed here,
    # as the process's end would.
    await killed.store.db.close()
    await killed._dispatcher.stop()

    worker.emit(
        revision(event, 2, EventPhase.end, clip=ClipState.pending, has_snapshot=True),
        revision(event, 3, EventPhase.end, clip=ClipState.ready, has_snapshot=True),
    )
    restarted = await _service(config, ScriptedPool(worker), outbox)
    try:
        await restarted.poll()
        stored = await restarted.get_event(event)
    finally:
        await restarted.stop()
    assert (stored.phase, stored.revision, stored.clip) == (EventPhase.end, 3, ClipState.ready)
    assert stored.ended_by is None  # its own worker ended it
    assert outbox.keys == [f"{event}:{n}" for n in (1, 2, 3)]


async def test_event_media_count_in_the_disk_quota_beside_the_recordings(tmp_path) -> None:
    config = events_config(tmp_path, "monitoring.disk.max_bytes=3500")
    recording = Path(str(config.streams.recordings.directory)) / "cam-1" / "segment.mp4"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"r" * 1500)  # leaves 2000 bytes for event media
    worker = ScriptedWorker("cam-1")
    service = await _service(config, ScriptedPool(worker), None)
    first, second = new_id(), new_id()
    kept = {"clip": ClipState.ready, "has_snapshot": True, "start": time.time()}
    worker.emit(
        revision(first, 1, EventPhase.end, **kept), revision(second, 1, EventPhase.end, **kept)
    )
    await service.poll()
    _media(config, first, 600, 600)
    _media(config, second, 600, 0)
    try:
        await service.retention()
        trimmed, left = await service.get_event(first), await service.get_event(second)
    finally:
        await service.stop()
    assert trimmed.clip is ClipState.deleted and "monitoring.disk.max_bytes" in trimmed.clip_reason
    assert left.clip is ClipState.ready and recording.exists()


class TwoNodes:
    """Media agents of two nodes, each with its own data directory (as on a cluster
    without a shared volume)."""

    def __init__(self, tmp_path: Path) -> None:
        self.dirs = {node: tmp_path / node for node in ("head", "npu-1")}
        self._agents = {
            node: MediaAgent(str(root / "recordings"), str(root), DiskQuotaConfig())
            for node, root in self.dirs.items()
        }

    async def agents(self, in_process: bool = True) -> dict[str, MediaAgent]:
        return self._agents

    async def keep_quota(self) -> None:
        """Nothing to keep in this test."""


async def test_deleting_an_event_removes_its_media_from_the_node_that_holds_them(
    tmp_path: Path,
) -> None:
    config = events_config(tmp_path)
    nodes = TwoNodes(tmp_path)
    worker = ScriptedWorker("cam-1")
    service = EventService(config, ScriptedPool(worker), None, nodes)
    await service.open()
    event = new_id()
    worker.emit(revision(event, 1))
    await service.poll()
    # The worker ran on the NPU node: its files are on that node's disk only.
    on_npu = [
        event_media_path(str(nodes.dirs["npu-1"]), "cam-1", event, kind)
        for kind in ("snapshot", "crop", "clip")
    ]
    for path in on_npu:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"media")
    try:
        await service.delete_event(event)
    finally:
        await service.stop()
    assert [path.exists() for path in on_npu] == [False, False, False]


async def test_each_node_keeps_its_own_event_media_within_the_budget(tmp_path: Path) -> None:
    """Media on two nodes' own disks: each node's oldest go beyond the per-node budget, and
    an orphan (no stored event) left on the NPU node goes too."""
    config = events_config(tmp_path, "object_events.max_media_bytes=1500")
    nodes = TwoNodes(tmp_path)
    worker = ScriptedWorker("cam-1")
    service = EventService(config, ScriptedPool(worker), None, nodes)
    await service.open()
    ended = {"clip": ClipState.ready, "has_snapshot": True, "start": time.time()}
    events = {node: (new_id(), new_id()) for node in nodes.dirs}
    worker.emit(
        *(revision(e, 1, EventPhase.end, **ended) for pair in events.values() for e in pair)
    )
    await service.poll()

    def media(node: str, event: str, age: float) -> Path:
        path = event_media_path(str(nodes.dirs[node]), "cam-1", event, "clip")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    files = {
        node: [media(node, old, 600), media(node, new, 0)] for node, (old, new) in events.items()
    }
    orphan = media("npu-1", new_id(), 2 * 3600)
    try:
        await service.retention()
        trimmed = [await service.get_event(old) for old, _ in events.values()]
    finally:
        await service.stop()
    assert {node: [p.exists() for p in paths] for node, paths in files.items()} == {
        "head": [False, True],
        "npu-1": [False, True],
    }
    assert not orphan.exists()
    assert [event.clip for event in trimmed] == [ClipState.deleted, ClipState.deleted]
