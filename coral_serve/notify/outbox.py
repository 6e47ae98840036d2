"""The outbox: one row per (notifier, event revision) in the event store until delivered.

Rows are written in the transaction that stores the event, so an event is stored and queued
together or not at all; a crash or a notifier down for hours loses nothing. `UNIQUE (target,
key)` makes a revision read twice (a retried poll) queue once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiosqlite

from coral_serve.config.notifications import EventFilter
from coral_serve.notify.base import Message
from coral_serve.schema.events import ObjectEvent

__all__ = ["OUTBOX_SCHEMA", "Outbox", "OutboxRows", "Target", "idempotency_key", "message_for"]

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    body BLOB NOT NULL,
    enqueued REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (target, key)
);
CREATE INDEX IF NOT EXISTS notify_outbox_by_target ON notify_outbox (target, seq);
"""
"""Idempotent, so the outbox lives in whichever store holds the events without taking a
place in that store's migration sequence."""


def idempotency_key(event: ObjectEvent) -> str:
    return f"{event.id}:{event.revision}"


def message_for(event: ObjectEvent) -> Message:
    """The one body every notifier sends for this revision."""
    key = idempotency_key(event)
    body = {"idempotency_key": key, "event": event.model_dump(mode="json")}
    return Message(key, event.pipeline_id, json.dumps(body, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Target:
    """A configured notifier as the outbox sees it: its name and which events it wants."""

    name: str
    filter: EventFilter

    def accepts(self, event: ObjectEvent) -> bool:
        rule = self.filter
        return (
            (not rule.pipelines or event.pipeline_id in rule.pipelines)
            and (not rule.labels or event.label in rule.labels)
            and (not rule.zones or any(zone in rule.zones for zone in event.zones))
        )


class Outbox:
    """Queues event revisions on the caller's connection (the event store's)."""

    def __init__(
        self, db: aiosqlite.Connection, targets: Sequence[Target], wake: Callable[[], None]
    ) -> None:
        self._db = db
        self._targets = tuple(targets)
        self._wake = wake

    async def enqueue(self, event: ObjectEvent, *, commit: bool) -> int:
        """Queue the revision for every notifier whose filter accepts it; the number queued.

        With `commit=False` the rows join the caller's open transaction: call `wake()` once
        it is committed (else the next outbox scan, `poll_interval` later, finds them).
        """
        names = [target.name for target in self._targets if target.accepts(event)]
        if not names:
            return 0
        message = message_for(event)
        now = time.time()
        rows = [(name, message.key, message.pipeline_id, message.body, now) for name in names]
        if commit:
            await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.executemany(
                "INSERT OR IGNORE INTO notify_outbox (target, key, pipeline_id, body, enqueued) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            if commit:
                await self._db.execute("COMMIT")
        except BaseException:
            if commit and self._db.in_transaction:
                await self._db.execute("ROLLBACK")
            raise
        if commit:
            self.wake()
        return len(names)

    def wake(self) -> None:
        """Have the dispatcher look at the outbox now."""
        self._wake()


class OutboxRows:
    """The dispatcher's side of the outbox, on its own connection to the same store.

    Every delivery loop shares that connection, so each read runs whole in one call
    (`execute_fetchall`): a cursor left open between awaits would hold a read snapshot
    under another loop's write, which SQLite then refuses at once as locked."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def create(self) -> None:
        await self._db.executescript(OUTBOX_SCHEMA)

    async def forget_targets(self, known: Sequence[str]) -> int:
        """Drop the rows of notifiers no longer configured; how many were dropped."""
        marks = ",".join("?" * len(known))
        cursor = await self._db.execute(
            f"DELETE FROM notify_outbox WHERE target NOT IN ({marks})", tuple(known)
        )
        return cursor.rowcount

    async def pending(self, target: str, limit: int) -> list[tuple[int, Message]]:
        """The oldest queued messages of one notifier, in the order they were queued."""
        rows = await self._db.execute_fetchall(
            "SELECT seq, key, pipeline_id, body FROM notify_outbox WHERE target = ? "
            "ORDER BY seq LIMIT ?",
            (target, limit),
        )
        return [
            (seq, Message(key, pipeline_id, bytes(body))) for seq, key, pipeline_id, body in rows
        ]

    async def remove(self, seq: int) -> None:
        await self._db.execute("DELETE FROM notify_outbox WHERE seq = ?", (seq,))

    async def attempt_failed(self, seq: int, error: str) -> None:
        await self._db.execute(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
            (error, seq),
        )

    async def count(self, target: str) -> int:
        [(count,)] = await self._db.execute_fetchall(
            "SELECT COUNT(*) FROM notify_outbox WHERE target = ?", (target,)
        )
        return int(count)

    async def trim(self, target: str, capacity: int) -> int:
        """Drop the oldest messages beyond `capacity`; how many were dropped."""
        excess = await self.count(target) - capacity
        if excess <= 0:
            return 0
        await self._db.execute(
            "DELETE FROM notify_outbox WHERE seq IN (SELECT seq FROM notify_outbox "
            "WHERE target = ? ORDER BY seq LIMIT ?)",
            (target, excess),
        )
        return excess
