"""`/api/v1/sources`: look at a source before making a pipeline of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from coral_serve.config.http import Role
from coral_serve.schema.streams import ProbeRequest, ProbeResult
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])

ServicesDep = Annotated[Services, Depends(get_services)]


@router.post(
    "/probe",
    response_model=ProbeResult,
    responses={
        422: {"description": "Not allowed, unreachable or not video"},
        504: {"description": "No answer within streams.capture_timeout"},
    },
    summary="Open a source once: size, fps, codec and a thumbnail",
    dependencies=[Depends(require_role(Role.admin))],
)
async def probe_source(body: ProbeRequest, services: ServicesDep) -> ProbeResult:
    return await services.streams.call("probe", body.uri)
