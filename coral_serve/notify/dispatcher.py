"""`Dispatcher`: the notifiers, their delivery loops and their outbox, as the event service
starts and stops them.

The event service stores every new revision and, in the same transaction,
`await dispatcher.outbox(db).enqueue(event, commit=False)`; the dispatcher delivers from its
own connection to that store, so a slow or dead notifier never holds up event storage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

import aiosqlite

from coral_serve.config.notifications import NotificationsConfig
from coral_serve.config.plugins import PluginsConfig
from coral_serve.notify.base import Notifier, ZoneCounts
from coral_serve.notify.delivery import Delivery, NotifierStatus
from coral_serve.notify.outbox import Outbox, OutboxRows, Target
from coral_serve.notify.registry import build_notifiers
from coral_serve.notify.webhook import OutboundCheck
from coral_serve.schema.checks import CheckResult

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

_STOP_TIMEOUT = 5.0


class Dispatcher:
    """Delivers every queued event revision to every notifier at least once."""

    def __init__(
        self,
        config: NotificationsConfig,
        store_path: str | os.PathLike[str],
        *,
        check_url: OutboundCheck,
        plugins: PluginsConfig | None = None,
    ) -> None:
        """`store_path` is the event store; `check_url` the outbound policy that every
        webhook URL passes before each request (check_outbound bound to pipelines.outbound)."""
        self._config = config
        self._store_path = os.fspath(store_path)
        configs = config.notifiers if config.enabled else []
        self._built = build_notifiers(configs, plugins or PluginsConfig(), check_url)
        self._targets = [Target(b.name, b.config) for b in self._built]
        self._db: aiosqlite.Connection | None = None
        self._deliveries: list[Delivery] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._count_tasks: set[asyncio.Task[None]] = set()
        self._zone_counts: dict[str, dict[str, dict[str, int]]] = {}

    async def start(self) -> None:
        """Create the outbox table if needed and start one delivery loop per notifier;
        rows of notifiers no longer configured are dropped (logged)."""
        if self._db is not None:
            return
        db = await aiosqlite.connect(self._store_path, isolation_level=None)
        async with db.execute("PRAGMA journal_mode=WAL"):  # closed: an open one holds a lock
            pass
        rows = OutboxRows(db)
        await rows.create()
        forgotten = await rows.forget_targets([t.name for t in self._targets])
        if forgotten:
            log.warning("dropped %d queued messages of notifiers no longer configured", forgotten)
        self._db = db
        self._deliveries = [
            Delivery(b.name, b.config.type, b.notifier, rows, self._config) for b in self._built
        ]
        self._tasks = [
            asyncio.create_task(d.run(), name=f"notify-{d.name}") for d in self._deliveries
        ]

    async def stop(self) -> None:
        """Stop the loops (undelivered rows stay for the next start) and close notifiers."""
        tasks = [*self._tasks, *self._count_tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a loop stuck in a notifier's client must not hold up the shutdown.
            _, stuck = await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)
            for task in stuck:
                log.warning("notifier loop %s did not stop in time", task.get_name())
        self._tasks.clear()
        for built in self._built:
            try:
                await built.notifier.close()
            except Exception as exc:  # a plugin's close must not stop the others
                log.warning("notifier %s did not close cleanly: %r", built.name, exc)
        if self._db is not None:
            await self._db.close()
            self._db = None

    def outbox(self, db: aiosqlite.Connection) -> Outbox:
        """The outbox over the event store's own connection (after `start`, which created
        its table), so an enqueue shares the transaction that stores the event."""
        return Outbox(db, self._targets, self.wake)

    def wake(self) -> None:
        for delivery in self._deliveries:
            delivery.wake()

    async def zone_counts(self, pipeline_id: str, counts: ZoneCounts) -> None:
        """Objects now in each zone by class; handed to the notifiers only when they changed,
        in the background, so a broker that is down never slows the caller."""
        current = {zone: dict(labels) for zone, labels in counts.items()}
        if self._zone_counts.get(pipeline_id) == current:
            return
        self._zone_counts[pipeline_id] = current
        for built in self._built:
            task = asyncio.create_task(
                self._send_counts(built.name, built.notifier, pipeline_id, current)
            )
            self._count_tasks.add(task)
            task.add_done_callback(self._count_tasks.discard)

    def statuses(self) -> list[NotifierStatus]:
        return [delivery.status() for delivery in self._deliveries]

    def check(self) -> CheckResult:
        """The `notifications` readiness check, a warning: which notifiers are down."""
        if not self._config.enabled:
            return CheckResult(
                name="notifications", ok=True, detail="notifications.enabled is false"
            )
        statuses = self.statuses()
        down = [s for s in statuses if not s.up]
        if not down:
            return CheckResult(name="notifications", ok=True, detail=f"{len(statuses)} up")
        now = time.time()
        detail = "; ".join(
            f"{s.name} down {now - (s.down_since or now):.0f}s, {s.queued} queued: {s.last_error}"
            for s in down
        )
        return CheckResult(name="notifications", ok=False, detail=detail)

    async def _send_counts(
        self,
        name: str,
        notifier: Notifier,
        pipeline_id: str,
        counts: Mapping[str, Mapping[str, int]],
    ) -> None:
        try:
            await notifier.zone_counts(pipeline_id, counts)
        except Exception as exc:  # a plugin's bug must not reach the event service
            log.warning("notifier %s: zone counts failed: %r", name, exc)
