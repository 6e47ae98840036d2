"""The SQLite file holding desired pipeline state: opened in WAL mode, migrated in place."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "StoreError",
    "failure_reason",
    "open_database",
    "transaction",
]

MIGRATIONS: tuple[str, ...] = (
    # 1: pipelines (desired state) and their append-only event log.
    """
    CREATE TABLE pipelines (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        desired_state TEXT NOT NULL,
        restart_policy TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT 'api',
        generation INTEGER NOT NULL DEFAULT 1,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline_id TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_by_pipeline ON events (pipeline_id, seq);
    """,
    # 2: a revision per spec change (the ETag writes compare and set) and the template the
    # spec was resolved from.
    """
    ALTER TABLE pipelines ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE pipelines ADD COLUMN template TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# What an operator should do about each SQLite failure class (primary result codes).
_REASONS = {
    sqlite3.SQLITE_FULL: "disk full: free space on the store's filesystem",
    sqlite3.SQLITE_IOERR: "disk I/O error on the store file",
    sqlite3.SQLITE_READONLY: "the store file is read-only",
    sqlite3.SQLITE_CANTOPEN: "the store file cannot be opened",
    sqlite3.SQLITE_CORRUPT: "the store file is corrupt",
    sqlite3.SQLITE_NOTADB: "the store file is not an SQLite database",
    sqlite3.SQLITE_BUSY: "the store is locked by another process",
    sqlite3.SQLITE_LOCKED: "the store is locked by another process",
    sqlite3.SQLITE_PERM: "permission denied on the store file",
}


def failure_reason(exc: sqlite3.Error) -> str:
    """The cause of a failed store write in words, with SQLite's own message after it."""
    code = getattr(exc, "sqlite_errorcode", None)
    reason = _REASONS.get(code & 0xFF) if code is not None else None
    return f"{reason} ({exc})" if reason else str(exc)


# aiosqlite logs every statement with its parameters at DEBUG; stored specs hold camera
# credentials, so those records must never be emitted, whatever the root level is.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


class StoreError(Exception):
    """The store could not be written (read-only filesystem, disk full, file replaced)."""


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """One atomic write (the caller makes writers take turns); SQLite's own failures come
    out as StoreError."""
    try:
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield
            await db.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some failures (a full disk among them);
            # a second ROLLBACK would hide the cause behind its own error.
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(failure_reason(exc)) from exc


async def open_database(
    path: str | os.PathLike[str], migrations: Sequence[str] = MIGRATIONS
) -> aiosqlite.Connection:
    """Open (creating if needed) a store, switch it to WAL and apply pending `migrations`.

    Each migration runs in one transaction together with its `user_version` bump, so a
    crash mid-upgrade leaves the previous, consistent schema.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(os.fspath(path), isolation_level=None)
    try:
        # Only this user may read it (SQLite gives the -wal and -shm files the same mode).
        os.chmod(path, 0o600)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        latest = len(migrations)
        if current > latest:
            raise RuntimeError(
                f"store {path} has schema {current}, newer than this coral_serve "
                f"({latest}); upgrade coral_serve"
            )
        for version in range(current + 1, latest + 1):
            await db.executescript(
                f"BEGIN; {migrations[version - 1]} PRAGMA user_version = {version}; COMMIT;"
            )
    except BaseException:
        await db.close()
        raise
    return db
