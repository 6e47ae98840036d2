"""The monitor's named background loops: started together, watched by readiness, stopped
reliably."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from coral_serve.schema.checks import CheckResult
from coral_serve.tasks import stop_tasks

__all__ = ["Loops"]


class Loops:
    """Each loop catches its own errors, so one that ended is a bug readiness must show."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def spawn(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        """Run `loop` as the task `<prefix><name>` (the name shows in asyncio's task list)."""
        full = f"{self._prefix}{name}"
        self._tasks[full] = asyncio.create_task(loop, name=full)

    def alive(self) -> dict[str, bool]:
        """Every loop by task name: True while it runs."""
        return {name: not task.done() for name, task in self._tasks.items()}

    def check(self) -> CheckResult:
        """Readiness: every loop is alive."""
        if not self._tasks:
            return CheckResult(name="monitor", ok=False, detail="not running")
        ended = [
            f"{name} ended ({_outcome(task)})" for name, task in self._tasks.items() if task.done()
        ]
        if ended:
            return CheckResult(name="monitor", ok=False, detail="; ".join(ended))
        return CheckResult(name="monitor", ok=True, detail=f"{len(self._tasks)} tasks running")

    async def stop(self, timeout: float) -> None:
        """Cancel every loop and wait for them, `timeout` at most."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await stop_tasks(tasks, timeout=timeout)


def _outcome(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return f"{type(error).__name__}: {error}" if error else "returned"
