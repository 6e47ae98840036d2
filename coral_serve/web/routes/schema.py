"""`/api/v1/schema/pipeline`: the pipeline spec's JSON schema, each field marked hot or cold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from coral_serve.config.http import Role
from coral_serve.schema.changes import spec_json_schema
from coral_serve.web.roles import require_role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/schema", tags=["schema"])


@router.get(
    "/pipeline",
    response_model=dict[str, Any],
    summary="JSON schema of a pipeline spec; `x-apply` says how a change reaches a running "
    "pipeline (hot: in place, cold: a restart under the same id)",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def pipeline_schema() -> dict[str, Any]:
    return spec_json_schema()
