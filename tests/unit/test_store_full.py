"""A store that cannot grow says so: "disk full", not SQLite's follow-up rollback error."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coral_serve.store.database import open_database
from coral_serve.store.pipelines import PipelineStore, StoreError
from tests.unit.records import SPEC, stored_record
from tests.unit.webapp import make_config, running_app


async def test_a_store_at_its_size_limit_reports_a_full_disk(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "coral.db")
    store = PipelineStore(db)
    try:
        async with db.execute("PRAGMA page_count") as cursor:
            (pages,) = await cursor.fetchone()
        # SQLite answers SQLITE_FULL once the file would outgrow this, as on a full disk.
        await db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError) as failure:
            for n in range(1000):
                await store.insert(stored_record(n))
        assert str(failure.value).startswith("disk full")
        stored = len(await store.list())
        assert stored > 0 and not db.in_transaction  # the failed write left nothing behind
    finally:
        await db.close()


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs (mounting needs root: CI containers run as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"this root may not mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem has no room left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    assert os.statvfs(folder).f_bavail == 0, "the filesystem still has room"
    return filler


async def test_creating_on_a_full_disk_is_a_503_that_says_disk_full(
    tiny_filesystem: Path,
) -> None:
    async with running_app(make_config(tiny_filesystem)) as (client, _):
        filler = fill(tiny_filesystem)
        answers = []
        for n in range(50):  # SQLite reuses free pages of its files before it must grow
            spec = {"name": f"cam-{n}", **SPEC}
            answers.append(await client.post("/api/v1/pipelines", json=spec))
            if answers[-1].status_code != 201:
                break
        refused = answers[-1]
        assert refused.status_code == 503, refused.text
        assert "disk full" in refused.json()["detail"]
        assert "rollback" not in refused.json()["detail"]

        filler.unlink()  # space again: the store takes writes again, no restart needed
        retried = await client.post("/api/v1/pipelines", json={"name": "after", **SPEC})
        assert retried.status_code == 201, retried.text
