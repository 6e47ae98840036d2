"""Object events in SQLite: the highest revision of each, indexed by pipeline, time, label and
zone, with a read cursor per worker so a restarted service neither loses nor repeats any.

Its own file (`object_events.store_path`): EventService is its one writer, at event rates,
and a notifier's outbox rows commit in the same transaction as the revisions they announce.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from coral_serve.errors import InvalidRequestError
from coral_serve.schema.event_views import EventFilter, ObjectEventPage, StoredObjectEvent
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent
from coral_serve.store.database import open_database, transaction

__all__ = [
    "EVENT_MIGRATIONS",
    "EventStore",
    "OnStored",
    "decode_cursor",
    "encode_cursor",
]

EVENT_MIGRATIONS: tuple[str, ...] = (
    # 1: events, the zones each visited, and each worker's read cursor.
    """
    CREATE TABLE object_events (
        id TEXT PRIMARY KEY,
        pipeline_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        label TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL,
        revision INTEGER NOT NULL,
        phase TEXT NOT NULL,
        clip TEXT NOT NULL,
        body TEXT NOT NULL,
        ended_by TEXT,
        updated REAL NOT NULL
    );
    CREATE INDEX object_events_by_start ON object_events (start DESC, id DESC);
    CREATE INDEX object_events_by_pipeline ON object_events (pipeline_id, start DESC, id DESC);
    CREATE INDEX object_events_by_label ON object_events (label, start DESC, id DESC);
    CREATE INDEX object_events_by_change ON object_events (pipeline_id, updated);
    CREATE INDEX object_events_open ON object_events (pipeline_id, generation) WHERE end IS NULL;
    CREATE TABLE object_event_zones (
        event_id TEXT NOT NULL REFERENCES object_events (id) ON DELETE CASCADE,
        zone TEXT NOT NULL,
        start REAL NOT NULL,
        PRIMARY KEY (event_id, zone)
    );
    CREATE INDEX object_event_zones_by_zone ON object_event_zones (zone, start DESC, event_id);
    CREATE TABLE object_event_cursors (
        pipeline_id TEXT NOT NULL,
        generation INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (pipeline_id, generation)
    );
    """,
    # 2: an ended event whose clip was still being cut is unfinished too (its worker may die
    # in the post-capture seconds).
    """
    DROP INDEX object_events_open;
    CREATE INDEX object_events_unfinished ON object_events (pipeline_id, generation)
        WHERE end IS NULL OR clip = 'pending';
    """,
)

_COLUMNS = "body, generation, updated, ended_by"
# What a worker may still change: matches the partial index, so SQLite uses it.
_UNFINISHED = "(end IS NULL OR clip = 'pending')"
# Called inside the transaction that stores a revision: an outbox row written there
# commits with it or not at all.
OnStored = Callable[[aiosqlite.Connection, ObjectEvent], Awaitable[None]]


def encode_cursor(start: float, event_id: str) -> str:
    """An opaque page cursor: the (start, id) of the last event of a page."""
    return base64.urlsafe_b64encode(f"{start!r}:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, event_id = text.split(":", 1)
        return float(start), event_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequestError(
            "cursor: not a cursor this API handed out (use next_cursor as given)"
        ) from None


def _stored(row: Sequence[Any]) -> StoredObjectEvent:
    event = ObjectEvent.model_validate_json(row[0])
    return StoredObjectEvent(**dict(event), generation=row[1], updated=row[2], ended_by=row[3])


class EventStore:
    """One connection; writes take turns under a lock, reads run between them (WAL)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> EventStore:
        return cls(await open_database(path, EVENT_MIGRATIONS))

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        async with self._write_lock, transaction(self.db):
            yield

    # -- writes ------------------------------------------------------------------------

    async def store(
        self,
        pipeline_id: str,
        generation: int,
        revisions: Sequence[ObjectEvent],
        cursor: int | None = None,
        on_stored: OnStored | None = None,
    ) -> list[ObjectEvent]:
        """Keep each revision that is newer than the stored one, and move the worker's
        cursor, in one transaction; returns the revisions that were new (a revision read
        again is not)."""
        stored: list[ObjectEvent] = []
        now = time.time()
        async with self._transaction():
            for revision in revisions:
                if await self._upsert(revision, generation, now):
                    stored.append(revision)
                    if on_stored is not None:
                        await on_stored(self.db, revision)
            if cursor is not None:
                await self.db.execute(
                    "INSERT INTO object_event_cursors (pipeline_id, generation, seq)"
                    " VALUES (?, ?, ?) ON CONFLICT (pipeline_id, generation)"
                    " DO UPDATE SET seq = max(seq, excluded.seq)",
                    (pipeline_id, generation, cursor),
                )
        return stored

    async def _upsert(
        self, event: ObjectEvent, generation: int, now: float, ended_by: str | None = None
    ) -> bool:
        cursor = await self.db.execute(
            "INSERT INTO object_events (id, pipeline_id, generation, label, start, end,"
            " revision, phase, clip, body, ended_by, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET end = excluded.end, revision = excluded.revision,"
            " phase = excluded.phase, clip = excluded.clip, body = excluded.body,"
            " ended_by = excluded.ended_by, updated = excluded.updated"
            " WHERE excluded.revision > object_events.revision",
            (
                event.id,
                event.pipeline_id,
                generation,
                event.label,
                event.start,
                event.end,
                event.revision,
                event.phase.value,
                event.clip.value,
                event.model_dump_json(),
                ended_by,
                now,
            ),
        )
        if cursor.rowcount == 0:
            return False
        await self.db.executemany(
            "INSERT OR IGNORE INTO object_event_zones (event_id, zone, start) VALUES (?, ?, ?)",
            [(event.id, zone, event.start) for zone in event.zones],
        )
        return True

    async def end_open(
        self, pipeline_id: str, live_generation: int | None, on_stored: OnStored | None = None
    ) -> list[ObjectEvent]:
        """End every event left open by a worker of `pipeline_id` other than the live one
        (all of them when none is live), with what is known: its last update as its end,
        a clip still pending (the event under way, or in its post-capture seconds) marked
        failed."""
        async with self._transaction():
            async with self.db.execute(
                f"SELECT {_COLUMNS} FROM object_events WHERE {_UNFINISHED} AND pipeline_id = ?"
                " AND generation IS NOT ?",
                (pipeline_id, live_generation),
            ) as rows:
                open_events = [_stored(row) for row in await rows.fetchall()]
            ended = []
            now = time.time()
            for event in open_events:
                pending = event.clip is ClipState.pending
                revision = ObjectEvent.model_validate(
                    {
                        **event.model_dump(exclude={"generation", "updated", "ended_by"}),
                        "phase": EventPhase.end,
                        "revision": event.revision + 1,
                        "end": event.end
                        if event.end is not None
                        else max(event.start, event.updated),
                        "current_zones": [],
                        "clip": ClipState.failed if pending else event.clip,
                        "clip_reason": "its worker stopped before the clip was finished"
                        if pending
                        else event.clip_reason,
                    }
                )
                await self._upsert(revision, event.generation, now, ended_by="store")
                if on_stored is not None:
                    await on_stored(self.db, revision)
                ended.append(revision)
        return ended

    async def delete(self, event_id: str) -> StoredObjectEvent | None:
        """Remove one event; returns what it was (its media are the caller's to remove)."""
        async with self._transaction():
            found = await self._get(event_id)
            if found is not None:
                await self.db.execute("DELETE FROM object_events WHERE id = ?", (event_id,))
        return found

    async def expired(
        self, max_age: float, max_per_pipeline: int, now: float
    ) -> list[StoredObjectEvent]:
        """Events beyond retention: older than `max_age` seconds or beyond the newest
        `max_per_pipeline` of their pipeline."""
        async with self.db.execute(
            f"SELECT {_COLUMNS} FROM object_events WHERE start < ? OR id IN (SELECT id FROM"
            " (SELECT id, ROW_NUMBER() OVER (PARTITION BY pipeline_id ORDER BY start DESC,"
            " id DESC) AS newer FROM object_events) WHERE newer > ?)",
            (now - max_age, max_per_pipeline),
        ) as rows:
            return [_stored(row) for row in await rows.fetchall()]

    async def delete_many(self, event_ids: Sequence[str]) -> None:
        async with self._transaction():
            await self.db.executemany(
                "DELETE FROM object_events WHERE id = ?", [(i,) for i in event_ids]
            )

    async def mark_clip_deleted(self, event: StoredObjectEvent, reason: str) -> None:
        """The event stays; its clip is gone (retention by bytes, or the disk quota)."""
        revision = ObjectEvent.model_validate(
            {
                **event.model_dump(exclude={"generation", "updated", "ended_by"}),
                "revision": event.revision + 1,
                "has_snapshot": False,
                "clip": ClipState.deleted,
                "clip_reason": reason,
            }
        )
        async with self._transaction():
            await self._upsert(revision, event.generation, time.time(), event.ended_by)

    # -- reads -------------------------------------------------------------------------

    async def cursor(self, pipeline_id: str, generation: int) -> int:
        """The last worker `seq` stored for this worker; 0 for a worker never read."""
        async with self.db.execute(
            "SELECT seq FROM object_event_cursors WHERE pipeline_id = ? AND generation = ?",
            (pipeline_id, generation),
        ) as rows:
            row = await rows.fetchone()
        return int(row[0]) if row else 0

    async def pipelines_with_open_events(self) -> set[str]:
        async with self.db.execute(
            f"SELECT DISTINCT pipeline_id FROM object_events WHERE {_UNFINISHED}"
        ) as rows:
            return {row[0] for row in await rows.fetchall()}

    async def get(self, event_id: str) -> StoredObjectEvent | None:
        return await self._get(event_id)

    async def changed(self, pipeline_id: str, since: float, limit: int) -> list[StoredObjectEvent]:
        """A pipeline's events stored or changed after `since` (`updated`), oldest change
        first: what a live stream sends next."""
        async with self.db.execute(
            f"SELECT {_COLUMNS} FROM object_events WHERE pipeline_id = ? AND updated > ?"
            " ORDER BY updated LIMIT ?",
            (pipeline_id, since, limit),
        ) as rows:
            return [_stored(row) for row in await rows.fetchall()]

    async def known(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored."""
        found: set[str] = set()
        unique = sorted(set(event_ids))
        for first in range(0, len(unique), 500):  # SQLite's bound-parameter limit
            chunk = unique[first : first + 500]
            marks = ", ".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT id FROM object_events WHERE id IN ({marks})", chunk
            ) as rows:
                found.update(row[0] for row in await rows.fetchall())
        return found

    async def _get(self, event_id: str) -> StoredObjectEvent | None:
        async with self.db.execute(
            f"SELECT {_COLUMNS} FROM object_events WHERE id = ?", (event_id,)
        ) as rows:
            row = await rows.fetchone()
        return _stored(row) if row else None

    async def page(
        self, where: EventFilter, limit: int, cursor: str | None = None
    ) -> ObjectEventPage:
        """Newest first (by start, then id); `cursor` continues after a previous page."""
        clauses, values = [], []
        for column, value in (("pipeline_id", where.pipeline_id), ("label", where.label)):
            if value is not None:
                clauses.append(f"e.{column} = ?")
                values.append(value)
        if where.zone is not None:
            # EXISTS walks the page order and stops once a page is full: far cheaper than
            # listing every event of a busy zone first.
            clauses.append(
                "EXISTS (SELECT 1 FROM object_event_zones z WHERE z.event_id = e.id AND z.zone = ?)"
            )
            values.append(where.zone)
        if where.after is not None:
            clauses.append("e.start >= ?")
            values.append(where.after)
        if where.before is not None:
            clauses.append("e.start < ?")
            values.append(where.before)
        if cursor is not None:
            start, event_id = decode_cursor(cursor)
            clauses.append("(e.start < ? OR (e.start = ? AND e.id < ?))")
            values += [start, start, event_id]
        sql = (
            f"SELECT e.body, e.generation, e.updated, e.ended_by FROM object_events e"
            f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
            " ORDER BY e.start DESC, e.id DESC LIMIT ?"
        )
        async with self.db.execute(sql, (*values, limit + 1)) as rows:
            found = [_stored(row) for row in await rows.fetchall()]
        more = len(found) > limit
        events = found[:limit]
        last = events[-1] if more else None
        return ObjectEventPage(
            events=events, next_cursor=encode_cursor(last.start, last.id) if last else None
        )
