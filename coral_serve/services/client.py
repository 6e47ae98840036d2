"""One calling convention for a service, whether it is a Serve handle or a local object."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["ServiceClient"]


class ServiceClient:
    """Calls `method` on a service and awaits the answer.

    Behind Serve the target is a `DeploymentHandle` (`handle.method.remote(...)` returns an
    awaitable response); in tests and tools it is the service object itself. Duck typing
    keeps this module free of Ray, so routes run without a cluster.
    """

    def __init__(self, target: Any) -> None:
        self._target = target

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        bound = getattr(self._target, method)
        remote = getattr(bound, "remote", None)
        result = remote(*args, **kwargs) if remote is not None else bound(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
