"""The ingress deployment's class, apart from the graph: a replica unpickles a class by
importing its module, so the ingress imports the web layer and the services it constructs
itself, not every service's libraries (WebRTC, video, metric clients), which would only slow
its start. On one box it constructs every service (`deployments.combine`), or HealthService
alone (`health.in_ingress`), and accepts the HTTP connections itself (`http.listener`)."""

from __future__ import annotations

from typing import Any

from ray import serve

from coral_serve.config import CoralConfig
from coral_serve.config.http import Listener
from coral_serve.serving.listener import IngressListener
from coral_serve.serving.local_services import LocalServices, Recipes
from coral_serve.web import Services, create_web_app
from coral_serve.workers.priority import apply_control_plane_priority

__all__ = ["Ingress"]


@serve.ingress()
class Ingress:
    """Serves the FastAPI app of `create_web_app` over every service: `remote` are handles
    to their deployments, `local` the recipes of those this replica runs itself."""

    async def __init__(self, config: CoralConfig, remote: dict[str, Any], local: Recipes) -> None:
        apply_control_plane_priority()
        self._listener: IngressListener | None = None
        if config.http.listener is Listener.ingress:
            self._listener = IngressListener(config.http.host, config.http.port)
        self._local = await LocalServices.start(local, remote)
        self._web = create_web_app(config, Services.wrap(**remote, **self._local.services))
        if self._listener is not None:
            await self._listener.start(self._web)

    async def invoke(self, member: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a service this replica runs (`MemberHandle` from outside, e.g. a reload)."""
        return await self._local.invoke(member, method, *args, **kwargs)

    async def __del__(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._local.stop()

    def __serve_build_asgi_app__(self) -> Any:
        return self._web
