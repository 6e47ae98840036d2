"""The SQLite store opens in WAL mode and migrates its schema in place."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from coral_serve.store.database import SCHEMA_VERSION, open_database


async def test_new_store_is_wal_and_at_the_current_schema(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "nested" / "coral.db")
    try:
        async with db.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
        async with db.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == SCHEMA_VERSION
    finally:
        await db.close()
    # Stored specs hold camera credentials: only the owner may read the file.
    assert stat.S_IMODE((tmp_path / "nested" / "coral.db").stat().st_mode) == 0o600


async def test_reopening_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "coral.db"
    db = await open_database(path)
    await db.execute(
        "INSERT INTO pipelines (id, name, spec, desired_state, restart_policy, created, updated)"
        " VALUES ('p1', 'cam', '{}', 'running', 'always', 0, 0)"
    )
    await db.close()
    db = await open_database(path)
    try:
        async with db.execute("SELECT name FROM pipelines") as cursor:
            assert [row[0] for row in await cursor.fetchall()] == ["cam"]
    finally:
        await db.close()


async def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "coral.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this coral_serve"):
        await open_database(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


async def test_concurrent_writes_take_turns(tmp_path: Path) -> None:
    from coral_serve.store.pipelines import PipelineStore
    from tests.unit.records import stored_record

    db = await open_database(tmp_path / "coral.db")
    store = PipelineStore(db)
    records = [stored_record(n) for n in range(8)]
    try:
        await asyncio.gather(*(store.insert(record) for record in records))
        await asyncio.gather(*(store.delete(record.id) for record in records[:4]))
        assert [r.name for r in await store.list()] == [f"cam-{n}" for n in range(4, 8)]
    finally:
        await db.close()


async def test_a_spec_that_would_not_read_back_is_never_written(tmp_path: Path) -> None:
    from coral_serve.errors import InvalidRequestError
    from coral_serve.schema.spec import ResourcesSpec
    from coral_serve.store.pipelines import PipelineStore
    from tests.unit.records import stored_record

    db = await open_database(tmp_path / "coral.db")
    store = PipelineStore(db)
    good = stored_record(1)
    # Built around validation, as a bug would: JSON writes the NaN as null.
    bad = good.spec.model_copy(
        update={
            "resources": ResourcesSpec.model_construct(
                num_cpus=float("nan"), num_gpus=0.0, custom={}
            )
        }
    )
    record = good.model_copy(update={"spec": bad})
    try:
        with pytest.raises(InvalidRequestError, match=r"resources\.num_cpus"):
            await store.insert(record)
        assert await store.count() == 0 and await store.list() == []
    finally:
        await db.close()


async def test_unreadable_rows_are_listed_apart_and_deletable(tmp_path: Path) -> None:
    from coral_serve.store.pipelines import PipelineStore, UnreadableRowError

    db = await open_database(tmp_path / "coral.db")
    store = PipelineStore(db)
    await db.execute(
        "INSERT INTO pipelines (id, name, spec, desired_state, restart_policy, created, updated)"
        ' VALUES (\'p1\', \'cam\', \'{"name": "cam", "source": {"uri": "rtsp://u:pw@h/x"}}\','
        " 'running', 'always', 0, 0)"
    )
    await db.commit()
    try:
        assert await store.list() == []
        [broken] = await store.broken()
        assert (broken.id, broken.name) == ("p1", "cam")
        assert broken.reason.startswith("model: Field required") and "pw" not in broken.reason
        with pytest.raises(UnreadableRowError, match="cannot be read"):
            await store.get("p1")
        assert await store.delete("p1") is True
        assert await store.broken() == []
    finally:
        await db.close()
