"""PipelineService: owner of the pipeline store (desired state)."""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite

from coral_serve.config import CoralConfig
from coral_serve.errors import UnavailableError
from coral_serve.services.checks import CheckResult
from coral_serve.store.database import open_database

__all__ = ["PipelineService"]

log = logging.getLogger(__name__)


class PipelineService:
    """Keeps what users asked for in SQLite; exactly one replica owns the file."""

    def __init__(self, config: CoralConfig) -> None:
        self._config = config
        self._store_path = Path(str(config.pipelines.store_path))
        self._db: aiosqlite.Connection | None = None

    async def start(self) -> None:
        self._db = await open_database(self._store_path)
        log.info("pipeline store open at %s", self._store_path)

    async def stop(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def check_store(self) -> CheckResult:
        """Readiness: the store file is still there and answers a query."""
        if self._db is None:
            raise UnavailableError("pipeline store is not open")
        if not self._store_path.exists():
            return CheckResult(
                name="store", ok=False, detail=f"store file {self._store_path} is missing"
            )
        async with self._db.execute("SELECT count(*) FROM pipelines") as cursor:
            row = await cursor.fetchone()
        count = row[0] if row else 0
        return CheckResult(name="store", ok=True, detail=f"{count} pipelines stored")
