"""The ingress deployment's class, apart from the graph: a replica unpickles a class by
importing its module, so the ingress imports the web layer and not every service's libraries
(WebRTC, video, metric clients), which would only slow its start. HealthService is as light,
so on one box (`health.in_ingress`) it runs inside this replica."""

from __future__ import annotations

import functools
from typing import Any

from ray import serve

from coral_serve.config import CoralConfig
from coral_serve.services.health import HealthService
from coral_serve.serving.states import serve_deployment_states
from coral_serve.web import Services, create_web_app
from coral_serve.workers.priority import apply_control_plane_priority

__all__ = ["Ingress"]


@serve.ingress()
class Ingress:
    """Serves the FastAPI app of `create_web_app` with handles to every service."""

    async def __init__(
        self,
        config: CoralConfig,
        pipelines: Any,
        streams: Any,
        monitor: Any,
        health: Any | None,
        events: Any,
    ) -> None:
        """`health` None (health.in_ingress): readiness is answered in this replica."""
        apply_control_plane_priority()
        self._health: HealthService | None = None
        if health is None:
            states = functools.partial(serve_deployment_states, config.runtime.app_name)
            health = self._health = HealthService(config, pipelines, monitor, states)
            await self._health.start()
        services = Services.wrap(
            pipelines=pipelines, streams=streams, monitor=monitor, health=health, events=events
        )
        self._web = create_web_app(config, services)

    async def __del__(self) -> None:
        if self._health is not None:
            await self._health.stop()

    def __serve_build_asgi_app__(self) -> Any:
        return self._web
