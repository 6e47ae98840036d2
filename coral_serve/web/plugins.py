"""Mount loaded web plugins: their routers, static files and navigation entries."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from coral_serve.config import CoralConfig
from coral_serve.config.http import Role
from coral_serve.plugins.discovery import PluginInfo, discover_plugins, web_plugins
from coral_serve.plugins.specs import PluginContext, UiEntry, WebPluginSpec
from coral_serve.web.roles import (
    Guarded,
    declared_requirement,
    mounted_routes,
    public,
    require_role,
)
from coral_serve.web.services import Services

__all__ = ["MountedPlugins", "mount_plugins"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MountedPlugins:
    report: list[PluginInfo]
    """Every discovered plugin; a web plugin that failed to mount says why."""
    mounted: dict[str, WebPluginSpec]
    ui_entries: list[UiEntry]


def mount_plugins(app: FastAPI, config: CoralConfig, services: Services) -> MountedPlugins:
    discovered = discover_plugins(config.plugins)
    failures: dict[tuple[str, str], str] = {}
    mounted: dict[str, WebPluginSpec] = {}
    for info, spec in web_plugins(discovered):
        try:
            _mount(app, spec, PluginContext(config=config, services=services))
        except Exception as exc:  # a plugin's own bug must not take the app down
            log.exception("web plugin %s failed to mount", spec.name)
            failures[(info.group, info.name)] = f"mount failed: {type(exc).__name__}: {exc}"
            continue
        mounted[spec.name] = spec
    report = [
        dataclasses.replace(p.info, loaded=False, reason=failures[(p.info.group, p.info.name)])
        if (p.info.group, p.info.name) in failures
        else p.info
        for p in discovered
    ]
    entries = [spec.ui_entry for spec in mounted.values() if spec.ui_entry is not None]
    return MountedPlugins(report=report, mounted=mounted, ui_entries=entries)


def _mount(app: FastAPI, spec: WebPluginSpec, context: PluginContext) -> None:
    if spec.router_factory is not None:
        app.include_router(_admin_unless_declared(spec.router_factory(context)), prefix=spec.mount)
    if spec.static_dir is not None:
        directory = Path(spec.static_dir)
        if not directory.is_dir():
            raise FileNotFoundError(f"static directory {directory} does not exist")
        app.mount(
            f"{spec.mount}/static",
            Guarded(StaticFiles(directory=directory, html=True), public()),
            name=f"plugin:{spec.name}",
        )


def _admin_unless_declared(router: APIRouter) -> APIRouter:
    """A plugin route without a declared role is admin-only, GETs too.

    Only FastAPI HTTP routes can carry a role, so anything else (a websocket, a mount)
    is refused rather than mounted unchecked.
    """
    for route, served in mounted_routes(router.routes):
        if not isinstance(route, APIRoute):
            raise TypeError(f"route {route!r} is not an HTTP route; it cannot declare a role")
        if declared_requirement(served) is None:
            route.dependencies.append(Depends(require_role(Role.admin)))
    return router
