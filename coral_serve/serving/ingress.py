"""The ingress deployment's class, apart from the graph: a replica unpickles a class by
importing its module, so the ingress imports the web layer and not every service's libraries
(WebRTC, video, metric clients), which would only slow its start."""

from __future__ import annotations

from typing import Any

from ray import serve

from coral_serve.config import CoralConfig
from coral_serve.web import Services, create_web_app
from coral_serve.workers.priority import apply_control_plane_priority

__all__ = ["Ingress"]


@serve.ingress()
class Ingress:
    """Serves the FastAPI app of `create_web_app` with handles to every service."""

    def __init__(
        self,
        config: CoralConfig,
        pipelines: Any,
        streams: Any,
        monitor: Any,
        health: Any,
        events: Any,
    ) -> None:
        apply_control_plane_priority()
        services = Services.wrap(
            pipelines=pipelines, streams=streams, monitor=monitor, health=health, events=events
        )
        self._web = create_web_app(config, services)

    def __serve_build_asgi_app__(self) -> Any:
        return self._web
