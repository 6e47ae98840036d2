"""`monitoring`: metric polling, sinks and the recordings disk quota."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from coral_serve.schema.base import CoralBaseModel

__all__ = [
    "SINK_TYPES",
    "DiskQuotaConfig",
    "InfluxSinkConfig",
    "MonitoringConfig",
    "PluginSinkConfig",
    "PrometheusSinkConfig",
    "SinkConfig",
    "StdoutSinkConfig",
]


class StdoutSinkConfig(CoralBaseModel):
    type: Literal["stdout"] = Field(default="stdout", description="One JSON line per point.")


class PrometheusSinkConfig(CoralBaseModel):
    type: Literal["prometheus"] = Field(
        default="prometheus", description="Exposition format on GET /metrics."
    )


class InfluxSinkConfig(CoralBaseModel):
    type: Literal["influx"] = Field(default="influx", description="InfluxDB v2 write API.")
    url: str = Field(description="InfluxDB base URL, e.g. http://127.0.0.1:8086.")
    org: str = Field(min_length=1, description="Organisation.")
    bucket: str = Field(min_length=1, description="Bucket.")
    token: SecretStr = Field(default=SecretStr(""), description="API token (a secret).")
    batch_size: int = Field(default=500, ge=1, description="Points per write.")


class PluginSinkConfig(CoralBaseModel):
    type: Literal["plugin"] = Field(
        default="plugin", description="A sink from the coral_serve.metric_sinks entry point."
    )
    name: str = Field(min_length=1, description="Entry point name of the sink.")
    options: dict[str, object] = Field(default_factory=dict, description="Passed to the sink.")


SinkConfig = Annotated[
    StdoutSinkConfig | PrometheusSinkConfig | InfluxSinkConfig | PluginSinkConfig,
    Field(discriminator="type"),
]
SINK_TYPES = frozenset({"stdout", "prometheus", "influx", "plugin"})


class DiskQuotaConfig(CoralBaseModel):
    max_bytes: int | None = Field(
        default=10 * 1024**3, ge=0, description="Total bytes of recordings kept; null: no limit."
    )
    max_age_hours: float | None = Field(
        default=24 * 7, gt=0, description="Oldest recording kept, in hours; null: no limit."
    )
    warn_percent: float = Field(
        default=85.0, gt=0, le=100, description="Readiness warns above this share of the quota."
    )
    min_free_percent: float = Field(
        default=5.0,
        ge=0,
        le=50,
        description="Below this share of free filesystem space, clean up regardless of quota.",
    )
    check_interval: float = Field(
        default=60.0, gt=0, le=86400, description="Seconds between quota enforcement passes."
    )


class MonitoringConfig(CoralBaseModel):
    enabled: bool = Field(default=True, description="Poll workers and flush to sinks.")
    poll_interval: float = Field(
        default=2.0, gt=0, le=300, description="Seconds between counter polls."
    )
    flush_interval: float = Field(
        default=10.0, gt=0, le=3600, description="Seconds between sink flushes."
    )
    history_seconds: float = Field(
        default=600.0, gt=0, le=86400, description="In-memory history kept for charts."
    )
    buffer_points: int = Field(
        default=10_000, ge=10, description="Points buffered per sink while it is down."
    )
    retry_max_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest wait between retries of a sink that is down (doubling from 1 s).",
    )
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: [StdoutSinkConfig()], description="Where metrics go."
    )
    disk: DiskQuotaConfig = Field(
        default_factory=DiskQuotaConfig, description="Recordings disk quota."
    )

    @property
    def serves_prometheus(self) -> bool:
        """Whether GET /metrics has anything to serve: monitoring on, a prometheus sink."""
        return self.enabled and any(sink.type == "prometheus" for sink in self.sinks)
