"""`/config.json` for the browser and whatever `ui.mode` puts at `/`.

The dashboard's page and files carry a Content-Security-Policy: scripts only from this
origin (the page's import map is allowed by its hash), so a token in session storage is
not one injected script away from leaking.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coral_serve.config import CoralConfig, WebAppConfig
from coral_serve.config.http import Role
from coral_serve.config.ui import UiMode
from coral_serve.engine.backends.registry import available_backends
from coral_serve.errors import UnavailableError
from coral_serve.schema.spec import DecoderName
from coral_serve.web.plugins import MountedPlugins
from coral_serve.web.roles import Guarded, public, require_role

__all__ = ["Registry", "RegistryBackend", "content_security_policy", "mount_ui"]

_UI_DIR = files("coral_serve") / "ui"
_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)


def content_security_policy(page: str, logo_url: str | None) -> str:
    """The dashboard's policy: everything from this origin, inline import maps by hash,
    pictures also from `data:`/`blob:` (probe previews, snapshots) and the logo's origin."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
        for m in _IMPORT_MAP.findall(page)
    )
    logo = urlsplit(logo_url or "")
    logo_origin = f" {logo.scheme}://{logo.netloc}" if logo.scheme in ("http", "https") else ""
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self'; "
        f"img-src 'self' data: blob:{logo_origin}; media-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


class RegistryBackend(BaseModel):
    name: str
    description: str = Field(description="What the backend runs on; empty if it does not say.")


class Registry(BaseModel):
    backends: list[RegistryBackend] = Field(description="Built-in and plugin model runtimes.")
    decoders: list[str] = Field(description="Output layouts a model spec may name.")


class _WithPolicy:
    """Adds the policy header to every answer of a mounted app (the dashboard's files)."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.header = (b"content-security-policy", policy.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, with_policy)


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

    @router.get(
        "/api/v1/registry",
        response_model=Registry,
        summary="Model backends (plugins included) and decoders a pipeline may name",
        dependencies=[Depends(require_role(Role.viewer))],
    )
    async def registry() -> Registry:
        backends = available_backends()
        return Registry(
            backends=[
                RegistryBackend(name=name, description=backends[name].description)
                for name in sorted(backends)
            ],
            decoders=[decoder.value for decoder in DecoderName],
        )

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
        policy = content_security_policy(index, view.logo_url)

        @router.get(
            "/",
            response_class=HTMLResponse,
            include_in_schema=False,
            dependencies=[Depends(public())],
        )
        async def dashboard() -> HTMLResponse:
            return HTMLResponse(index, headers={"Content-Security-Policy": policy})

        static = _WithPolicy(StaticFiles(directory=str(_UI_DIR)), policy)
        app.mount("/ui", Guarded(static, public()), name="ui")

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
