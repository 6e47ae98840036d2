"""A burst of API reads costs one worker call; a change made here is seen at once."""

from __future__ import annotations

import asyncio

from coral_serve.services.freshness import Fresh


async def test_concurrent_reads_share_one_call_until_the_value_ages() -> None:
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    fresh = Fresh(read, max_age=0.2)
    assert await asyncio.gather(*(fresh.get() for _ in range(50))) == [1] * 50
    assert await fresh.get() == 1
    await asyncio.sleep(0.25)
    assert await fresh.get() == 2
    fresh.invalidate()
    assert await fresh.get() == 3
    assert calls == 3
