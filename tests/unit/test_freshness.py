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


async def test_a_read_begun_before_a_change_does_not_answer_for_after_it() -> None:
    """A status read in flight when a pause lands would say `running`: the reader after
    the pause gets a read of its own, and the old answer is not kept."""
    state = "running"
    started = asyncio.Event()

    async def read() -> str:
        seen = state
        started.set()
        await asyncio.sleep(0.05)
        return seen

    fresh = Fresh(read, max_age=10.0)
    before = asyncio.ensure_future(fresh.get())
    await started.wait()
    state = "paused"
    fresh.invalidate()
    assert await fresh.get() == "paused"
    assert await before == "running"  # its own caller asked before the change
    assert await fresh.get() == "paused"
