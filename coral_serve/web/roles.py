"""Authorisation: each route declares the least role it needs, as a FastAPI dependency.

`AuthMiddleware` only says who the caller is (a token, a signed URL, or nobody); the
route's `RoleRequirement` decides whether that is enough. Declared on the route, the role
is also what OpenAPI shows (`x-required-role`) and what a test can check on every route.
Mounted ASGI apps (static files) cannot take dependencies, so they are wrapped in `Guarded`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import Request
from fastapi.params import Depends as DependsParam
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from coral_serve.config.http import AuthConfig, Role
from coral_serve.web.errors import error_response

__all__ = [
    "PUBLIC",
    "Guarded",
    "RoleRequirement",
    "declared_requirement",
    "mounted_routes",
    "public",
    "require_role",
]

# A role grants everything the roles after it in this order grant.
_RANK = {Role.admin: 2, Role.viewer: 1}


@dataclass(frozen=True)
class RoleRequirement:
    """Who may call a route: `role` or above, or anyone when `role` is None."""

    role: Role | None
    only_if: str | None = None
    """An `http.auth` flag: while it is false the route is open (`protect_metrics`)."""

    async def __call__(self, request: Request) -> None:
        self.check(request.scope, request.app.state.config.http.auth)

    def check(self, scope: Scope, auth: AuthConfig) -> None:
        if self.role is None or (self.only_if and not getattr(auth, self.only_if)):
            return
        identity = scope.get("state", {}).get("identity")
        if identity is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        if _RANK[identity.role] < _RANK[self.role]:
            raise HTTPException(403, f"role {identity.role.value!r} may not do this")

    @property
    def label(self) -> str:
        """`admin`, `viewer` or `public`: the value of OpenAPI's `x-required-role`."""
        return "public" if self.role is None else self.role.value

    @property
    def description(self) -> str:
        if self.role is None:
            return "Open: no token needed."
        when = f" when `http.auth.{self.only_if}` is true" if self.only_if else ""
        return f"Needs the `{self.role.value}` role{when} (with `http.auth.mode: token`)."


def require_role(role: Role, *, only_if: str | None = None) -> RoleRequirement:
    """`dependencies=[Depends(require_role(Role.viewer))]`: the route needs `role` or above."""
    return RoleRequirement(role, only_if)


PUBLIC = RoleRequirement(None)


def public() -> RoleRequirement:
    """`dependencies=[Depends(public())]`: anyone may call the route, without a token."""
    return PUBLIC


def mounted_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, Any]]:
    """Each route as declared, with the route as served (router prefix and dependencies on).

    Newer FastAPI keeps an included router whole in `routes` and resolves it lazily
    (`iter_route_contexts`); older versions copy each route in, already resolved.
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        yield from ((route, route) for route in routes)
        return
    for context in iterate(routes):
        yield context.original_route, context


def declared_requirement(served: Any) -> RoleRequirement | None:
    """The role a served route declares (its router's dependencies included), or None."""
    found = [
        dependency.dependency
        for dependency in getattr(served, "dependencies", [])
        if isinstance(dependency, DependsParam)
        and isinstance(dependency.dependency, RoleRequirement)
    ]
    return found[-1] if found else None


class Guarded:
    """A mounted ASGI app (static files) behind a `RoleRequirement`."""

    def __init__(self, app: ASGIApp, requirement: RoleRequirement) -> None:
        self.app = app
        self.requirement = requirement

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.requirement.check(scope, scope["app"].state.config.http.auth)
        except HTTPException as denied:
            response = error_response(denied.status_code, denied.detail)
            response.headers.update(denied.headers or {})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
