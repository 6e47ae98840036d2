"""One frame subscription per pipeline per replica, shared by every viewer of it.

A `Feed` pulls a pipeline's newest JPEG and results from its worker, one call at a time,
and lets any number of viewers wait for "a frame other than the one I have". Viewers never
take frames from each other, and the worker serves one stream per replica however many
people watch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coral_serve.errors import NotFoundError
from coral_serve.schema.state import PipelineState
from coral_serve.tasks import stop_tasks
from coral_serve.workers.pool import WorkerGone, WorkerPool

__all__ = ["FeedClosedError", "FrameHub", "FrameView"]

log = logging.getLogger(__name__)

# How long one pull waits in the worker for a new frame.
_WAIT_SECONDS = 1.0
# A feed nobody asked for a frame this long stops pulling (MJPEG viewers ask per frame).
_LINGER_SECONDS = 5.0
# Extra time allowed on top of a worker call's own wait before it counts as hung.
_CALL_MARGIN = 5.0
_ENDED_STATES = frozenset({PipelineState.stopped, PipelineState.failed, PipelineState.finished})
_VIDEO_CLOCK = 90_000  # RTP video clock: pts of every view in this unit


@dataclass(slots=True)
class FrameView:
    """One published frame as every viewer of this replica shares it."""

    seq: int
    timestamp: float  # capture time (epoch seconds)
    jpeg: bytes
    result: dict[str, Any]
    pts: int  # capture time on the 90 kHz video clock, increasing within the feed
    decoded: Any = field(default=None)  # the decoded picture, made once by the first track
    message: str | None = field(default=None)  # the results as sent on every data channel


class FeedClosedError(Exception):
    """The pipeline stopped or its worker went away; viewers of it end."""


class Feed:
    def __init__(
        self, pipeline_id: str, workers: WorkerPool, on_end: Callable[[Feed], None]
    ) -> None:
        self.pipeline_id = pipeline_id
        self.latest: FrameView | None = None
        self.closed: asyncio.Event = asyncio.Event()
        self.reason = ""
        self._workers = workers
        self._on_end = on_end
        self._changed = asyncio.Condition()
        self._waiters = 0
        self._viewers = 0
        self._used = time.monotonic()
        self._epoch: float | None = None
        self._task = asyncio.create_task(self._pull(), name=f"coral-feed-{pipeline_id}")

    async def next(self, after_seq: int, timeout: float | None = None) -> FrameView | None:
        """The newest frame once it is not `after_seq`; None after `timeout` seconds."""
        self._used = time.monotonic()
        self._waiters += 1
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._ready(after_seq)), timeout
                )
        except asyncio.TimeoutError:
            return None
        finally:
            self._waiters -= 1
            self._used = time.monotonic()
        if self.closed.is_set():
            raise FeedClosedError(self.reason)
        return self.latest

    def attach(self) -> None:
        """Keep pulling while a viewer is attached, even before it asks for frames (a
        WebRTC peer still connecting)."""
        self._viewers += 1

    def detach(self) -> None:
        self._viewers -= 1
        self._used = time.monotonic()

    async def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.reason = reason
            self.closed.set()
            log.info("live view of pipeline %s ended: %s", self.pipeline_id, reason)
        async with self._changed:
            self._changed.notify_all()
        if self._task is not asyncio.current_task():
            await stop_tasks([self._task])

    def _ready(self, after_seq: int) -> bool:
        latest = self.latest
        return self.closed.is_set() or (latest is not None and latest.seq != after_seq)

    def _idle(self) -> bool:
        idle_for = time.monotonic() - self._used
        return not self._waiters and not self._viewers and idle_for > _LINGER_SECONDS

    async def _pull(self) -> None:
        seq = 0
        try:
            while not self._idle():
                try:
                    view = await self._workers.call(
                        self.pipeline_id,
                        "wait_view",
                        seq,
                        _WAIT_SECONDS,
                        timeout=_WAIT_SECONDS + _CALL_MARGIN,
                    )
                except WorkerGone:
                    await self.close("the pipeline stopped")
                    return
                except asyncio.TimeoutError:
                    continue  # a busy worker; ask again
                except Exception as exc:  # e.g. a worker from an older release, adopted
                    log.exception("pulling frames of pipeline %s failed", self.pipeline_id)
                    await self.close(f"the live view failed: {type(exc).__name__}")
                    return
                if view is None:
                    if await self._ended():
                        await self.close("the pipeline ended")
                        return
                    continue
                seq = view[0]
                await self._publish(view)
            await self.close("no viewers left")
        finally:
            self._on_end(self)

    async def _ended(self) -> bool:
        """No frame within the wait: paused (keep waiting) or ended (close)?"""
        try:
            status = await self._workers.call(self.pipeline_id, "status", timeout=_CALL_MARGIN)
        except WorkerGone:
            return True
        except asyncio.TimeoutError:
            return False
        return status.get("state") in _ENDED_STATES

    async def _publish(self, view: tuple[int, float, bytes, dict[str, Any]]) -> None:
        seq, timestamp, jpeg, result = view
        if self._epoch is None:
            self._epoch = timestamp
        pts = round((timestamp - self._epoch) * _VIDEO_CLOCK)
        if self.latest is not None:
            pts = max(pts, self.latest.pts + 1)
        async with self._changed:
            self.latest = FrameView(seq, timestamp, jpeg, result, pts)
            self._changed.notify_all()


class FrameHub:
    """The feeds of one replica, created on first use and dropped when they end."""

    def __init__(self, workers: WorkerPool) -> None:
        self._workers = workers
        self._feeds: dict[str, Feed] = {}

    def feed(self, pipeline_id: str) -> Feed:
        feed = self._feeds.get(pipeline_id)
        if feed is None or feed.closed.is_set():
            feed = self._feeds[pipeline_id] = Feed(pipeline_id, self._workers, self._forget)
        return feed

    def active(self) -> list[str]:
        """Pipelines this replica is pulling frames for."""
        return [pid for pid, feed in self._feeds.items() if not feed.closed.is_set()]

    async def require(self, pipeline_id: str) -> Feed:
        """The pipeline's feed, or a 404 when it has no running worker."""
        try:
            status = await self._workers.call(pipeline_id, "status", timeout=_CALL_MARGIN)
        except (WorkerGone, asyncio.TimeoutError):
            status = {}
        if status.get("state") in (None, *_ENDED_STATES):
            raise NotFoundError(f"pipeline {pipeline_id!r} is not running")
        return self.feed(pipeline_id)

    async def close(self) -> None:
        for feed in list(self._feeds.values()):
            await feed.close("the stream service stopped")
        self._feeds.clear()

    def _forget(self, feed: Feed) -> None:
        if self._feeds.get(feed.pipeline_id) is feed:
            del self._feeds[feed.pipeline_id]
