"""`/api/v1/pipelines`: create, list, inspect, control and delete pipelines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from coral_serve.config.http import Role
from coral_serve.schema.records import PIPELINE_ID_PATTERN, PipelineEvent
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineStatus, PipelineView
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["PipelineId", "router"]

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"])

PipelineId = Annotated[str, Path(pattern=PIPELINE_ID_PATTERN, description="Pipeline id.")]
ServicesDep = Annotated[Services, Depends(get_services)]
MaxResults = Annotated[int, Query(ge=1, le=10_000, description="Most results returned.")]
ExcludeFields = Annotated[
    str, Query(max_length=256, description="Comma-separated fields to leave out.")
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such pipeline"},
    422: {"description": "Invalid request"},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PipelineView,
    responses={409: {"description": "Name taken"}, 422: {"description": "Invalid spec"}},
    summary="Create a pipeline (stored before it starts)",
    dependencies=[Depends(require_role(Role.admin))],
)
async def create_pipeline(
    spec: PipelineSpec, response: Response, services: ServicesDep
) -> PipelineView:
    view: PipelineView = await services.pipelines.call("create", spec)
    response.headers["Location"] = f"{router.prefix}/{view.id}"
    return view


@router.get(
    "",
    response_model=list[PipelineView],
    summary="Every pipeline with its status",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def list_pipelines(services: ServicesDep) -> list[PipelineView]:
    return await services.pipelines.call("list")


@router.get(
    "/{pipeline_id}",
    response_model=PipelineView,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.viewer))],
)
async def get_pipeline(pipeline_id: PipelineId, services: ServicesDep) -> PipelineView:
    return await services.pipelines.call("get", pipeline_id)


@router.get(
    "/{pipeline_id}/status",
    response_model=PipelineStatus,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.viewer))],
)
async def pipeline_status(pipeline_id: PipelineId, services: ServicesDep) -> PipelineStatus:
    view: PipelineView = await services.pipelines.call("get", pipeline_id)
    return view.status


@router.post(
    "/{pipeline_id}/pause",
    response_model=PipelineView,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.admin))],
)
async def pause_pipeline(pipeline_id: PipelineId, services: ServicesDep) -> PipelineView:
    return await services.pipelines.call("pause", pipeline_id)


@router.post(
    "/{pipeline_id}/resume",
    response_model=PipelineView,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.admin))],
)
async def resume_pipeline(pipeline_id: PipelineId, services: ServicesDep) -> PipelineView:
    return await services.pipelines.call("resume", pipeline_id)


@router.post(
    "/{pipeline_id}/restart",
    response_model=PipelineView,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.admin))],
)
async def restart_pipeline(pipeline_id: PipelineId, services: ServicesDep) -> PipelineView:
    return await services.pipelines.call("restart", pipeline_id)


@router.delete(
    "/{pipeline_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "Declared in the configuration"}, 422: _ERRORS[422]},
    summary="Delete a pipeline (idempotent)",
    dependencies=[Depends(require_role(Role.admin))],
)
async def delete_pipeline(pipeline_id: PipelineId, services: ServicesDep) -> Response:
    await services.pipelines.call("delete", pipeline_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _fields(exclude: str) -> list[str]:
    return [field.strip() for field in exclude.split(",") if field.strip()]


@router.get(
    "/{pipeline_id}/results",
    response_model=list[dict[str, Any]],
    responses=_ERRORS,
    summary="Read buffered results newer than `after` (nothing is removed)",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def read_results(
    pipeline_id: PipelineId,
    services: ServicesDep,
    after: Annotated[
        int,
        Query(
            ge=0,
            description="Return records whose `seq` is above this; pass the last `seq` seen.",
        ),
    ] = 0,
    max: MaxResults = 100,
    exclude: ExcludeFields = "",
) -> list[dict[str, Any]]:
    return await services.pipelines.call("read_results", pipeline_id, after, max, _fields(exclude))


@router.post(
    "/{pipeline_id}/results/consume",
    response_model=list[dict[str, Any]],
    responses=_ERRORS,
    summary="Consume buffered results: returned ones are removed for every reader (admin)",
    dependencies=[Depends(require_role(Role.admin))],
)
async def consume_results(
    pipeline_id: PipelineId,
    services: ServicesDep,
    max: MaxResults = 100,
    exclude: ExcludeFields = "",
) -> list[dict[str, Any]]:
    return await services.pipelines.call("results", pipeline_id, max, _fields(exclude))


@router.get(
    "/{pipeline_id}/events",
    response_model=list[PipelineEvent],
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.viewer))],
)
async def pipeline_events(
    pipeline_id: PipelineId,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most recent events.")] = 200,
) -> list[PipelineEvent]:
    return await services.pipelines.call("events", pipeline_id, limit)
