"""Each API call described once (method, path, body, how to read the answer); the sync and
async clients only send them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import TypeAdapter

from coral_serve.client.errors import CoralAPIError
from coral_serve.schema.changes import PipelineUpdate
from coral_serve.schema.checks import Readiness
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.schema.event_views import ObjectEventPage, StoredObjectEvent
from coral_serve.schema.plans import ApplyPlan, ApplyRequest, ReloadPlan
from coral_serve.schema.records import PipelineEvent
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.streams import ProbeRequest, ProbeResult, RecordingSegment
from coral_serve.schema.views import PipelineStatus, PipelineView
from coral_serve.version import __version__

__all__ = ["DEFAULT_URL", "Call", "connection", "finish"]

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:9001"
PIPELINES = "/api/v1/pipelines"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Error statuses whose body is still the answer (an unready /readyz lists its checks).
    answers: frozenset[int] = frozenset()

    def request_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"params": self.params, "headers": self.headers}
        if self.body is not None:
            args["json"] = self.body
        return args


def connection(url: str | None, token: str | None, timeout: float) -> dict[str, Any]:
    """httpx client arguments: the URL and token from the arguments or CORAL_URL and
    CORAL_TOKEN (an argument wins)."""
    token = token if token is not None else os.environ.get("CORAL_TOKEN") or None
    headers = {"User-Agent": f"coral-serve-client/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = url or os.environ.get("CORAL_URL") or DEFAULT_URL
    return {"base_url": base.rstrip("/"), "headers": headers, "timeout": timeout}


def finish(call: Call[T], response: httpx.Response) -> T:
    """The answer as the call's type, or CoralAPIError with the server's reason."""
    if response.is_error and response.status_code not in call.answers:
        raise CoralAPIError.of(response)
    return call.read(response)


def _as(kind: Any) -> Callable[[httpx.Response], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return lambda response: adapter.validate_python(response.json())


def _nothing(_: httpx.Response) -> None:
    return None


def _spec_body(spec: PipelineSpec | dict[str, Any]) -> dict[str, Any]:
    """Validated here first (the same model the server uses); only what was set is sent,
    so the server's own defaults (pipelines.default_restart_policy, ...) apply."""
    model = spec if isinstance(spec, PipelineSpec) else PipelineSpec.model_validate(spec)
    return model.model_dump(mode="json", exclude_unset=True)


def _if_match(revision: int | None) -> dict[str, str]:
    return {} if revision is None else {"If-Match": f'"{revision}"'}


def _one(pipeline_id: str, suffix: str = "") -> str:
    return f"{PIPELINES}/{pipeline_id}{suffix}"


def list_pipelines() -> Call[list[PipelineView]]:
    return Call("GET", PIPELINES, _as(list[PipelineView]))


def get_pipeline(pipeline_id: str) -> Call[PipelineView]:
    return Call("GET", _one(pipeline_id), _as(PipelineView))


def pipeline_status(pipeline_id: str) -> Call[PipelineStatus]:
    return Call("GET", _one(pipeline_id, "/status"), _as(PipelineStatus))


def create_pipeline(spec: PipelineSpec | dict[str, Any]) -> Call[PipelineView]:
    return Call("POST", PIPELINES, _as(PipelineView), body=_spec_body(spec))


def update_pipeline(
    pipeline_id: str, patch: dict[str, Any], if_match: int | None, dry_run: bool
) -> Call[PipelineUpdate]:
    headers = {"Content-Type": MERGE_PATCH, **_if_match(if_match)}
    return Call(
        "PATCH",
        _one(pipeline_id),
        _as(PipelineUpdate),
        params={"dry_run": dry_run},
        body=patch,
        headers=headers,
    )


def replace_pipeline(
    pipeline_id: str, spec: PipelineSpec | dict[str, Any], if_match: int | None, dry_run: bool
) -> Call[PipelineUpdate]:
    return Call(
        "PUT",
        _one(pipeline_id),
        _as(PipelineUpdate),
        params={"dry_run": dry_run},
        body=_spec_body(spec),
        headers=_if_match(if_match),
    )


def apply_pipelines(request: ApplyRequest) -> Call[ApplyPlan]:
    body = request.model_dump(mode="json")
    return Call("POST", f"{PIPELINES}/apply", _as(ApplyPlan), body=body)


def control(pipeline_id: str, action: str) -> Call[PipelineView]:
    """pause, resume or restart."""
    return Call("POST", _one(pipeline_id, f"/{action}"), _as(PipelineView))


def delete_pipeline(pipeline_id: str) -> Call[None]:
    return Call("DELETE", _one(pipeline_id), _nothing)


def read_results(
    pipeline_id: str, after: int, max_items: int, exclude: Sequence[str]
) -> Call[list[dict[str, Any]]]:
    params = {"after": after, "max": max_items, "exclude": ",".join(exclude)}
    return Call("GET", _one(pipeline_id, "/results"), _as(list[dict[str, Any]]), params=params)


def consume_results(
    pipeline_id: str, max_items: int, exclude: Sequence[str]
) -> Call[list[dict[str, Any]]]:
    params = {"max": max_items, "exclude": ",".join(exclude)}
    path = _one(pipeline_id, "/results/consume")
    return Call("POST", path, _as(list[dict[str, Any]]), params=params)


def pipeline_events(pipeline_id: str, limit: int) -> Call[list[PipelineEvent]]:
    path = _one(pipeline_id, "/events")
    return Call("GET", path, _as(list[PipelineEvent]), params={"limit": limit})


def object_events(pipeline_id: str | None, limit: int, cursor: str | None) -> Call[ObjectEventPage]:
    params = {
        key: value
        for key, value in {"pipeline_id": pipeline_id, "limit": limit, "cursor": cursor}.items()
        if value is not None
    }
    return Call("GET", "/api/v1/events", _as(ObjectEventPage), params=params)


def results_stream(pipeline_id: str, after: int, events: bool) -> Call[None]:
    """The live stream; sent with `stream` by the clients, read line by line."""
    params = {"after": after, "events": events}
    return Call("GET", _one(pipeline_id, "/results/stream"), _nothing, params=params)


def object_event(event_id: str) -> Call[StoredObjectEvent]:
    return Call("GET", f"/api/v1/events/{event_id}", _as(StoredObjectEvent))


def delete_object_event(event_id: str) -> Call[None]:
    return Call("DELETE", f"/api/v1/events/{event_id}", _nothing)


def media(path: str) -> Call[bytes]:
    """A JPEG snapshot, a recorded segment or an event's clip or snapshot, as bytes."""
    return Call("GET", path, lambda response: response.content)


def delete_recording(pipeline_id: str, segment: str) -> Call[None]:
    return Call("DELETE", f"/api/v1/recordings/{pipeline_id}/{segment}", _nothing)


def disk() -> Call[DiskReport]:
    return Call("GET", "/api/v1/monitor/disk", _as(DiskReport))


def cleanup(dry_run: bool) -> Call[CleanupReport]:
    body = {"dry_run": dry_run}
    return Call("POST", "/api/v1/monitor/cleanup", _as(CleanupReport), body=body)


def pipeline_schema() -> Call[dict[str, Any]]:
    return Call("GET", "/api/v1/schema/pipeline", _as(dict[str, Any]))


def reload_config() -> Call[ReloadPlan]:
    return Call("POST", "/api/v1/config/reload", _as(ReloadPlan))


def readiness() -> Call[Readiness]:
    return Call("GET", "/readyz", _as(Readiness), answers=frozenset({503}))


def recordings(
    pipeline_id: str | None, start: float | None, end: float | None
) -> Call[list[RecordingSegment]]:
    params = {
        key: value
        for key, value in {"pipeline_id": pipeline_id, "start": start, "end": end}.items()
        if value is not None
    }
    return Call("GET", "/api/v1/recordings", _as(list[RecordingSegment]), params=params)


def probe_source(request: ProbeRequest) -> Call[ProbeResult]:
    body = request.model_dump(mode="json", exclude_unset=True)
    return Call("POST", "/api/v1/sources/probe", _as(ProbeResult), body=body)
