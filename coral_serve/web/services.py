"""The service clients routes reach, stored on the app and injected per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from coral_serve.errors import UnavailableError
from coral_serve.services.client import ServiceClient

__all__ = ["Services", "get_services"]


class _Unserved:
    """Stands for a service this app was built without (tools, some tests): a 503 says so."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, method: str) -> Any:
        raise UnavailableError(f"{self._name} are not served by this application")


@dataclass(frozen=True)
class Services:
    pipelines: ServiceClient
    streams: ServiceClient
    monitor: ServiceClient
    health: ServiceClient
    events: ServiceClient

    @classmethod
    def wrap(
        cls, *, pipelines: Any, streams: Any, monitor: Any, health: Any, events: Any = None
    ) -> Services:
        """Wrap Serve handles or in-process service objects alike."""
        return cls(
            pipelines=ServiceClient(pipelines),
            streams=ServiceClient(streams),
            monitor=ServiceClient(monitor),
            health=ServiceClient(health),
            events=ServiceClient(events if events is not None else _Unserved("object events")),
        )


async def get_services(request: Request) -> Services:
    """A dependency; async so FastAPI calls it in the loop, not in its thread pool."""
    return request.app.state.services
