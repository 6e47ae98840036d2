"""Background tasks stop even when one cancellation is swallowed (Python 3.11 wait_for)."""

from __future__ import annotations

import asyncio

from coral_serve.tasks import stop_tasks


async def swallows_one_cancellation() -> None:
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True  # what asyncio.wait_for can do on 3.11


async def test_stop_tasks_cancels_until_the_task_has_ended() -> None:
    task = asyncio.create_task(swallows_one_cancellation())
    await asyncio.sleep(0.01)
    assert await stop_tasks([task], timeout=3)
    assert task.cancelled()
