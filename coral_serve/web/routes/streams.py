"""`/api/v1/streams`: WebRTC signalling, ICE config, MJPEG and snapshots of live pipelines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.schema.streams import IceConfig, SdpAnswer, SdpOffer
from coral_serve.streams.mjpeg import MEDIA_TYPE, mjpeg_parts
from coral_serve.web.roles import require_role
from coral_serve.web.routes.pipelines import PipelineId
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/streams", tags=["streams"])

ServicesDep = Annotated[Services, Depends(get_services)]
SessionId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-z]{1,32}-[0-9a-f]{32}$",
        description="Viewer session id: the tag of the replica holding it, '-', 32 hex digits.",
    ),
]
# Live frames must never be cached; the ICE config may carry a TURN credential.
_NO_STORE = {"Cache-Control": "no-store"}
# How long a new MJPEG stream waits for its first frame, and each later call for the next.
_FIRST_FRAME_WAIT = 10.0
_NEXT_FRAME_WAIT = 10.0
_LIVE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No running pipeline with this id"},
    503: {"description": "The pipeline has not published a frame yet"},
}


@router.get(
    "/ice-config",
    response_model=IceConfig,
    summary="ICE servers for the browser's RTCPeerConnection (may include a TURN credential)",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def ice_config(request: Request, response: Response) -> IceConfig:
    response.headers.update(_NO_STORE)
    return request.app.state.config.streams.webrtc.ice_config()


@router.post(
    "/{pipeline_id}/webrtc",
    status_code=status.HTTP_201_CREATED,
    response_model=SdpAnswer,
    responses={
        404: _LIVE_ERRORS[404],
        409: {
            "description": "The raw view cannot be had: the source is not H.264 (or has "
            "B-frames), cannot be reached from the stream service's node, or the offer does "
            "not accept H.264"
        },
        422: {"description": "Unusable SDP offer"},
        429: {"description": "Viewer limit reached"},
    },
    summary="Answer a WebRTC offer: video of the pipeline (annotated, or the camera's own "
    "H.264 passed through), results on the data channel",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def open_webrtc(
    pipeline_id: PipelineId, offer: SdpOffer, response: Response, services: ServicesDep
) -> SdpAnswer:
    answer: SdpAnswer = await services.streams.call("offer", pipeline_id, offer)
    response.headers["Location"] = f"{router.prefix}/sessions/{answer.session_id}"
    return answer


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such session"}},
    summary="Close a WebRTC viewer session",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def close_session(session_id: SessionId, services: ServicesDep) -> Response:
    await services.streams.call("close_session", session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{pipeline_id}/mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}, **_LIVE_ERRORS},
    summary="Live video as MJPEG (multipart/x-mixed-replace), for clients without WebRTC",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def mjpeg(
    pipeline_id: PipelineId,
    request: Request,
    services: ServicesDep,
    fps: Annotated[
        float | None,
        Query(gt=0, le=120, description="Frame rate cap; never above streams.mjpeg_max_fps."),
    ] = None,
) -> StreamingResponse:
    ceiling = request.app.state.config.streams.mjpeg_max_fps
    first = await services.streams.call("first_jpeg", pipeline_id, _FIRST_FRAME_WAIT)

    async def next_jpeg(after_seq: int) -> tuple[int, float, bytes] | None:
        return await services.streams.call("next_jpeg", pipeline_id, after_seq, _NEXT_FRAME_WAIT)

    parts = mjpeg_parts(first, next_jpeg, min(fps or ceiling, ceiling))
    return StreamingResponse(parts, media_type=MEDIA_TYPE, headers=_NO_STORE)


@router.get(
    "/{pipeline_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_LIVE_ERRORS},
    summary="The newest annotated frame as JPEG",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def snapshot(pipeline_id: PipelineId, services: ServicesDep) -> Response:
    jpeg: bytes = await services.streams.call("snapshot", pipeline_id)
    return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)
