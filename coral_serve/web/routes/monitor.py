"""`/api/v1/monitor`: recordings disk usage and cleanup, and the state of each metric sink."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from coral_serve.config.http import Role
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.schema.metrics import SinkStatus
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["CleanupRequest", "router"]

router = APIRouter(prefix="/api/v1/monitor", tags=["monitor"])
ServicesDep = Annotated[Services, Depends(get_services)]


class CleanupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(
        default=False, description="Only report what the quota would delete; delete nothing."
    )


@router.get(
    "/disk",
    response_model=DiskReport,
    summary="Recordings usage, quota, oldest/newest",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def disk(services: ServicesDep) -> DiskReport:
    return await services.monitor.call("disk_report")


@router.post(
    "/cleanup",
    response_model=CleanupReport,
    responses={422: {"description": "Invalid request"}},
    summary="Enforce the recordings quota now (segments being written are never deleted)",
    dependencies=[Depends(require_role(Role.admin))],
)
async def cleanup(request: CleanupRequest, services: ServicesDep) -> CleanupReport:
    return await services.monitor.call("cleanup", request.dry_run)


@router.get(
    "/sinks",
    response_model=list[SinkStatus],
    summary="Each metric sink's state",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def sinks(services: ServicesDep) -> list[SinkStatus]:
    return await services.monitor.call("sinks")
