"""What `GET /api/v1/plugins` says of each discovered entry-point plugin."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["PluginView"]


class PluginView(BaseModel):
    name: str
    group: str = Field(description="Entry-point group it was found in.")
    version: str
    distribution: str = Field(description="Python distribution that provides it.")
    loaded: bool
    reason: str = Field(description="Why it did not load; empty when it did.")
    description: str
