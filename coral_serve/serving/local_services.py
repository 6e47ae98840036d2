"""Services that run inside the ingress replica instead of in deployments of their own.

Every Serve replica is a Ray worker process of its own: on a small box about 85 MiB before
the service imports anything, and a start paid while the others start on the same cores.
On one box (`deploy=local`, `deployments.combine`) the ingress replica constructs every
service itself, and with `health.in_ingress` HealthService alone. A service reaches a
sibling as the ingress does, through `ServiceClient`, which calls an object in this process
or a Serve handle alike; a `Sibling` in a recipe's arguments names the one it needs.

Kept apart from the graph so that the ingress replica imports this module and its services'
own modules, not everything the graph imports.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

__all__ = ["LocalServices", "MemberHandle", "Recipes", "Sibling"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sibling:
    """In a recipe's arguments: the service called `name`, in this process or a handle."""

    name: str


Recipes = dict[str, tuple[type, tuple[Any, ...]]]
"""Service name -> (its class, its constructor's arguments), in the order to start them."""


class LocalServices:
    """The services one replica constructs, starts, answers for and stops."""

    def __init__(self) -> None:
        self.services: dict[str, Any] = {}

    @classmethod
    async def start(cls, recipes: Recipes, remote: dict[str, Any]) -> LocalServices:
        """Construct and start each recipe in order; a `Sibling` argument becomes the
        service constructed before it, or else the handle of that name in `remote`."""
        local = cls()
        for name, (service_cls, args) in recipes.items():
            resolved = [local._resolve(arg, remote) for arg in args]
            service = service_cls(*resolved)
            await service.start()
            local.services[name] = service
        return local

    def _resolve(self, arg: Any, remote: dict[str, Any]) -> Any:
        if not isinstance(arg, Sibling):
            return arg
        return self.services[arg.name] if arg.name in self.services else remote[arg.name]

    async def invoke(self, member: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` of one service, as its own replica would answer its handle."""
        result = getattr(self.services[member], method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def stop(self) -> None:
        """Stop the services in reverse order; one that fails to stop does not keep the
        others running."""
        for name, service in reversed(self.services.items()):
            try:
                await service.stop()
            except Exception:
                log.exception("%s did not stop cleanly", name)


@dataclass(frozen=True)
class MemberHandle:
    """Stands for one local service's own deployment handle, from outside the replica that
    holds it (the runner's SIGHUP reload); `handle` is that replica's deployment handle."""

    handle: Any
    member: str

    def __getattr__(self, method: str) -> _MemberMethod:
        if method.startswith("_"):  # pickle's and copy's probes, before fields are set
            raise AttributeError(method)
        return _MemberMethod(self.handle, self.member, method)


@dataclass(frozen=True)
class _MemberMethod:
    handle: Any
    member: str
    method: str

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self.handle.invoke.remote(self.member, self.method, *args, **kwargs)
