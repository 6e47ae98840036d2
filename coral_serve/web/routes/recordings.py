"""`/api/v1/recordings`: list, play (HTTP Range) and delete recorded segments.

Path parameters are passed through unvalidated on purpose: StreamService's recording store
is the one place that decides what names a file, so traversal attempts get its 400/404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.schema.streams import RecordingFile, RecordingSegment
from coral_serve.web.media import file_response
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])

ServicesDep = Annotated[Services, Depends(get_services)]
_MP4 = "video/mp4"
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a pipeline id and segment name"},
    404: {"description": "No such recording"},
}


@router.get(
    "",
    response_model=list[RecordingSegment],
    responses={400: _ERRORS[400]},
    summary="Finished segments, oldest first, optionally of one pipeline and time window",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def list_recordings(
    services: ServicesDep,
    pipeline_id: Annotated[
        str | None, Query(max_length=256, description="Only this pipeline's segments.")
    ] = None,
    start: Annotated[
        float | None, Query(description="Segments ending at or after (epoch seconds).")
    ] = None,
    end: Annotated[
        float | None, Query(description="Segments starting at or before (epoch seconds).")
    ] = None,
) -> list[RecordingSegment]:
    return await services.streams.call("recordings", pipeline_id, start, end)


@router.get(
    "/{pipeline_id}/{segment}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {_MP4: {}}},
        206: {"description": "The requested byte range", "content": {_MP4: {}}},
        304: {"description": "Unchanged (If-None-Match)"},
        416: {"description": "Range past the end of the file"},
        **_ERRORS,
    },
    summary="Play a segment (H.264 MP4); supports Range, ETag and If-None-Match",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def get_recording(
    pipeline_id: str, segment: str, request: Request, services: ServicesDep
) -> Response:
    file: RecordingFile = await services.streams.call("recording_file", pipeline_id, segment)

    async def read(offset: int, length: int) -> bytes:
        return await services.streams.call("read_recording", pipeline_id, segment, offset, length)

    return file_response(request, file, read, _MP4)


@router.delete(
    "/{pipeline_id}/{segment}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
    summary="Delete one segment",
    dependencies=[Depends(require_role(Role.admin))],
)
async def delete_recording(pipeline_id: str, segment: str, services: ServicesDep) -> Response:
    await services.streams.call("delete_recording", pipeline_id, segment)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
