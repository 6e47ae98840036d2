"""`runtime`: where Ray runs and how this process joins it."""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["Platform", "RuntimeConfig"]


class Platform(str, Enum):
    """Hardware family the box runs on; selects sensible backend defaults."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    jetson = "jetson"
    rockchip = "rockchip"


class RuntimeConfig(CoralBaseModel):
    address: str | None = Field(
        default=None,
        description="Ray cluster address to join (`auto`, `ray://host:10001`, `host:6379`); "
        "null starts a local Ray for this box.",
    )
    namespace: str = Field(
        default="coral",
        min_length=1,
        description="Ray namespace for the Serve app and the named pipeline actors.",
    )
    app_name: str = Field(
        default="coral", min_length=1, description="Name of the Ray Serve application."
    )
    platform: Platform = Field(
        default=Platform.auto, description="Hardware platform: auto, cpu, cuda, jetson, rockchip."
    )
    num_cpus: float | None = Field(
        default=None,
        ge=0,
        description="CPUs a locally started Ray advertises; null lets Ray count them.",
    )
    log_format: str = Field(
        default="text", pattern="^(text|json)$", description="Log line format: text or json."
    )
    log_level: str = Field(
        default="INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
        description="Log level of coral_serve's own loggers.",
    )
