"""The shared feed behind every viewer of a pipeline, against a scripted worker pool."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest

from coral_serve.streams.fanout import FeedClosedError, FrameHub
from coral_serve.workers.pool import WorkerGone


class ScriptedPool:
    """Hands out the frames it is given; `state` is what `status` reports."""

    def __init__(self) -> None:
        self.frames: deque[int] = deque()
        self.state = "running"
        self.gone = False

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10) -> Any:
        if self.gone:
            raise WorkerGone(pipeline_id)
        if method == "status":
            return {"state": self.state}
        assert method == "wait_view"
        after_seq, wait = args
        if self.frames and self.frames[0] != after_seq:
            seq = self.frames.popleft()
            return seq, 1000.0 + seq, b"jpeg-%d" % seq, {"detections": []}
        await asyncio.sleep(min(wait, 0.05))
        return None


async def test_viewers_keep_getting_frames_when_a_new_worker_counts_from_one() -> None:
    pool = ScriptedPool()
    hub = FrameHub(pool)  # type: ignore[arg-type]
    feed = hub.feed("cam")
    pool.frames.append(41)
    before = await feed.next(0, timeout=5)
    assert before is not None and before.seq == 41
    pool.frames.append(1)  # the pipeline restarted: its new worker counts from 1
    after = await feed.next(41, timeout=5)
    assert after is not None and after.jpeg == b"jpeg-1"
    assert after.pts > before.pts  # the video clock never runs backwards
    await hub.close()


async def test_a_paused_pipeline_keeps_its_viewers_and_a_stopped_one_ends_them() -> None:
    pool = ScriptedPool()
    hub = FrameHub(pool)  # type: ignore[arg-type]
    feed = hub.feed("cam")
    pool.state = "paused"
    assert await feed.next(0, timeout=0.5) is None
    assert not feed.closed.is_set()
    waiters = [asyncio.create_task(feed.next(0)) for _ in range(3)]
    pool.state = "stopped"
    for waiter in waiters:
        with pytest.raises(FeedClosedError):
            await asyncio.wait_for(waiter, 5)
    assert hub.active() == []


async def test_every_viewer_gets_the_same_frame_from_one_pull() -> None:
    pool = ScriptedPool()
    hub = FrameHub(pool)  # type: ignore[arg-type]
    feed = hub.feed("cam")
    waiters = [asyncio.create_task(feed.next(0)) for _ in range(5)]
    await asyncio.sleep(0.1)
    pool.frames.append(7)
    views = [await asyncio.wait_for(waiter, 5) for waiter in waiters]
    assert all(view is views[0] for view in views)
    pool.gone = True
    with pytest.raises(FeedClosedError):
        await asyncio.wait_for(feed.next(7), 5)
    await hub.close()
