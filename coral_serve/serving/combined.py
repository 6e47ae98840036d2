"""Several single-replica services in one Serve replica (`deployments.combine_singletons`).

Every Serve replica is a Ray worker process of its own: on a small box about 100 MiB before
the service imports anything, and a worker's start paid while the others start on the same
cores. PipelineService, MonitorService and EventService run exactly one replica each anyway,
so on one box (`deploy=local`) one `ControlPlane` replica hosts all three. Callers keep one
handle per service: a `MemberHandle` turns `handle.method.remote(...)` into
`invoke(member, method, ...)` on the shared replica, so `ServiceClient` and the services
themselves do not know where they run.

Kept apart from the graph so that the replica imports this module and its members' own
modules, not everything the graph imports.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

from coral_serve.workers.priority import apply_control_plane_priority

__all__ = ["COMBINED_DEPLOYMENT", "ControlPlane", "MemberHandle", "Members"]

log = logging.getLogger(__name__)

COMBINED_DEPLOYMENT = "ControlPlane"

Members = dict[str, tuple[type, tuple[Any, ...]]]
"""Member name -> (service class, its constructor's arguments)."""


class ControlPlane:
    """Constructs and starts each member service, in order, and answers `invoke`."""

    async def __init__(self, members: Members) -> None:
        apply_control_plane_priority()
        self._members: dict[str, Any] = {}
        for name, (service_cls, args) in members.items():
            service = service_cls(*args)
            await service.start()
            self._members[name] = service

    async def invoke(self, member: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` of one member service, as its own replica would."""
        result = getattr(self._members[member], method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def __del__(self) -> None:
        """Stop the members in reverse order; one that fails to stop does not keep the
        others running."""
        for name, service in reversed(self._members.items()):
            try:
                await service.stop()
            except Exception:
                log.exception("%s did not stop cleanly", name)


@dataclass(frozen=True)
class MemberHandle:
    """Stands for one member's own deployment handle; `handle` is the combined deployment's
    (a bound node until Serve builds the graph, which replaces it inside this object)."""

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
