"""Desired state in bulk: `POST /api/v1/pipelines/apply` (create or update by name, prune)
and `POST /api/v1/config/reload` (the descriptor's declared pipelines and templates)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from coral_serve.config.http import Role
from coral_serve.schema.plans import ApplyPlan, ApplyRequest, ReloadPlan
from coral_serve.web.roles import require_role
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

router = APIRouter(tags=["pipelines"])

ServicesDep = Annotated[Services, Depends(get_services)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A spec, template or the descriptor is invalid (nothing applied)"}
}


@router.post(
    "/api/v1/pipelines/apply",
    response_model=ApplyPlan,
    responses=_ERRORS,
    summary="Create or update pipelines by name (templates resolved); a spec as stored is "
    "left alone, `prune` deletes API-created pipelines not named, `dry_run` only plans",
    dependencies=[Depends(require_role(Role.admin))],
)
async def apply_pipelines(request: ApplyRequest, services: ServicesDep) -> ApplyPlan:
    return await services.pipelines.call("apply", request)


@router.post(
    "/api/v1/config/reload",
    response_model=ReloadPlan,
    responses=_ERRORS,
    summary="Read the descriptor again: declared pipelines and templates are applied "
    "(added, changed hot or cold, removed); other changed settings are listed as needing a "
    "redeploy",
    dependencies=[Depends(require_role(Role.admin))],
)
async def reload_config(services: ServicesDep) -> ReloadPlan:
    return await services.pipelines.call("reload")
