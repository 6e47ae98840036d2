"""`/config.json` for the browser and whatever `ui.mode` puts at `/`."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from coral_serve.config import CoralConfig, WebAppConfig
from coral_serve.config.http import Role
from coral_serve.config.ui import UiMode
from coral_serve.errors import UnavailableError
from coral_serve.web.plugins import MountedPlugins
from coral_serve.web.roles import Guarded, public, require_role

__all__ = ["mount_ui"]

_UI_DIR = files("coral_serve") / "ui"


def mount_ui(app: FastAPI, config: CoralConfig, plugins: MountedPlugins) -> None:
    """Add `/config.json` and the page at `/` chosen by `ui.mode`."""
    view = WebAppConfig.from_descriptor(config, plugins.ui_entries)
    router = APIRouter(tags=["ui"])

    @router.get(
        "/config.json",
        response_model=WebAppConfig,
        summary="The UI's view of the config",
        dependencies=[Depends(public())],
    )
    async def config_json() -> WebAppConfig:
        return view

    favicon = (_UI_DIR / "favicon.svg").read_bytes()

    # Browsers ask for /favicon.ico on every page (the API docs too), whatever ui.mode is.
    @router.get("/favicon.ico", include_in_schema=False, dependencies=[Depends(public())])
    async def favicon_ico() -> Response:
        return Response(favicon, media_type="image/svg+xml")

    effective = config.public_dump()

    @router.get(
        "/api/v1/config",
        summary="The effective descriptor, secrets masked",
        dependencies=[Depends(require_role(Role.viewer))],
    )
    async def effective_config() -> dict[str, Any]:
        return effective

    if config.ui.mode is UiMode.none:

        @router.get("/", summary="API index", dependencies=[Depends(public())])
        async def api_index() -> dict[str, object]:
            return {
                "name": view.name,
                "version": view.version,
                "docs": "/docs",
                "openapi": "/openapi.json",
                "health": {"live": "/healthz", "ready": "/readyz"},
            }

    elif config.ui.mode is UiMode.default:
        index = (_UI_DIR / "index.html").read_text(encoding="utf-8")

        @router.get(
            "/",
            response_class=HTMLResponse,
            include_in_schema=False,
            dependencies=[Depends(public())],
        )
        async def dashboard() -> HTMLResponse:
            return HTMLResponse(index)

        app.mount("/ui", Guarded(StaticFiles(directory=str(_UI_DIR)), public()), name="ui")

    else:
        ui_plugin = plugins.mounted.get(config.ui.plugin or "")

        @router.get("/", include_in_schema=False, dependencies=[Depends(public())])
        async def plugin_ui() -> RedirectResponse:
            if ui_plugin is None or ui_plugin.static_dir is None:
                raise UnavailableError(
                    f"ui.plugin {config.ui.plugin!r} is not loaded or has no static UI; "
                    "see /api/v1/plugins"
                )
            return RedirectResponse(f"{ui_plugin.mount}/static/", status_code=307)

    app.include_router(router)
