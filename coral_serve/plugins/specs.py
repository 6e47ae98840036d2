"""What a web plugin declares: routes, static UI, where it mounts and what it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from coral_serve.config import CoralConfig
    from coral_serve.web.services import Services

__all__ = ["PluginContext", "UiEntry", "WebPluginSpec"]


@dataclass(frozen=True)
class PluginContext:
    """Handed to a plugin's router factory: the descriptor and the service clients."""

    config: CoralConfig
    services: Services


@dataclass(frozen=True)
class UiEntry:
    """A page of the plugin linked from the dashboard's navigation."""

    label: str
    path: str


@dataclass(frozen=True)
class WebPluginSpec:
    """Returned by a `coral_serve.web_plugins` entry point (or by a callable it names)."""

    name: str
    version: str
    description: str = ""
    min_coral_version: str = "0.1.0"
    router_factory: Callable[[PluginContext], APIRouter] | None = None
    """Builds the plugin's routes. Each is admin-only unless it declares a role
    (`dependencies=[Depends(require_role(Role.viewer))]`, see `coral_serve.web.roles`)."""
    static_dir: str | Path | None = None
    mount_path: str | None = None
    ui_entry: UiEntry | None = None
    dependencies: tuple[str, ...] = field(default_factory=tuple)
    """Python distributions the plugin needs installed (checked before it loads)."""

    @property
    def mount(self) -> str:
        return (self.mount_path or f"/plugins/{self.name}").rstrip("/")
