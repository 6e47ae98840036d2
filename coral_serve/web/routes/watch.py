"""`/api/v1/watch`: what a dashboard shows, pushed as Server-Sent Events instead of polled.

- `snapshot`: every pipeline view; then `changes`: the views that changed and the ids
  removed. A `stale` event says the replica lost touch with PipelineService; a new
  `snapshot` follows once it is back.
- `metrics`: one chart point per changed pipeline (its fps, counters and mean latencies,
  named as in `/api/v1/metrics/pipelines/{id}` samples), so charts grow without polling.
- `objects`: object events stored or changed since the last ones sent (newest first),
  when the app serves them; one reader per replica serves every stream.

The stream opens at once even before the replica holds the views (a browser's
EventSource does not retry a refused connection): comment lines say it is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.schema.event_views import EventFilter, StoredObjectEvent
from coral_serve.schema.views import PipelineView
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services
from coral_serve.web.snapshot import PipelineSnapshot, get_snapshot
from coral_serve.web.sse import MEDIA_TYPE, sse_event

__all__ = ["ObjectEventsFeed", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["pipelines"])

OBJECTS_INTERVAL = 2.0  # seconds between reads of the newest object events
_OBJECTS_PAGE = 20
_BACKLOG = 8  # batches kept for a client that reads slower than they come


@router.get(
    "/watch",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="Pipeline views, status changes, chart points and object events as Server-Sent "
    "Events (snapshot, changes, stale, metrics, objects)",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def watch(
    snapshot: Annotated[PipelineSnapshot, Depends(get_snapshot)],
    objects: Annotated[ObjectEventsFeed, Depends(get_object_events_feed)],
) -> StreamingResponse:
    return StreamingResponse(
        _merged(_views(snapshot), _objects(objects)),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store"},
    )


async def _merged(*sources: AsyncIterator[str]) -> AsyncIterator[str]:
    """Every source's events as each comes; all of them closed when the client goes."""
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=16)

    async def pump(source: AsyncIterator[str]) -> None:
        async for item in source:
            await queue.put(item)

    tasks = [asyncio.create_task(pump(source)) for source in sources]
    try:
        while True:
            yield await queue.get()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _views(snapshot: PipelineSnapshot) -> AsyncIterator[str]:
    sent: dict[str, PipelineView] | None = None
    async for views in snapshot.changes():
        if views is None:
            if sent is not None:
                yield sse_event("stale", {"detail": "pipeline views are not current"})
            else:
                yield ": waiting for the pipeline views\n\n"
        elif sent is None:
            yield sse_event("snapshot", {"pipelines": _dumped(views.values())})
        else:
            changed = [view for key, view in views.items() if sent.get(key) != view]
            removed = [key for key in sent if key not in views]
            if changed or removed:
                yield sse_event("changes", {"pipelines": _dumped(changed), "removed": removed})
                now = time.time()
                yield sse_event("metrics", {"points": [_point(view, now) for view in changed]})
            else:
                yield ": idle\n\n"  # keeps proxies from closing a quiet stream
        sent = views


class ObjectEventsFeed:
    """One reader of the newest object events per ingress replica, however many streams
    watch: it runs while at least one listens and hands each round's news to all."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._listeners: set[asyncio.Queue[list[StoredObjectEvent]]] = set()
        self._reader: asyncio.Task[None] | None = None

    async def follow(self) -> AsyncIterator[list[StoredObjectEvent]]:
        """The events stored or changed after this call, a batch per round."""
        queue: asyncio.Queue[list[StoredObjectEvent]] = asyncio.Queue(maxsize=_BACKLOG)
        self._listeners.add(queue)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="coral-watch-objects")
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.discard(queue)
            if not self._listeners and self._reader is not None:
                self._reader.cancel()
                self._reader = None

    async def _read(self) -> None:
        newest = time.time()
        while True:
            await asyncio.sleep(OBJECTS_INTERVAL)
            try:
                page = await self._services.events.call("list_events", EventFilter(), _OBJECTS_PAGE)
            except Exception as exc:  # not served, or EventService away: views still flow
                log.debug("object events not read for the watch streams: %r", exc)
                continue
            fresh = [event for event in page.events if event.updated > newest]
            if not fresh:
                continue
            newest = max(event.updated for event in fresh)
            for queue in list(self._listeners):
                if queue.full():  # a stalled client misses its oldest batch, not the others
                    queue.get_nowait()
                queue.put_nowait(fresh)


async def get_object_events_feed(request: Request) -> ObjectEventsFeed:
    feed: ObjectEventsFeed | None = getattr(request.app.state, "object_events_feed", None)
    if feed is None:
        feed = ObjectEventsFeed(request.app.state.services)
        request.app.state.object_events_feed = feed
    return feed


async def _objects(feed: ObjectEventsFeed) -> AsyncIterator[str]:
    async for fresh in feed.follow():
        yield sse_event("objects", {"events": _dumped(fresh)})


def _point(view: PipelineView, now: float) -> dict[str, Any]:
    status = view.status
    values = {
        "fps": status.fps,
        "frames_processed": status.counters.frames_processed,
        "frames_dropped": status.counters.frames_dropped,
        "e2e_latency_mean_seconds": status.latency.end_to_end.mean,
        "inference_mean_seconds": status.latency.inference.mean,
    }
    return {"pipeline_id": view.id, "time": now, "values": values}


def _dumped(views: Any) -> list[dict[str, Any]]:
    return [view.model_dump(mode="json") for view in views]
