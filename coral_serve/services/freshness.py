"""Share one expensive read (an actor call, a GCS scan) among every caller for a moment.

Under load the API answers hundreds of list/status requests a second; without this each
would ask every worker actor again. Concurrent callers of a stale value share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Fresh"]

T = TypeVar("T")


class Fresh(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]], max_age: float) -> None:
        self._read = read
        self._max_age = max_age
        self._value: T | None = None
        self._read_at = float("-inf")
        self._inflight: asyncio.Future[T] | None = None
        self._changes = 0  # invalidations so far

    async def get(self) -> T:
        if self._value is not None and time.monotonic() - self._read_at < self._max_age:
            return self._value
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._inflight)

    def invalidate(self) -> None:
        """The next `get` reads afresh (after a change this process made itself): a read
        already in flight began before the change, so it answers only its own callers."""
        self._read_at = float("-inf")
        self._inflight = None
        self._changes += 1

    async def _refresh(self) -> T:
        changes = self._changes
        started = time.monotonic()
        value = await self._read()
        if changes == self._changes:  # not kept if a change came while it was reading
            self._value, self._read_at = value, started
        return value
