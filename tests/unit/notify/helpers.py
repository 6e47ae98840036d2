"""Object-event revisions and a dispatcher over a real SQLite event store, for the tests."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import aiosqlite

from coral_serve.config.notifications import NotificationsConfig
from coral_serve.config.pipelines import OutboundPolicy
from coral_serve.notify.dispatcher import Dispatcher
from coral_serve.schema.events import EventPhase, ObjectEvent
from coral_serve.services.outbound import check_outbound

LOOPBACK_ALLOWED = functools.partial(check_outbound, policy=OutboundPolicy(allow_loopback=True))
SECRET = "a-webhook-secret-of-some-length"
T = TypeVar("T")


def revisions(
    n: int, pipeline_id: str = "dock-cam", label: str = "person", zones: tuple[str, ...] = ()
) -> list[ObjectEvent]:
    """The start, updates and end of one tracked object: n revisions of one event id."""
    event_id = uuid.uuid4().hex
    return [
        ObjectEvent(
            id=event_id,
            pipeline_id=pipeline_id,
            track_id=7,
            label=label,
            phase=EventPhase.start if r == 1 else EventPhase.end if r == n else EventPhase.update,
            revision=r,
            start=1_700_000_000.0,
            end=1_700_000_010.0 if r == n else None,
            best_score=0.5 + r / (2 * n),
            best_frame_id=r,
            zones=list(zones),
            box=[1.0, 2.0, 30.0, 40.0],
        )
        for r in range(1, n + 1)
    ]


def notifications(*notifiers: dict, **settings: object) -> NotificationsConfig:
    """Fast retries: the tests wait for events, never for a backoff measured in seconds."""
    fast = {"retry_initial": 0.05, "retry_max_seconds": 0.3, "poll_interval": 0.2}
    return NotificationsConfig.model_validate({**fast, **settings, "notifiers": list(notifiers)})


@contextlib.asynccontextmanager
async def running_dispatcher(
    store: Path, config: NotificationsConfig, check_url=LOOPBACK_ALLOWED
) -> AsyncIterator[tuple[Dispatcher, aiosqlite.Connection]]:
    """A started dispatcher and the event store's own connection (what EventService holds)."""
    dispatcher = Dispatcher(config, store, check_url=check_url)
    db = await aiosqlite.connect(store, isolation_level=None)
    async with db.execute("PRAGMA journal_mode=WAL"):
        pass
    try:
        await dispatcher.start()
        yield dispatcher, db
    finally:
        await dispatcher.stop()
        await db.close()


async def enqueue_all(
    dispatcher: Dispatcher, db: aiosqlite.Connection, events: list[ObjectEvent]
) -> None:
    outbox = dispatcher.outbox(db)
    for event in events:
        await outbox.enqueue(event, commit=True)


async def now(value: T) -> T:
    """An awaitable of a value read now, for `eventually` probes of in-process state."""
    return value
