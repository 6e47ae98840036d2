"""`/api/v1/pipelines`: create, list, inspect, control and delete pipelines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response, status

from coral_serve.config.http import Role
from coral_serve.errors import PreconditionFailedError
from coral_serve.schema.changes import PipelineUpdate
from coral_serve.schema.records import PIPELINE_ID_PATTERN, PipelineEvent
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineStatus, PipelineView
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services
from coral_serve.web.snapshot import PipelineSnapshot, get_snapshot

__all__ = ["PipelineId", "etag", "router"]

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"])

PipelineId = Annotated[str, Path(pattern=PIPELINE_ID_PATTERN, description="Pipeline id.")]
ServicesDep = Annotated[Services, Depends(get_services)]
SnapshotDep = Annotated[PipelineSnapshot, Depends(get_snapshot)]
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
async def list_pipelines(services: ServicesDep, snapshot: SnapshotDep) -> list[PipelineView]:
    views = await snapshot.views()
    return views if views is not None else await services.pipelines.call("list")


@router.get(
    "/{pipeline_id}",
    response_model=PipelineView,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.viewer))],
)
async def get_pipeline(
    pipeline_id: PipelineId, response: Response, services: ServicesDep, snapshot: SnapshotDep
) -> PipelineView:
    view = await _view(pipeline_id, services, snapshot)
    response.headers["ETag"] = etag(view.revision)
    return view


def etag(revision: int) -> str:
    """The ETag of a pipeline's spec: its revision, which every spec change bumps."""
    return f'"{revision}"'


def _revision(if_match: str | None) -> int | None:
    """The revision an If-Match header names; None for no header or `*` (any)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/")
    if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
        return int(tag[1:-1])
    raise PreconditionFailedError(
        f"If-Match {if_match[:40]!r} is not an ETag of this pipeline; send the ETag a GET "
        'returned, e.g. If-Match: "3"'
    )


IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description="ETag from GET: the write is refused (412) if the spec changed since.",
    ),
]
DryRun = Annotated[
    bool, Query(description="Say what would change (hot, cold or none); change nothing.")
]
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {"description": "Declared in the configuration: edit the descriptor and reload"},
    412: {"description": "If-Match is stale: the spec changed since that GET"},
}


def _answer(update: PipelineUpdate, response: Response) -> PipelineUpdate:
    response.headers["ETag"] = etag(update.pipeline.revision)
    return update


@router.patch(
    "/{pipeline_id}",
    response_model=PipelineUpdate,
    responses=_WRITE_ERRORS,
    summary="Change fields of a pipeline (JSON merge patch): hot fields apply in the running "
    "worker, cold ones restart it under the same id",
    dependencies=[Depends(require_role(Role.admin))],
)
async def patch_pipeline(
    pipeline_id: PipelineId,
    patch: Annotated[
        dict[str, Any],
        Body(
            media_type="application/merge-patch+json",
            description="RFC 7386 merge patch of the spec: null resets a field to its default.",
        ),
    ],
    response: Response,
    services: ServicesDep,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
) -> PipelineUpdate:
    revision = _revision(if_match)
    update = await services.pipelines.call("update", pipeline_id, patch, revision, dry_run)
    return _answer(update, response)


@router.put(
    "/{pipeline_id}",
    response_model=PipelineUpdate,
    responses=_WRITE_ERRORS,
    summary="Replace a pipeline's whole spec, by the same hot/cold rules as PATCH",
    dependencies=[Depends(require_role(Role.admin))],
)
async def put_pipeline(
    pipeline_id: PipelineId,
    spec: PipelineSpec,
    response: Response,
    services: ServicesDep,
    if_match: IfMatch = None,
    dry_run: DryRun = False,
) -> PipelineUpdate:
    revision = _revision(if_match)
    update = await services.pipelines.call("replace", pipeline_id, spec, revision, dry_run)
    return _answer(update, response)


@router.get(
    "/{pipeline_id}/status",
    response_model=PipelineStatus,
    responses=_ERRORS,
    dependencies=[Depends(require_role(Role.viewer))],
)
async def pipeline_status(
    pipeline_id: PipelineId, services: ServicesDep, snapshot: SnapshotDep
) -> PipelineStatus:
    return (await _view(pipeline_id, services, snapshot)).status


async def _view(pipeline_id: str, services: Services, snapshot: PipelineSnapshot) -> PipelineView:
    """From the snapshot; PipelineService answers what it does not hold (404s included)."""
    view = await snapshot.view(pipeline_id)
    return view if view is not None else await services.pipelines.call("get", pipeline_id)


def _control_route(action: str, summary: str) -> None:
    """`POST /{pipeline_id}/<action>`: one PipelineService call, the view it leaves."""

    async def control(pipeline_id: PipelineId, services: ServicesDep) -> PipelineView:
        return await services.pipelines.call(action, pipeline_id)

    router.add_api_route(
        f"/{{pipeline_id}}/{action}",
        control,
        methods=["POST"],
        name=f"{action}_pipeline",
        response_model=PipelineView,
        responses=_ERRORS,
        summary=summary,
        dependencies=[Depends(require_role(Role.admin))],
    )


_control_route("pause", "Pause a pipeline: its worker stops until resumed")
_control_route("resume", "Resume a paused pipeline")
_control_route("restart", "Restart a pipeline's worker (same id, spec and recordings)")


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
