"""`/api/v1/auth`: who am I, and signed URLs for media elements."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from coral_serve.config.http import Role
from coral_serve.schema.access import SignedUrl, SignRequest, WhoAmI
from coral_serve.web.auth import Authenticator
from coral_serve.web.roles import require_role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.get("/whoami", response_model=WhoAmI, dependencies=[Depends(require_role(Role.viewer))])
async def whoami(request: Request) -> WhoAmI:
    identity = request.scope["state"]["identity"]
    auth: Authenticator = request.app.state.authenticator
    return WhoAmI(name=identity.name, role=identity.role.value, auth_enabled=auth.enabled)


@router.post(
    "/signed-url", response_model=SignedUrl, dependencies=[Depends(require_role(Role.viewer))]
)
async def signed_url(body: SignRequest, request: Request) -> SignedUrl:
    """The URL grants the caller's own role, never more."""
    identity = request.scope["state"]["identity"]
    auth: Authenticator = request.app.state.authenticator
    url = await auth.sign(body.path, identity.role)
    return SignedUrl(url=url, expires_in=auth.config.signed_url_ttl)
