"""`/api/v1/pipelines/{id}/results/stream`: result records and object events, live, as
Server-Sent Events.

Records are read with `read_results(after=seq)`, which leaves them for every other reader,
and each `result` event carries its `seq` as the SSE id: a client that reconnects with
`Last-Event-ID` (browsers do) resumes after it. `object_event` events are the pipeline's
object events as they are stored or change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.errors import CoralError
from coral_serve.web.roles import require_role
from coral_serve.web.routes.pipelines import PipelineId
from coral_serve.web.services import Services, get_services
from coral_serve.web.sse import MEDIA_TYPE, sse_event

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"])

_BATCH = 200
_IDLE_WAIT = 0.2  # seconds between reads while nothing is new
_HEARTBEAT = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
ServicesDep = Annotated[Services, Depends(get_services)]


@router.get(
    "/{pipeline_id}/results/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}, 404: {"description": "No such pipeline"}},
    summary="Result records (`result`, id = seq) and object events (`object_event`) live, as "
    "Server-Sent Events; nothing is consumed",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def stream_results(
    pipeline_id: PipelineId,
    services: ServicesDep,
    after: Annotated[
        int, Query(ge=0, description="Start after this `seq`; 0: what the buffer holds.")
    ] = 0,
    events: Annotated[bool, Query(description="Also send the pipeline's object events.")] = True,
    last_event_id: Annotated[
        int | None, Header(ge=0, description="Set by a reconnecting EventSource: resume after.")
    ] = None,
) -> Response:
    start = last_event_id if last_event_id is not None else after
    # Read once before answering, so an unknown pipeline is a 404, not an empty stream.
    first = await services.pipelines.call("read_results", pipeline_id, start, _BATCH, [])
    body = _stream(services, pipeline_id, start, first, time.time() if events else None)
    return StreamingResponse(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})


async def _stream(
    services: Services,
    pipeline_id: str,
    after: int,
    records: list[dict[str, Any]],
    since: float | None,
) -> AsyncIterator[str]:
    quiet_since = time.monotonic()
    while True:
        for record in records:
            after = int(record["seq"])
            yield sse_event("result", record, event_id=after)
        changed: list[Any] = []
        if since is not None:
            changed = await services.events.call("changed_events", pipeline_id, since)
            for event in changed:
                since = max(since, event.updated)
                yield sse_event("object_event", event.model_dump(mode="json"))
        if records or changed:
            quiet_since = time.monotonic()
        else:
            if time.monotonic() - quiet_since >= _HEARTBEAT:
                quiet_since = time.monotonic()
                yield ": idle\n\n"
            await asyncio.sleep(_IDLE_WAIT)
        try:
            records = await services.pipelines.call("read_results", pipeline_id, after, _BATCH, [])
        except CoralError as exc:  # deleted while streamed
            yield sse_event("end", {"detail": exc.detail})
            return
