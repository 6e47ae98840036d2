"""PipelineSnapshot: this ingress replica's own copy of every pipeline view and status.

It long-polls `PipelineService.watch`, which answers at once when something changed and
otherwise after `timeout` with freshly read statuses, so list and status reads are an
in-process lookup however many clients poll. A client reads its own writes: a mutating
API request marks the snapshot behind as its answer starts, and the next read first asks
for the changes since (one call, shared by the reads waiting for it). A snapshot that is
not fresh (not yet primed, PipelineService down or stuck) answers nothing, and routes ask
PipelineService directly as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coral_serve.schema.feed import ViewChanges
from coral_serve.schema.views import PipelineView
from coral_serve.services.client import ServiceClient
from coral_serve.tasks import stop_tasks

__all__ = ["PipelineSnapshot", "SnapshotWritesMiddleware", "get_snapshot"]

log = logging.getLogger(__name__)

# A long-poll may take this much longer than its timeout (a slow status read) and the
# snapshot still counts as fresh; past it reads go to PipelineService directly.
_GRACE_SECONDS = 5.0
_RETRY_SECONDS = (0.2, 5.0)  # first and longest pause after a failed long-poll
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PipelineSnapshot:
    def __init__(self, pipelines: ServiceClient, timeout: float) -> None:
        self._pipelines = pipelines
        self._timeout = timeout
        self._epoch = ""
        self._version = 0
        self._views: dict[str, PipelineView] = {}
        self._answered_at = float("-inf")  # monotonic time of the last answer applied
        self._follower: asyncio.Task[None] | None = None
        self._writes = 0  # mutating requests answered so far
        self._caught_up = 0  # writes the last catch-up started after
        self._catch_up: asyncio.Future[bool] | None = None
        self._changed = asyncio.Event()

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._answered_at < self._timeout + _GRACE_SECONDS

    async def views(self) -> list[PipelineView] | None:
        """Every view, or None when the snapshot cannot vouch for them."""
        return list(self._views.values()) if await self._current() else None

    async def view(self, pipeline_id: str) -> PipelineView | None:
        """The pipeline's view; None (ask PipelineService) when not fresh, not known here,
        or a quarantined row, which only the service's own answer (409) explains."""
        view = self._views.get(pipeline_id) if await self._current() else None
        return None if view is None or view.broken else view

    def note_write(self) -> None:
        """A mutating request is answering: the next read catches up first."""
        self._writes += 1

    async def changes(self) -> AsyncIterator[dict[str, PipelineView] | None]:
        """Every view now and after each change; None while the snapshot is not fresh."""
        while True:
            changed = self._changed
            yield dict(self._views) if await self._current() else None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), self._timeout + _GRACE_SECONDS)

    async def stop(self) -> None:
        if self._follower is not None:
            await stop_tasks([self._follower])
            self._follower = None

    async def _current(self) -> bool:
        """Start following if needed, catch up after a write, and say whether fresh."""
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow(), name="coral-snapshot")
        while self._caught_up < self._writes:  # one in flight may predate the last write
            if self._catch_up is None or self._catch_up.done():
                self._catch_up = asyncio.ensure_future(self._ask(self._writes))
            if not await asyncio.shield(self._catch_up):
                return False
        return self.fresh

    async def _ask(self, writes: int) -> bool:
        """Apply the changes since our version (no wait); False if that failed."""
        try:
            asked = self._pipelines.call("watch", self._epoch, self._version, 0.0)
            self._apply(await asyncio.wait_for(asked, _GRACE_SECONDS))
        except Exception as exc:
            log.debug("pipeline snapshot cannot catch up: %r", exc)
            return False
        self._caught_up = max(self._caught_up, writes)
        return True

    async def _follow(self) -> None:
        pause = _RETRY_SECONDS[0]
        while True:
            try:
                changes = await asyncio.wait_for(
                    self._pipelines.call("watch", self._epoch, self._version, self._timeout),
                    self._timeout + _GRACE_SECONDS,
                )
            except Exception as exc:  # PipelineService down, restarting or stuck
                log.debug("pipeline snapshot not refreshed: %r", exc)
                self._answered_at = float("-inf")
                self._signal()
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_SECONDS[1])
                continue
            pause = _RETRY_SECONDS[0]
            self._apply(changes)

    def _apply(self, changes: ViewChanges) -> None:
        """Answers may arrive out of order (a catch-up and the long-poll): an older one is
        dropped; a newer one holds every change since the version it was asked from."""
        if changes.epoch == self._epoch and changes.version <= self._version:
            self._answered_at = time.monotonic()  # nothing new, but the service answers
            return
        if changes.epoch != self._epoch and not changes.full:
            return  # asked of an earlier run of the feed; the next answer is complete
        if changes.full:
            self._views = {}
        for view in changes.views:
            self._views[view.id] = view
        for pipeline_id in changes.removed:
            self._views.pop(pipeline_id, None)
        self._epoch, self._version = changes.epoch, changes.version
        self._answered_at = time.monotonic()
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class SnapshotWritesMiddleware:
    """Marks the snapshot behind when a mutating request starts its answer, which is after
    the change is stored: the same client's next read sees it. Any path counts, so a web
    plugin's own routes that change a pipeline (the line counter's) are read back too."""

    def __init__(self, app: ASGIApp, snapshot: PipelineSnapshot) -> None:
        self.app = app
        self.snapshot = snapshot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.snapshot.note_write()
            await send(message)

        await self.app(scope, receive, noting)


async def get_snapshot(request: Request) -> PipelineSnapshot:
    """A dependency; async so FastAPI calls it in the loop, not in its thread pool."""
    return request.app.state.snapshot
