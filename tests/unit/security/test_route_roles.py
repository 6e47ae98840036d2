"""Every route and mount declares who may use it; OpenAPI shows it; plugins are admin-only
unless they declare otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from coral_serve.web.openapi import REQUIRED_ROLE
from coral_serve.web.roles import Guarded, declared_requirement, mounted_routes
from tests.unit.security.test_auth import ADMIN, TOKENS, VIEWER, bearer
from tests.unit.test_plugins import install_fake_plugin
from tests.unit.webapp import make_config, running_app

# A plugin whose GET route says nothing about roles, and a websocket, which cannot.
UNDECLARED = (
    "from fastapi import APIRouter\n"
    "from coral_serve.plugins.specs import WebPluginSpec\n"
    "def build(context):\n"
    "    router = APIRouter()\n"
    "    @router.get('/inventory')\n"
    "    async def inventory() -> dict:\n"
    "        return {'cameras': 3}\n"
    "    return router\n"
    "plugin = WebPluginSpec(name='undeclared', version='1.0', router_factory=build)\n"
)
WEBSOCKET = (
    "from fastapi import APIRouter, WebSocket\n"
    "from coral_serve.plugins.specs import WebPluginSpec\n"
    "def build(context):\n"
    "    router = APIRouter()\n"
    "    @router.websocket('/feed')\n"
    "    async def feed(socket: WebSocket) -> None:\n"
    "        await socket.accept()\n"
    "    return router\n"
    "plugin = WebPluginSpec(name='socket', version='1.0', router_factory=build)\n"
)


def undeclared(app: FastAPI) -> list[str]:
    """Routes and mounts that do not say which role they need."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    missing = []
    for route, served in mounted_routes(app.routes):
        if isinstance(route, APIRoute):
            declared = declared_requirement(served) is not None
        elif isinstance(route, Mount):
            declared = isinstance(route.app, Guarded)
        else:  # FastAPI's own API description pages, open by design
            declared = isinstance(route, Route) and route.path in docs
        if not declared:
            missing.append(getattr(route, "path", repr(route)))
    return missing


@pytest.fixture
def secured_with_mount(tmp_path: Path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "floor.txt").write_text("floor plan")
    return make_config(
        tmp_path,
        "http.auth.mode=token",
        TOKENS,
        f"http.static_mounts=[{{path: /site, directory: {tmp_path / 'site'}}}]",
    )


async def test_every_route_and_mount_declares_its_role(secured_with_mount) -> None:
    async with running_app(secured_with_mount) as (client, services):
        app: FastAPI = services["app"]  # type: ignore[assignment]
        assert undeclared(app) == []

        @app.get("/api/v1/forgotten")
        async def forgotten() -> dict[str, str]:
            return {}

        assert undeclared(app) == ["/api/v1/forgotten"]  # the walk does catch a new route
        # A configured static directory is a viewer's to read, not the world's.
        anonymous = await client.get("/site/floor.txt")
        viewer = await client.get("/site/floor.txt", headers=bearer(VIEWER))
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert viewer.status_code == 200 and viewer.text == "floor plan"


async def test_openapi_shows_each_operations_role(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "http.auth.mode=token", TOKENS)) as (client, _):
        schema = (await client.get("/openapi.json")).json()
    async with running_app(make_config(tmp_path / "open")) as (client, _):
        unsecured = (await client.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert all(REQUIRED_ROLE in operation for operation in operations.values())

    def role(method: str, path: str) -> str:
        return operations[(method, path)][REQUIRED_ROLE]

    create = operations[("POST", "/api/v1/pipelines")]
    listing = operations[("GET", "/api/v1/pipelines")]
    health = operations[("GET", "/healthz")]
    assert role("POST", "/api/v1/pipelines") == "admin"
    assert create["security"] == [{"bearer": []}] and "403" in create["responses"]
    assert "Needs the `admin` role" in create["description"]
    assert role("GET", "/api/v1/pipelines") == "viewer" and "403" not in listing["responses"]
    assert role("POST", "/api/v1/streams/{pipeline_id}/webrtc") == "viewer"
    assert role("POST", "/api/v1/pipelines/{pipeline_id}/results/consume") == "admin"
    assert role("GET", "/healthz") == "public" and health["security"] == []
    assert "401" not in health["responses"]
    assert "http.auth.protect_metrics" in operations[("GET", "/metrics")]["description"]
    assert role("GET", "/plugins/line-counter/counts/{pipeline_id}") == "viewer"
    assert role("PUT", "/plugins/line-counter/lines/{pipeline_id}") == "admin"
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # Without tokens nobody is asked for one, so no operation says it needs one.
    unsecured_create = unsecured["paths"]["/api/v1/pipelines"]["post"]
    assert unsecured_create[REQUIRED_ROLE] == "admin" and "security" not in unsecured_create


async def test_a_plugin_get_without_a_declaration_is_admin_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_plugin(tmp_path / "site", monkeypatch, "undeclared", UNDECLARED)
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS)
    async with running_app(config) as (client, _):
        anonymous = await client.get("/plugins/undeclared/inventory")
        viewer = await client.get("/plugins/undeclared/inventory", headers=bearer(VIEWER))
        admin = await client.get("/plugins/undeclared/inventory", headers=bearer(ADMIN))
        # The line counter declares its counts viewer-readable; setting a line it does not.
        counts = await client.get("/plugins/line-counter/counts/gate", headers=bearer(VIEWER))
        line = {"x1": 0, "y1": 1, "x2": 2, "y2": 1}
        set_line = await client.put(
            "/plugins/line-counter/lines/gate", json=line, headers=bearer(VIEWER)
        )
    assert anonymous.status_code == 401
    assert viewer.status_code == 403 and viewer.json()["detail"] == "role 'viewer' may not do this"
    assert admin.status_code == 200 and admin.json() == {"cameras": 3}
    assert counts.status_code == 404 and "no pipeline" in counts.json()["detail"]
    assert set_line.status_code == 403


async def test_a_plugin_route_that_cannot_carry_a_role_is_not_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_plugin(tmp_path / "site", monkeypatch, "socket", WEBSOCKET)
    async with running_app(make_config(tmp_path)) as (client, services):
        plugins = {p["name"]: p for p in (await client.get("/api/v1/plugins")).json()}
        app: FastAPI = services["app"]  # type: ignore[assignment]
        paths = [getattr(served, "path", "") for _, served in mounted_routes(app.routes)]
    assert plugins["socket"]["loaded"] is False
    assert "cannot declare a role" in plugins["socket"]["reason"]
    assert "/plugins/socket/feed" not in paths
