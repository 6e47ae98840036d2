"""The service clients routes reach, stored on the app and injected per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from coral_serve.services.client import ServiceClient

__all__ = ["Services", "get_services"]


@dataclass(frozen=True)
class Services:
    pipelines: ServiceClient
    streams: ServiceClient
    monitor: ServiceClient
    health: ServiceClient

    @classmethod
    def wrap(cls, *, pipelines: Any, streams: Any, monitor: Any, health: Any) -> Services:
        """Wrap Serve handles or in-process service objects alike."""
        return cls(
            pipelines=ServiceClient(pipelines),
            streams=ServiceClient(streams),
            monitor=ServiceClient(monitor),
            health=ServiceClient(health),
        )


def get_services(request: Request) -> Services:
    return request.app.state.services
