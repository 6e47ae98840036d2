"""Rows of desired pipeline state and their append-only event log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiosqlite
from pydantic import ValidationError

from coral_serve.errors import ConflictError, InvalidRequestError
from coral_serve.schema.records import BrokenRow, PipelineEvent, PipelineRecord
from coral_serve.schema.spec import PipelineSpec, RestartPolicy
from coral_serve.schema.state import DesiredState, Origin
from coral_serve.store.database import StoreError, transaction

__all__ = ["PipelineStore", "StoreError", "UnreadableRowError", "validation_reason"]

log = logging.getLogger(__name__)


_COLUMNS = (
    "id, name, spec, desired_state, restart_policy, origin, generation, created, updated, "
    "revision, template"
)


class UnreadableRowError(ConflictError):
    """The API touched a quarantined row (409: the request is fine, the stored row is not)."""

    def __init__(self, pipeline_id: str, reason: str) -> None:
        super().__init__(
            f"pipeline {pipeline_id!r} is stored but cannot be read ({reason}); "
            "it does not run: delete it and create it again"
        )


def _record(row: tuple[Any, ...]) -> PipelineRecord:
    return PipelineRecord(
        id=row[0],
        name=row[1],
        spec=PipelineSpec.model_validate_json(row[2]),
        desired_state=DesiredState(row[3]),
        restart_policy=RestartPolicy(row[4]),
        origin=Origin(row[5]),
        generation=row[6],
        created=row[7],
        updated=row[8],
        revision=row[9],
        template=row[10],
    )


def _parse(row: tuple[Any, ...]) -> PipelineRecord | BrokenRow:
    """The record, or why it cannot be read (never quoting the stored values)."""
    try:
        return _record(row)
    except ValidationError as exc:
        reason = validation_reason(exc)
    except (ValueError, TypeError) as exc:
        reason = f"a column holds an unknown value ({type(exc).__name__})"
    created = row[7] if isinstance(row[7], int | float) else 0.0
    return BrokenRow(id=str(row[0]), name=str(row[1]), created=created, reason=reason)


def validation_reason(exc: ValidationError) -> str:
    """Field paths and messages only: a spec may hold camera credentials."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where or 'spec'}: {first['msg']}{more}"


def _spec_json(spec: PipelineSpec) -> str:
    """The spec as stored, refused unless it reads back: a row that cannot be read must
    never be written."""
    text = spec.model_dump_json()
    try:
        PipelineSpec.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidRequestError(
            f"spec cannot be stored, it would not read back: {validation_reason(exc)}"
        ) from None
    return text


class PipelineStore:
    """Every write commits before it returns, so a crash right after loses nothing."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        # One connection serves every coroutine: transactions must take turns.
        self._write_lock = asyncio.Lock()
        self._reported_broken: set[str] = set()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One atomic write; SQLite's own failures come out as StoreError."""
        async with self._write_lock, self._transaction_unlocked():
            yield

    def _transaction_unlocked(self) -> AbstractAsyncContextManager[None]:
        return transaction(self._db)

    async def insert(self, record: PipelineRecord, event: str = "created") -> None:
        """Write the row and its first event in one transaction."""
        async with self._transaction():
            await self._db.execute(
                f"INSERT INTO pipelines ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    _spec_json(record.spec),
                    record.desired_state.value,
                    record.restart_policy.value,
                    record.origin.value,
                    record.generation,
                    record.created,
                    record.updated,
                    record.revision,
                    record.template,
                ),
            )
            await self._append(record.id, event, "")

    async def replace_spec(self, record: PipelineRecord, event: str) -> None:
        """Store a changed spec (declared pipelines edited in the config)."""
        await self._update(
            record.id,
            "spec = ?, restart_policy = ?, template = ?, generation = generation + 1, "
            "revision = revision + 1",
            (_spec_json(record.spec), record.restart_policy.value, record.template),
            event,
        )

    async def update_spec(
        self, record: PipelineRecord, revision: int, restart: bool, event: str, detail: str
    ) -> bool:
        """Store `record`'s spec if the row is still at `revision` (compare and set, so two
        concurrent edits never lose one); `restart` also bumps the generation, which
        replaces the worker. False when the row moved on (or is gone)."""
        bump = ", generation = generation + 1" if restart else ""
        async with self._transaction():
            cursor = await self._db.execute(
                "UPDATE pipelines SET spec = ?, restart_policy = ?, template = ?, "
                f"revision = revision + 1, updated = ?{bump} WHERE id = ? AND revision = ?",
                (
                    _spec_json(record.spec),
                    record.restart_policy.value,
                    record.template,
                    time.time(),
                    record.id,
                    revision,
                ),
            )
            if cursor.rowcount == 0:
                return False
            await self._append(record.id, event, detail)
        return True

    async def set_desired(self, pipeline_id: str, state: DesiredState, event: str) -> None:
        await self._update(pipeline_id, "desired_state = ?", (state.value,), event)

    async def bump_generation(self, pipeline_id: str, event: str, detail: str = "") -> None:
        await self._update(pipeline_id, "generation = generation + 1", (), event, detail)

    async def _update(
        self,
        pipeline_id: str,
        assignments: str,
        values: tuple[Any, ...],
        event: str,
        detail: str = "",
    ) -> None:
        async with self._transaction():
            await self._db.execute(
                f"UPDATE pipelines SET {assignments}, updated = ? WHERE id = ?",
                (*values, time.time(), pipeline_id),
            )
            await self._append(pipeline_id, event, detail)

    async def delete(self, pipeline_id: str) -> bool:
        """Remove the row (its events stay, as history); False when it was already gone."""
        async with self._transaction():
            cursor = await self._db.execute("DELETE FROM pipelines WHERE id = ?", (pipeline_id,))
            removed = cursor.rowcount > 0
            if removed:
                await self._append(pipeline_id, "deleted", "")
        return removed

    async def get(self, pipeline_id: str) -> PipelineRecord | None:
        """The record, None when there is none; UnreadableRowError when it is quarantined."""
        return await self._one("id", pipeline_id)

    async def get_by_name(self, name: str) -> PipelineRecord | None:
        return await self._one("name", name)

    async def list(self) -> list[PipelineRecord]:
        """Every readable record; unreadable rows are left out (see `broken`)."""
        return [row for row in await self._parsed() if isinstance(row, PipelineRecord)]

    async def broken(self) -> list[BrokenRow]:
        """Rows that no longer read back (hand-edited, or written by a buggy version)."""
        return [row for row in await self._parsed() if isinstance(row, BrokenRow)]

    async def _parsed(self) -> list[PipelineRecord | BrokenRow]:
        async with self._db.execute(f"SELECT {_COLUMNS} FROM pipelines ORDER BY created") as cur:
            return [self._checked(_parse(tuple(row))) for row in await cur.fetchall()]

    async def _one(self, column: str, value: str) -> PipelineRecord | None:
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM pipelines WHERE {column} = ?", (value,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        parsed = self._checked(_parse(tuple(row)))
        if isinstance(parsed, BrokenRow):
            raise UnreadableRowError(parsed.id, parsed.reason)
        return parsed

    def _checked(self, parsed: PipelineRecord | BrokenRow) -> PipelineRecord | BrokenRow:
        """Log each quarantined row once, not on every reconcile pass."""
        if isinstance(parsed, BrokenRow) and parsed.id not in self._reported_broken:
            self._reported_broken.add(parsed.id)
            log.error(
                "stored pipeline %s cannot be read and is skipped: %s", parsed.id, parsed.reason
            )
        return parsed

    async def add_event(self, pipeline_id: str, kind: str, detail: str = "") -> None:
        async with self._transaction():
            await self._append(pipeline_id, kind, detail)

    async def events(self, pipeline_id: str, limit: int = 200) -> list[PipelineEvent]:
        async with self._db.execute(
            "SELECT seq, pipeline_id, ts, kind, detail FROM events WHERE pipeline_id = ?"
            " ORDER BY seq DESC LIMIT ?",
            (pipeline_id, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            PipelineEvent(seq=r[0], pipeline_id=r[1], ts=r[2], kind=r[3], detail=r[4])
            for r in reversed(list(rows))
        ]

    async def prune_events(self, max_age: float, max_per_pipeline: int) -> int:
        """Remove events older than `max_age` seconds, beyond the newest `max_per_pipeline`
        of each pipeline, and of pipelines no longer stored; returns how many went."""
        async with self._transaction():
            cursor = await self._db.execute(
                "DELETE FROM events WHERE ts < ?"
                " OR pipeline_id NOT IN (SELECT id FROM pipelines)"
                " OR seq IN (SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER"
                " (PARTITION BY pipeline_id ORDER BY seq DESC) AS newer FROM events)"
                " WHERE newer > ?)",
                (time.time() - max_age, max_per_pipeline),
            )
            return cursor.rowcount

    async def count(self) -> int:
        async with self._db.execute("SELECT count(*) FROM pipelines") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _append(self, pipeline_id: str, kind: str, detail: str) -> None:
        await self._db.execute(
            "INSERT INTO events (pipeline_id, ts, kind, detail) VALUES (?, ?, ?, ?)",
            (pipeline_id, time.time(), kind, detail),
        )
