"""`/api/v1/events`: object events (what tracked objects did), their snapshots and clips.

Not to be confused with a pipeline's lifecycle log, `/api/v1/pipelines/{id}/events`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.errors import NotFoundError
from coral_serve.schema.event_views import EventFilter, ObjectEventPage, StoredObjectEvent
from coral_serve.schema.records import PIPELINE_ID_PATTERN
from coral_serve.schema.streams import RecordingFile
from coral_serve.web.media import file_response
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/events", tags=["object events"])

ServicesDep = Annotated[Services, Depends(get_services)]
EventId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Object event id.")]
_JPEG = "image/jpeg"
_MP4 = "video/mp4"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such event"}}
_MEDIA: dict[int | str, dict[str, Any]] = {
    304: {"description": "Unchanged (If-None-Match)"},
    404: {"description": "No such event, or its medium is not kept; `detail` says why"},
}
_VIEWER = [Depends(require_role(Role.viewer))]


@router.get(
    "",
    response_model=ObjectEventPage,
    summary="Object events, newest first; pass `next_cursor` as `cursor` for older ones",
    dependencies=_VIEWER,
)
async def list_events(
    services: ServicesDep,
    pipeline_id: Annotated[
        str | None, Query(pattern=PIPELINE_ID_PATTERN, description="Only this pipeline's.")
    ] = None,
    label: Annotated[
        str | None, Query(min_length=1, max_length=128, description="Only this class.")
    ] = None,
    zone: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only events in this zone.")
    ] = None,
    after: Annotated[
        float | None, Query(description="Events starting at or after (epoch seconds).")
    ] = None,
    before: Annotated[
        float | None, Query(description="Events starting before (epoch seconds).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Most events in one page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> ObjectEventPage:
    where = EventFilter(pipeline_id, label, zone, after, before)
    return await services.events.call("list_events", where, limit, cursor)


@router.get(
    "/{event_id}",
    response_model=StoredObjectEvent,
    responses=_NOT_FOUND,
    summary="One object event (its latest revision)",
    dependencies=_VIEWER,
)
async def get_event(event_id: EventId, services: ServicesDep) -> StoredObjectEvent:
    return await services.events.call("get_event", event_id)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
    summary="Delete an object event with its snapshot and clip",
    dependencies=[Depends(require_role(Role.admin))],
)
async def delete_event(event_id: EventId, services: ServicesDep) -> Response:
    await services.events.call("delete_event", event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{event_id}/snapshot.jpg",
    response_class=StreamingResponse,
    responses={200: {"content": {_JPEG: {}}}, **_MEDIA},
    summary="The best frame with the object's box drawn, or (`crop=true`) the object alone",
    dependencies=_VIEWER,
)
async def get_snapshot(
    event_id: EventId,
    request: Request,
    services: ServicesDep,
    crop: Annotated[bool, Query(description="Only the object's box.")] = False,
) -> Response:
    return await _media(request, services, event_id, "crop" if crop else "snapshot", _JPEG)


@router.get(
    "/{event_id}/clip.mp4",
    response_class=StreamingResponse,
    responses={
        200: {"content": {_MP4: {}}},
        206: {"description": "The requested byte range", "content": {_MP4: {}}},
        416: {"description": "Range past the end of the file"},
        **_MEDIA,
    },
    summary="The event's clip (H.264 MP4, pre_capture before to post_capture after); "
    "supports Range, ETag and signed URLs",
    dependencies=_VIEWER,
)
async def get_clip(event_id: EventId, request: Request, services: ServicesDep) -> Response:
    return await _media(request, services, event_id, "clip", _MP4)


async def _media(
    request: Request, services: Services, event_id: str, kind: str, media_type: str
) -> Response:
    """EventService says whether the event kept this medium; StreamService finds the file
    on the node whose worker wrote it (media stay on that node's disk)."""
    root, pipeline_id, name = await services.events.call("media_name", event_id, kind)
    try:
        file: RecordingFile = await services.streams.call("media_file", root, pipeline_id, name)
    except NotFoundError:
        raise NotFoundError(
            f"the {kind} of object event {event_id} is gone from disk (removed by hand, or "
            "its node is unreachable)"
        ) from None

    async def read(offset: int, length: int) -> bytes:
        return await services.streams.call("read_media", root, pipeline_id, name, offset, length)

    return file_response(request, file, read, media_type)
