"""`/healthz` (liveness, no fan-out) and `/readyz` (real checks through HealthService)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from coral_serve.schema.checks import CheckResult, Readiness
from coral_serve.web.roles import public
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(tags=["health"])

# Longer than any single check's deadline, so HealthService reports which check hung.
_READINESS_TIMEOUT = 35.0
# What an anonymous caller does not see: paths, addresses and errors inside each check.
_DETAILS = {"checks": {"__all__": {"detail", "seconds"}}}


@router.get(
    "/healthz", summary="Liveness: the ingress process answers", dependencies=[Depends(public())]
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: store, deployments and configured probes",
    description="Without a token (when authentication is on) only the verdict and each "
    "check's name and result; details such as paths and sink errors need a token.",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    dependencies=[Depends(public())],
)
async def readyz(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> JSONResponse:
    try:
        readiness: Readiness = await asyncio.wait_for(
            services.health.call("readiness"), timeout=_READINESS_TIMEOUT
        )
    except Exception as exc:  # the health service itself is down or stuck
        readiness = Readiness(
            ready=False,
            checks=[CheckResult(name="health_service", ok=False, detail=type(exc).__name__)],
        )
    verbose = "identity" in request.scope.get("state", {})
    body = readiness.model_dump(exclude=None if verbose else _DETAILS)
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
