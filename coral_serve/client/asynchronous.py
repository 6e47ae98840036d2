"""`AsyncCoralClient`: the asyncio client, method for method the same as `CoralClient`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from coral_serve.client import calls
from coral_serve.client.calls import Call, connection, finish
from coral_serve.client.stream import Message, SseParser
from coral_serve.schema.changes import PipelineUpdate
from coral_serve.schema.checks import Readiness
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.schema.event_views import ObjectEventPage, StoredObjectEvent
from coral_serve.schema.plans import ApplyPlan, ApplyRequest, ReloadPlan
from coral_serve.schema.records import PipelineEvent
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.streams import ProbeRequest, ProbeResult, RecordingSegment
from coral_serve.schema.views import PipelineStatus, PipelineView

__all__ = ["AsyncCoralClient"]

T = TypeVar("T")


class AsyncCoralClient:
    """Every method returns the server's model or raises `CoralAPIError`.

    `url` and `token` default to CORAL_URL and CORAL_TOKEN; `transport` is httpx's (tests,
    proxies, mounted apps).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(**connection(url, token, timeout), transport=transport)

    async def __aenter__(self) -> AsyncCoralClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        response = await self._http.request(call.method, call.path, **call.request_args())
        return finish(call, response)

    # -- pipelines ------------------------------------------------------------------------

    async def pipelines(self) -> list[PipelineView]:
        return await self.send(calls.list_pipelines())

    async def pipeline(self, pipeline_id: str) -> PipelineView:
        """The view; `view.revision` is the ETag to pass as `if_match`."""
        return await self.send(calls.get_pipeline(pipeline_id))

    async def status(self, pipeline_id: str) -> PipelineStatus:
        return await self.send(calls.pipeline_status(pipeline_id))

    async def create(self, spec: PipelineSpec | dict[str, Any]) -> PipelineView:
        return await self.send(calls.create_pipeline(spec))

    async def update(
        self,
        pipeline_id: str,
        patch: dict[str, Any],
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        """JSON merge patch; `if_match` (a revision) makes a stale write a 412."""
        return await self.send(calls.update_pipeline(pipeline_id, patch, if_match, dry_run))

    async def replace(
        self,
        pipeline_id: str,
        spec: PipelineSpec | dict[str, Any],
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        return await self.send(calls.replace_pipeline(pipeline_id, spec, if_match, dry_run))

    async def apply(
        self, specs: list[dict[str, Any]], prune: bool = False, dry_run: bool = False
    ) -> ApplyPlan:
        """Create or update by name (specs may name a template); see ApplyRequest."""
        request = ApplyRequest(pipelines=specs, prune=prune, dry_run=dry_run)
        return await self.send(calls.apply_pipelines(request))

    async def pause(self, pipeline_id: str) -> PipelineView:
        return await self.send(calls.control(pipeline_id, "pause"))

    async def resume(self, pipeline_id: str) -> PipelineView:
        return await self.send(calls.control(pipeline_id, "resume"))

    async def restart(self, pipeline_id: str) -> PipelineView:
        return await self.send(calls.control(pipeline_id, "restart"))

    async def delete(self, pipeline_id: str) -> None:
        await self.send(calls.delete_pipeline(pipeline_id))

    async def results(
        self, pipeline_id: str, after: int = 0, max_items: int = 100, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        return await self.send(calls.read_results(pipeline_id, after, max_items, exclude))

    async def consume_results(
        self, pipeline_id: str, max_items: int = 100, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        return await self.send(calls.consume_results(pipeline_id, max_items, exclude))

    async def events(self, pipeline_id: str, limit: int = 200) -> list[PipelineEvent]:
        return await self.send(calls.pipeline_events(pipeline_id, limit))

    async def follow_results(
        self, pipeline_id: str, after: int = 0, interval: float = 0.5
    ) -> AsyncIterator[dict[str, Any]]:
        """Result records as they come, from `seq` `after` on; never ends by itself."""
        while True:
            batch = await self.results(pipeline_id, after, max_items=1000)
            for record in batch:
                yield record
            after = batch[-1]["seq"] if batch else after
            if not batch:
                await asyncio.sleep(interval)

    async def follow_events(
        self, pipeline_id: str, after: int = 0, interval: float = 1.0
    ) -> AsyncIterator[PipelineEvent]:
        """Lifecycle events newer than `seq` `after`, as they are logged."""
        while True:
            fresh = [event for event in await self.events(pipeline_id) if event.seq > after]
            for event in fresh:
                yield event
            after = fresh[-1].seq if fresh else after
            await asyncio.sleep(interval)

    async def object_events(
        self, pipeline_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ObjectEventPage:
        """Object events, newest first; `page.next_cursor` fetches older ones."""
        return await self.send(calls.object_events(pipeline_id, limit, cursor))

    async def stream(
        self, pipeline_id: str, after: int = 0, events: bool = True
    ) -> AsyncIterator[Message]:
        """The pipeline's result records (and object events) as the server sends them,
        from `seq` `after` on; ends when the pipeline is deleted."""
        call = calls.results_stream(pipeline_id, after, events)
        args = call.request_args()
        async with self._http.stream(call.method, call.path, timeout=None, **args) as response:
            if response.is_error:
                await response.aread()
                finish(call, response)
            parser = SseParser()
            async for line in response.aiter_lines():
                message = parser.feed(line)
                if message is not None:
                    yield message
                    if message.event == "end":
                        return

    async def object_event(self, event_id: str) -> StoredObjectEvent:
        return await self.send(calls.object_event(event_id))

    async def delete_object_event(self, event_id: str) -> None:
        await self.send(calls.delete_object_event(event_id))

    async def snapshot(self, pipeline_id: str) -> bytes:
        """The newest annotated frame as JPEG."""
        return await self.send(calls.media(f"/api/v1/streams/{pipeline_id}/snapshot.jpg"))

    async def recording(self, pipeline_id: str, segment: str) -> bytes:
        """A recorded MP4 segment (names from `recordings()`)."""
        return await self.send(calls.media(f"/api/v1/recordings/{pipeline_id}/{segment}"))

    async def delete_recording(self, pipeline_id: str, segment: str) -> None:
        await self.send(calls.delete_recording(pipeline_id, segment))

    async def disk(self) -> DiskReport:
        return await self.send(calls.disk())

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota now (`dry_run`: only say what would go)."""
        return await self.send(calls.cleanup(dry_run))

    # -- the rest -------------------------------------------------------------------------

    async def pipeline_schema(self) -> dict[str, Any]:
        return await self.send(calls.pipeline_schema())

    async def reload(self) -> ReloadPlan:
        return await self.send(calls.reload_config())

    async def readiness(self) -> Readiness:
        return await self.send(calls.readiness())

    async def recordings(
        self, pipeline_id: str | None = None, start: float | None = None, end: float | None = None
    ) -> list[RecordingSegment]:
        return await self.send(calls.recordings(pipeline_id, start, end))

    async def probe(self, request: ProbeRequest) -> ProbeResult:
        return await self.send(calls.probe_source(request))
