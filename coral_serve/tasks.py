"""Stopping background tasks reliably.

On Python 3.11, `asyncio.wait_for` can swallow a cancellation that arrives just as its inner
future finishes (fixed in 3.12), so one `task.cancel()` may leave a loop running forever and
whoever awaits it hanging. `stop_tasks` cancels again until every task has really ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

__all__ = ["stop_tasks"]

_RECANCEL_SECONDS = 0.2


async def stop_tasks(tasks: Iterable[asyncio.Task[object]], timeout: float = 5.0) -> bool:
    """Cancel `tasks` and wait for them; True when all ended within `timeout`."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RECANCEL_SECONDS)
    return not pending
