"""`/api/v1/plugins`: what was discovered, what loaded, and why the rest did not."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from coral_serve.config.http import Role
from coral_serve.schema.plugins import PluginView
from coral_serve.web.roles import require_role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/plugins", tags=["plugins"])


@router.get(
    "",
    response_model=list[PluginView],
    summary="Discovered plugins",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def list_plugins(request: Request) -> list[PluginView]:
    return [PluginView(**info.as_dict()) for info in request.app.state.plugins.report]
