"""Each API call described once (method, path, body, how to read the answer), under the
name, parameters and defaults the clients give it: `endpoints.Endpoints` turns each into a
method of both clients, which only send it."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import TypeAdapter

from coral_serve.client.errors import CoralAPIError
from coral_serve.schema.access import SignedUrl, SignRequest, WhoAmI
from coral_serve.schema.analytics import LineCrossings
from coral_serve.schema.changes import PipelineUpdate
from coral_serve.schema.checks import Readiness
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.schema.event_views import ObjectEventPage, StoredObjectEvent
from coral_serve.schema.metrics import PipelineMetrics, SinkStatus
from coral_serve.schema.plans import ApplyPlan, ApplyRequest, ReloadPlan
from coral_serve.schema.plugins import PluginView
from coral_serve.schema.records import PipelineEvent
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.streams import (
    IceConfig,
    ProbeRequest,
    ProbeResult,
    RecordingSegment,
    SdpAnswer,
    SdpOffer,
)
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


def _given(**params: Any) -> dict[str, Any]:
    """Query parameters without those left out (None)."""
    return {key: value for key, value in params.items() if value is not None}


def _media(path: str) -> Call[bytes]:
    return Call("GET", path, lambda response: response.content)


# -- pipelines ------------------------------------------------------------------------


def list_pipelines() -> Call[list[PipelineView]]:
    """Every pipeline with its status."""
    return Call("GET", PIPELINES, _as(list[PipelineView]))


def get_pipeline(pipeline_id: str) -> Call[PipelineView]:
    """The view; `view.revision` is the ETag to pass as `if_match`."""
    return Call("GET", _one(pipeline_id), _as(PipelineView))


def pipeline_status(pipeline_id: str) -> Call[PipelineStatus]:
    return Call("GET", _one(pipeline_id, "/status"), _as(PipelineStatus))


def create_pipeline(spec: PipelineSpec | dict[str, Any]) -> Call[PipelineView]:
    return Call("POST", PIPELINES, _as(PipelineView), body=_spec_body(spec))


def update_pipeline(
    pipeline_id: str, patch: dict[str, Any], if_match: int | None = None, dry_run: bool = False
) -> Call[PipelineUpdate]:
    """JSON merge patch; `if_match` (a revision) makes a stale write a 412."""
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
    pipeline_id: str,
    spec: PipelineSpec | dict[str, Any],
    if_match: int | None = None,
    dry_run: bool = False,
) -> Call[PipelineUpdate]:
    """The whole spec, by the same hot/cold rules as a patch."""
    return Call(
        "PUT",
        _one(pipeline_id),
        _as(PipelineUpdate),
        params={"dry_run": dry_run},
        body=_spec_body(spec),
        headers=_if_match(if_match),
    )


def apply_pipelines(
    specs: list[dict[str, Any]], prune: bool = False, dry_run: bool = False
) -> Call[ApplyPlan]:
    """Create or update by name (specs may name a template); see ApplyRequest."""
    body = ApplyRequest(pipelines=specs, prune=prune, dry_run=dry_run).model_dump(mode="json")
    return Call("POST", f"{PIPELINES}/apply", _as(ApplyPlan), body=body)


def pause_pipeline(pipeline_id: str) -> Call[PipelineView]:
    return Call("POST", _one(pipeline_id, "/pause"), _as(PipelineView))


def resume_pipeline(pipeline_id: str) -> Call[PipelineView]:
    return Call("POST", _one(pipeline_id, "/resume"), _as(PipelineView))


def restart_pipeline(pipeline_id: str) -> Call[PipelineView]:
    return Call("POST", _one(pipeline_id, "/restart"), _as(PipelineView))


def delete_pipeline(pipeline_id: str) -> Call[None]:
    """Idempotent: deleting a pipeline that is gone is no error."""
    return Call("DELETE", _one(pipeline_id), _nothing)


def read_results(
    pipeline_id: str, after: int = 0, max_items: int = 100, exclude: Sequence[str] = ()
) -> Call[list[dict[str, Any]]]:
    """Buffered result records with `seq` above `after`, oldest first; nothing is removed."""
    params = {"after": after, "max": max_items, "exclude": ",".join(exclude)}
    return Call("GET", _one(pipeline_id, "/results"), _as(list[dict[str, Any]]), params=params)


def consume_results(
    pipeline_id: str, max_items: int = 100, exclude: Sequence[str] = ()
) -> Call[list[dict[str, Any]]]:
    """Buffered records, removed for every reader (admin)."""
    params = {"max": max_items, "exclude": ",".join(exclude)}
    path = _one(pipeline_id, "/results/consume")
    return Call("POST", path, _as(list[dict[str, Any]]), params=params)


def pipeline_events(pipeline_id: str, limit: int = 200) -> Call[list[PipelineEvent]]:
    """The lifecycle log (created, started, failed, ...), oldest first."""
    path = _one(pipeline_id, "/events")
    return Call("GET", path, _as(list[PipelineEvent]), params={"limit": limit})


def results_stream(pipeline_id: str, after: int = 0, events: bool = True) -> Call[None]:
    """The live stream; sent with `stream` by the clients, read line by line."""
    params = {"after": after, "events": events}
    return Call("GET", _one(pipeline_id, "/results/stream"), _nothing, params=params)


def watch_stream() -> Call[None]:
    """Views, status changes, chart points and object events of every pipeline, live."""
    return Call("GET", "/api/v1/watch", _nothing)


def pipeline_schema() -> Call[dict[str, Any]]:
    """JSON schema of a spec; `x-apply` marks each field hot or cold."""
    return Call("GET", "/api/v1/schema/pipeline", _as(dict[str, Any]))


def reload_config() -> Call[ReloadPlan]:
    """Read the descriptor again: declared pipelines and templates are applied."""
    return Call("POST", "/api/v1/config/reload", _as(ReloadPlan))


# -- object events ----------------------------------------------------------------------


def object_events(
    pipeline_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Call[ObjectEventPage]:
    """Object events, newest first; `page.next_cursor` fetches older ones."""
    params = _given(pipeline_id=pipeline_id, limit=limit, cursor=cursor)
    return Call("GET", "/api/v1/events", _as(ObjectEventPage), params=params)


def object_event(event_id: str) -> Call[StoredObjectEvent]:
    return Call("GET", f"/api/v1/events/{event_id}", _as(StoredObjectEvent))


def delete_object_event(event_id: str) -> Call[None]:
    """The event with its snapshot and clip."""
    return Call("DELETE", f"/api/v1/events/{event_id}", _nothing)


def event_snapshot(event_id: str, crop: bool = False) -> Call[bytes]:
    """The best frame as JPEG with the object's box drawn, or (`crop`) the object alone."""
    path = f"/api/v1/events/{event_id}/snapshot.jpg"
    return Call("GET", path, lambda response: response.content, params={"crop": crop})


def event_clip(event_id: str) -> Call[bytes]:
    """The event's MP4 clip."""
    return _media(f"/api/v1/events/{event_id}/clip.mp4")


# -- video ------------------------------------------------------------------------------


def snapshot(pipeline_id: str) -> Call[bytes]:
    """The newest annotated frame as JPEG."""
    return _media(f"/api/v1/streams/{pipeline_id}/snapshot.jpg")


def ice_config() -> Call[IceConfig]:
    """ICE servers for a WebRTC peer connection (may include a TURN credential)."""
    return Call("GET", "/api/v1/streams/ice-config", _as(IceConfig))


def open_webrtc(pipeline_id: str, offer: SdpOffer) -> Call[SdpAnswer]:
    """The server's answer to a WebRTC offer (`offer.view="raw"`: the camera's own H.264,
    or a 409 saying why not); `answer.session_id` closes the session."""
    body = offer.model_dump(mode="json", exclude_unset=True)
    return Call("POST", f"/api/v1/streams/{pipeline_id}/webrtc", _as(SdpAnswer), body=body)


def close_webrtc(session_id: str) -> Call[None]:
    return Call("DELETE", f"/api/v1/streams/sessions/{session_id}", _nothing)


def mjpeg_stream(pipeline_id: str) -> Call[None]:
    """Live JPEG frames (multipart/x-mixed-replace); sent with `stream` by the clients."""
    return Call("GET", f"/api/v1/streams/{pipeline_id}/mjpeg", _nothing)


def recordings(
    pipeline_id: str | None = None, start: float | None = None, end: float | None = None
) -> Call[list[RecordingSegment]]:
    """Finished segments, oldest first, optionally of one pipeline and time window."""
    params = _given(pipeline_id=pipeline_id, start=start, end=end)
    return Call("GET", "/api/v1/recordings", _as(list[RecordingSegment]), params=params)


def recording(pipeline_id: str, segment: str) -> Call[bytes]:
    """A recorded MP4 segment (names from `recordings()`)."""
    return _media(f"/api/v1/recordings/{pipeline_id}/{segment}")


def delete_recording(pipeline_id: str, segment: str) -> Call[None]:
    return Call("DELETE", f"/api/v1/recordings/{pipeline_id}/{segment}", _nothing)


def probe_source(request: ProbeRequest) -> Call[ProbeResult]:
    """Open a source once: size, fps, codec and a thumbnail."""
    body = request.model_dump(mode="json", exclude_unset=True)
    return Call("POST", "/api/v1/sources/probe", _as(ProbeResult), body=body)


# -- monitoring -------------------------------------------------------------------------


def pipeline_metrics(pipeline_id: str, window: float = 300.0) -> Call[PipelineMetrics]:
    """Recent samples of fps, counters and latencies, oldest first."""
    path = f"/api/v1/metrics/pipelines/{pipeline_id}"
    return Call("GET", path, _as(PipelineMetrics), params={"window": window})


def line_crossings(pipeline_id: str) -> Call[list[LineCrossings]]:
    """Total crossings of each of the pipeline's lines, by direction and label."""
    path = f"/api/v1/metrics/pipelines/{pipeline_id}/lines"
    return Call("GET", path, _as(list[LineCrossings]))


def prometheus_metrics() -> Call[str]:
    """The Prometheus exposition (`/metrics`), as text."""
    return Call("GET", "/metrics", lambda response: response.text)


def sinks() -> Call[list[SinkStatus]]:
    """Each metric sink's state (up, written, last error)."""
    return Call("GET", "/api/v1/monitor/sinks", _as(list[SinkStatus]))


def disk() -> Call[DiskReport]:
    """Recordings usage, quota, oldest/newest, per node."""
    return Call("GET", "/api/v1/monitor/disk", _as(DiskReport))


def cleanup(dry_run: bool = False) -> Call[CleanupReport]:
    """Enforce the recordings quota now (`dry_run`: only say what would go)."""
    body = {"dry_run": dry_run}
    return Call("POST", "/api/v1/monitor/cleanup", _as(CleanupReport), body=body)


def liveness() -> Call[dict[str, str]]:
    """`/healthz`: the ingress answers."""
    return Call("GET", "/healthz", _as(dict[str, str]))


def readiness() -> Call[Readiness]:
    """`/readyz` with each check (an unready server answers 503 with the same body)."""
    return Call("GET", "/readyz", _as(Readiness), answers=frozenset({503}))


# -- the server -------------------------------------------------------------------------


def whoami() -> Call[WhoAmI]:
    """The caller's token label and role."""
    return Call("GET", "/api/v1/auth/whoami", _as(WhoAmI))


def signed_url(path: str) -> Call[SignedUrl]:
    """A media path signed for the caller's own role (for `<video src>`, no header needed)."""
    body = SignRequest(path=path).model_dump(mode="json")
    return Call("POST", "/api/v1/auth/signed-url", _as(SignedUrl), body=body)


def effective_config() -> Call[dict[str, Any]]:
    """The effective descriptor, secrets masked."""
    return Call("GET", "/api/v1/config", _as(dict[str, Any]))


def plugins() -> Call[list[PluginView]]:
    """Discovered plugins: what loaded, and why the rest did not."""
    return Call("GET", "/api/v1/plugins", _as(list[PluginView]))


def registry() -> Call[dict[str, Any]]:
    """Model backends (plugins included) and decoders a pipeline may name."""
    return Call("GET", "/api/v1/registry", _as(dict[str, Any]))
