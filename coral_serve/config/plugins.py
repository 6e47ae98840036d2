"""`plugins`: which discovered entry-point plugins are loaded."""

from __future__ import annotations

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["PluginsConfig"]


class PluginsConfig(CoralBaseModel):
    enabled: bool = Field(default=True, description="Load plugins at all.")
    allow: list[str] = Field(
        default_factory=list, description="Only these plugin names load; empty allows all."
    )
    deny: list[str] = Field(default_factory=list, description="These plugin names never load.")
