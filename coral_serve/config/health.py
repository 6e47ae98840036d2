"""`health`: what readiness checks and which external probes it includes."""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["WARNING_CHECKS", "ExternalProbe", "HealthConfig", "ReadinessCheck"]


class ReadinessCheck(str, Enum):
    store = "store"
    deployments = "deployments"
    disk = "disk"
    disk_quota = "disk_quota"
    monitor = "monitor"
    sinks = "sinks"
    notifications = "notifications"


# Checks that only warn: a metrics server or a notifier being down, or recordings nearing
# their quota, must never take the box out of service.
WARNING_CHECKS = frozenset(
    {ReadinessCheck.disk_quota, ReadinessCheck.sinks, ReadinessCheck.notifications}
)


class ExternalProbe(CoralBaseModel):
    name: str = Field(min_length=1, description="Check name shown in /readyz.")
    url: str = Field(pattern=r"^https?://", description="URL that must answer 2xx.")
    timeout: float = Field(default=2.0, gt=0, le=30, description="Seconds allowed.")
    required: bool = Field(default=False, description="Fail readiness when it fails.")


class HealthConfig(CoralBaseModel):
    checks: list[ReadinessCheck] = Field(
        default_factory=lambda: list(ReadinessCheck),
        description="Built-in readiness checks to run: store (reachable), deployments (every "
        "Serve deployment healthy), disk (free space above monitoring.disk.min_free_percent), "
        "monitor (its background tasks alive); disk_quota (recordings above warn_percent of "
        "the quota), sinks (a metric sink down) and notifications (a notifier down, its "
        "events waiting in the outbox) only warn.",
    )
    external: list[ExternalProbe] = Field(
        default_factory=list, description="Extra HTTP dependencies to probe."
    )
    check_timeout: float = Field(
        default=2.0, gt=0, le=30, description="Seconds one readiness check may take."
    )
    in_ingress: bool = Field(
        default=False,
        description="Answer readiness inside each ingress replica instead of in a HealthService "
        "deployment of its own: one Serve replica less (~120 MiB PSS and its start) on a small "
        "box; deploy=local turns it on, and deployments.health_service is then unused.",
    )
