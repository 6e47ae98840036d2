"""`CoralClient`: the blocking client (scripts, the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
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

__all__ = ["CoralClient"]

T = TypeVar("T")


class CoralClient:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(**connection(url, token, timeout), transport=transport)

    def __enter__(self) -> CoralClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        return finish(call, self._http.request(call.method, call.path, **call.request_args()))

    # -- pipelines ------------------------------------------------------------------------

    def pipelines(self) -> list[PipelineView]:
        return self.send(calls.list_pipelines())

    def pipeline(self, pipeline_id: str) -> PipelineView:
        """The view; `view.revision` is the ETag to pass as `if_match`."""
        return self.send(calls.get_pipeline(pipeline_id))

    def status(self, pipeline_id: str) -> PipelineStatus:
        return self.send(calls.pipeline_status(pipeline_id))

    def create(self, spec: PipelineSpec | dict[str, Any]) -> PipelineView:
        return self.send(calls.create_pipeline(spec))

    def update(
        self,
        pipeline_id: str,
        patch: dict[str, Any],
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        """JSON merge patch; `if_match` (a revision) makes a stale write a 412."""
        return self.send(calls.update_pipeline(pipeline_id, patch, if_match, dry_run))

    def replace(
        self,
        pipeline_id: str,
        spec: PipelineSpec | dict[str, Any],
        if_match: int | None = None,
        dry_run: bool = False,
    ) -> PipelineUpdate:
        return self.send(calls.replace_pipeline(pipeline_id, spec, if_match, dry_run))

    def apply(
        self, specs: list[dict[str, Any]], prune: bool = False, dry_run: bool = False
    ) -> ApplyPlan:
        """Create or update by name (specs may name a template); see ApplyRequest."""
        request = ApplyRequest(pipelines=specs, prune=prune, dry_run=dry_run)
        return self.send(calls.apply_pipelines(request))

    def pause(self, pipeline_id: str) -> PipelineView:
        return self.send(calls.control(pipeline_id, "pause"))

    def resume(self, pipeline_id: str) -> PipelineView:
        return self.send(calls.control(pipeline_id, "resume"))

    def restart(self, pipeline_id: str) -> PipelineView:
        return self.send(calls.control(pipeline_id, "restart"))

    def delete(self, pipeline_id: str) -> None:
        self.send(calls.delete_pipeline(pipeline_id))

    def results(
        self, pipeline_id: str, after: int = 0, max_items: int = 100, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        return self.send(calls.read_results(pipeline_id, after, max_items, exclude))

    def consume_results(
        self, pipeline_id: str, max_items: int = 100, exclude: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        return self.send(calls.consume_results(pipeline_id, max_items, exclude))

    def events(self, pipeline_id: str, limit: int = 200) -> list[PipelineEvent]:
        return self.send(calls.pipeline_events(pipeline_id, limit))

    def follow_results(
        self, pipeline_id: str, after: int = 0, interval: float = 0.5
    ) -> Iterator[dict[str, Any]]:
        """Result records as they come, from `seq` `after` on; never ends by itself."""
        while True:
            batch = self.results(pipeline_id, after, max_items=1000)
            yield from batch
            after = batch[-1]["seq"] if batch else after
            if not batch:
                time.sleep(interval)

    def follow_events(
        self, pipeline_id: str, after: int = 0, interval: float = 1.0
    ) -> Iterator[PipelineEvent]:
        """Lifecycle events newer than `seq` `after`, as they are logged."""
        while True:
            fresh = [event for event in self.events(pipeline_id) if event.seq > after]
            yield from fresh
            after = fresh[-1].seq if fresh else after
            time.sleep(interval)

    def object_events(
        self, pipeline_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ObjectEventPage:
        """Object events, newest first; `page.next_cursor` fetches older ones."""
        return self.send(calls.object_events(pipeline_id, limit, cursor))

    def stream(self, pipeline_id: str, after: int = 0, events: bool = True) -> Iterator[Message]:
        """The pipeline's result records (and object events) as the server sends them,
        from `seq` `after` on; ends when the pipeline is deleted."""
        call = calls.results_stream(pipeline_id, after, events)
        with self._http.stream(
            call.method, call.path, timeout=None, **call.request_args()
        ) as response:
            if response.is_error:
                response.read()
                finish(call, response)
            parser = SseParser()
            for line in response.iter_lines():
                message = parser.feed(line)
                if message is not None:
                    yield message
                    if message.event == "end":
                        return

    def object_event(self, event_id: str) -> StoredObjectEvent:
        return self.send(calls.object_event(event_id))

    def delete_object_event(self, event_id: str) -> None:
        self.send(calls.delete_object_event(event_id))

    def snapshot(self, pipeline_id: str) -> bytes:
        """The newest annotated frame as JPEG."""
        return self.send(calls.media(f"/api/v1/streams/{pipeline_id}/snapshot.jpg"))

    def recording(self, pipeline_id: str, segment: str) -> bytes:
        """A recorded MP4 segment (names from `recordings()`)."""
        return self.send(calls.media(f"/api/v1/recordings/{pipeline_id}/{segment}"))

    def delete_recording(self, pipeline_id: str, segment: str) -> None:
        self.send(calls.delete_recording(pipeline_id, segment))

    def disk(self) -> DiskReport:
        return self.send(calls.disk())

    def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the recordings quota now (`dry_run`: only say what would go)."""
        return self.send(calls.cleanup(dry_run))

    # -- the rest -------------------------------------------------------------------------

    def pipeline_schema(self) -> dict[str, Any]:
        return self.send(calls.pipeline_schema())

    def reload(self) -> ReloadPlan:
        return self.send(calls.reload_config())

    def readiness(self) -> Readiness:
        return self.send(calls.readiness())

    def recordings(
        self, pipeline_id: str | None = None, start: float | None = None, end: float | None = None
    ) -> list[RecordingSegment]:
        return self.send(calls.recordings(pipeline_id, start, end))

    def probe(self, request: ProbeRequest) -> ProbeResult:
        return self.send(calls.probe_source(request))
