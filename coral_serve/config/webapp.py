"""`WebAppConfig`: the part of the descriptor the browser may see, without secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from coral_serve.config.descriptor import CoralConfig
from coral_serve.version import __version__

__all__ = ["NavEntry", "WebAppConfig"]


class NavEntry(BaseModel):
    label: str = Field(description="Link text in the dashboard's navigation.")
    path: str = Field(description="Where the link points.")


class WebAppConfig(BaseModel):
    name: str = Field(description="Product name.")
    version: str = Field(description="coral_serve version.")
    title: str = Field(description="Branded page title.")
    accent_color: str = Field(description="Branded accent colour.")
    logo_url: str | None = Field(description="Branded logo.")
    ui_mode: str = Field(description="default, none or plugin.")
    ui_plugin: str | None = Field(description="Plugin serving the UI in plugin mode.")
    auth_mode: str = Field(description="none or token.")
    webrtc_enabled: bool = Field(description="Whether the live view offers WebRTC.")
    webrtc_codec: str = Field(description="Preferred WebRTC codec.")
    metric_sinks: list[str] = Field(description="Types of the configured metric sinks.")
    plugins_enabled: bool = Field(description="Whether plugins load.")
    plugin_pages: list[NavEntry] = Field(description="Pages that web plugins add.")

    @classmethod
    def from_descriptor(cls, config: CoralConfig, plugin_pages: Sequence[Any] = ()) -> WebAppConfig:
        """`plugin_pages` are the loaded plugins' UI entries (anything with label and path)."""
        branding = config.ui.branding
        webrtc = config.streams.webrtc
        return cls(
            name="coral_serve",
            version=__version__,
            title=branding.title,
            accent_color=branding.accent_color,
            logo_url=branding.logo_url,
            ui_mode=config.ui.mode.value,
            ui_plugin=config.ui.plugin,
            auth_mode=config.http.auth.mode.value,
            webrtc_enabled=webrtc.enabled,
            webrtc_codec=webrtc.codec.value,
            metric_sinks=[sink.type for sink in config.monitoring.sinks],
            plugins_enabled=config.plugins.enabled,
            plugin_pages=[NavEntry(label=page.label, path=page.path) for page in plugin_pages],
        )
