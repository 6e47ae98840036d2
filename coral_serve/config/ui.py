"""`ui`: which page `/` serves and how it is branded."""

from __future__ import annotations

from enum import Enum

from pydantic import Field, model_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = ["BrandingConfig", "UiConfig", "UiMode"]


class UiMode(str, Enum):
    default = "default"
    none = "none"
    plugin = "plugin"


class BrandingConfig(CoralBaseModel):
    title: str = Field(default="coral_serve", min_length=1, description="Page title.")
    accent_color: str = Field(
        default="#ff6f61", pattern=r"^#[0-9a-fA-F]{6}$", description="Accent colour (#rrggbb)."
    )
    logo_url: str | None = Field(default=None, description="Logo shown in the header.")


class UiConfig(CoralBaseModel):
    mode: UiMode = Field(
        default=UiMode.default,
        description="default: built-in dashboard; none: API only; plugin: a plugin's UI at /.",
    )
    plugin: str | None = Field(
        default=None, description="Plugin whose UI is served in plugin mode."
    )
    branding: BrandingConfig = Field(default_factory=BrandingConfig, description="Branding.")

    @model_validator(mode="after")
    def _plugin_named(self) -> UiConfig:
        if self.mode is UiMode.plugin and not self.plugin:
            raise ValueError("ui.plugin must name a plugin when ui.mode is 'plugin'")
        return self
