"""One notifier's delivery loop: drains its outbox rows in order, backs off while it is down.

A notifier that is down only delays its own rows: each has its own loop, and nothing here is
awaited by the caller that stores events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from pydantic import BaseModel, Field

from coral_serve.config.notifications import NotificationsConfig
from coral_serve.notify.base import Notifier, PermanentNotifierError
from coral_serve.notify.outbox import OutboxRows
from coral_serve.schema.redact import masked_text

__all__ = ["DELIVERY_TIMEOUT", "Delivery", "NotifierStatus"]

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 30.0
"""Longest one delivery may take before it counts as failed (a hung receiver)."""
_BATCH = 100
_ERROR_CHARS = 300


class NotifierStatus(BaseModel):
    name: str = Field(description="Notifier name: its type, or the configured name.")
    type: str = Field(description="mqtt, webhook or plugin.")
    up: bool = Field(description="False after a failed delivery, until one succeeds.")
    queued: int = Field(description="Messages waiting in the outbox.")
    delivered: int = Field(description="Messages delivered since start.")
    failed: int = Field(description="Delivery attempts that failed since start.")
    rejected: int = Field(description="Messages the receiver refused for good (not retried).")
    dropped: int = Field(description="Oldest messages discarded beyond outbox_max_messages.")
    last_error: str | None = Field(default=None, description="Why the last delivery failed.")
    down_since: float | None = Field(default=None, description="Unix time of the first failure.")
    retry_in: float | None = Field(default=None, description="Seconds until the next attempt.")


class Delivery:
    """Delivers one notifier's rows oldest first; a failure keeps the row and the next attempt
    waits `retry_initial`, doubling up to `retry_max_seconds`, each with jitter (so many
    servers do not hammer a receiver that comes back in step)."""

    def __init__(
        self,
        name: str,
        kind: str,
        notifier: Notifier,
        rows: OutboxRows,
        config: NotificationsConfig,
    ) -> None:
        self.name = name
        self.kind = kind
        self.notifier = notifier
        self._rows = rows
        self._config = config
        self._wake = asyncio.Event()
        self._queued = 0
        self._delivered = 0
        self._failed = 0
        self._rejected = 0
        self._dropped = 0
        self._failures = 0
        self._last_error: str | None = None
        self._down_since: float | None = None
        self._retry_at: float | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Drain at start, then on every wake-up (or poll) while up, on the backoff while down."""
        while True:
            try:
                await self._drain()
            except Exception:  # the store failed: log it and scan again later
                log.exception("notifier %s: outbox scan failed", self.name)
            await self._wait()

    def status(self) -> NotifierStatus:
        retry_in = None if self._retry_at is None else max(0.0, self._retry_at - time.monotonic())
        return NotifierStatus(
            name=self.name,
            type=self.kind,
            up=self._failures == 0,
            queued=self._queued,
            delivered=self._delivered,
            failed=self._failed,
            rejected=self._rejected,
            dropped=self._dropped,
            last_error=self._last_error,
            down_since=self._down_since,
            retry_in=retry_in,
        )

    async def _wait(self) -> None:
        if self._retry_at is not None:  # down: only the backoff ends the wait
            await asyncio.sleep(max(0.0, self._retry_at - time.monotonic()))
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._config.poll_interval)

    async def _drain(self) -> None:
        self._wake.clear()  # a wake-up from here on means rows this pass may not have seen
        dropped = await self._rows.trim(self.name, self._config.outbox_max_messages)
        if dropped:
            self._dropped += dropped
            log.warning("notifier %s: outbox full, dropped the %d oldest", self.name, dropped)
        self._queued = await self._rows.count(self.name)
        while batch := await self._rows.pending(self.name, _BATCH):
            for seq, message in batch:
                try:
                    await asyncio.wait_for(self.notifier.deliver(message), DELIVERY_TIMEOUT)
                except PermanentNotifierError as exc:
                    self._rejected += 1
                    log.warning("notifier %s refused %s: %s", self.name, message.key, exc)
                except Exception as exc:  # NotifierError, a timeout, or a plugin's own bug
                    await self._rows.attempt_failed(seq, self._failure(exc))
                    return
                else:
                    self._delivered += 1
                    self._recovered()
                await self._rows.remove(seq)
                self._queued = max(0, self._queued - 1)

    def _failure(self, exc: Exception) -> str:
        text = str(exc) if str(exc) else type(exc).__name__
        if isinstance(exc, asyncio.TimeoutError):
            text = f"no answer within {DELIVERY_TIMEOUT:g}s"
        text = masked_text(text)[:_ERROR_CHARS]
        if self._failures == 0:
            log.warning("notifier %s is down: %s", self.name, text)
            self._down_since = time.time()
        self._failed += 1
        self._failures += 1
        self._last_error = text
        delay = min(
            self._config.retry_max_seconds,
            self._config.retry_initial * 2 ** min(self._failures - 1, 30),
        )
        self._retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
        return text

    def _recovered(self) -> None:
        if self._failures:
            log.info("notifier %s is up again", self.name)
        self._failures = 0
        self._last_error = None
        self._down_since = None
        self._retry_at = None
