"""H.264 access units that every viewer of a pipeline sends as they are, read by index.

Two things make them: the shared encoder (the annotated view) and the source relay (the
camera's own packets, the raw view). Delta frames need the frames before them, so a viewer
starts at a keyframe and never skips one: a short ring of frames that each viewer reads at
its own pace, by index.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from coral_serve.streams.fanout import FeedClosedError, FrameView
from coral_serve.tasks import stop_tasks

__all__ = ["EncodedFrame", "PacketRing", "PacketSource", "SharedPackets"]

_VIDEO_CLOCK = 90_000


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame as every viewer sends it."""

    index: int  # consecutive within the ring: a gap means a viewer missed a frame
    data: bytes  # one H.264 access unit, Annex B (SPS/PPS repeated before each keyframe)
    pts: int  # 90 kHz, increasing
    keyframe: bool
    view: FrameView | None  # the published frame it was made from (its results go along)


class PacketSource(Protocol):
    """What `PacketTrack` reads: the shared encoder or a source relay."""

    def attach(self) -> None: ...

    def detach(self) -> None: ...

    def request_keyframe(self) -> None: ...

    async def next(self, after: int | None) -> EncodedFrame: ...


class PacketRing:
    """The newest frames; a viewer joining (or fallen out of the ring) starts at a keyframe.

    `replay` seconds: a joining viewer starts at the newest keyframe if it is at most this
    much older than the newest frame (its picture at once, a little behind), else at the
    next one. `on_join` runs for every such viewer (the encoder makes a keyframe soon).
    """

    def __init__(self, size: int, replay: float, on_join: Callable[[], None]) -> None:
        self._ring: deque[EncodedFrame] = deque(maxlen=size)
        self._replay = round(replay * _VIDEO_CLOCK)
        self._on_join = on_join
        self._changed = asyncio.Condition()
        self._count = 0
        self.closed = False
        self._reason = ""

    def clear(self) -> None:
        """Forget the frames (nobody reads them): a later viewer never starts on stale ones."""
        self._ring.clear()

    async def append(self, data: bytes, pts: int, keyframe: bool, view: FrameView | None) -> None:
        async with self._changed:
            self._ring.append(EncodedFrame(self._count, data, pts, keyframe, view))
            self._count += 1
            self._changed.notify_all()

    async def close(self, reason: str) -> None:
        """Viewers still reading, and those who come later, get FeedClosedError(reason)."""
        async with self._changed:
            self.closed, self._reason = True, reason
            self._changed.notify_all()

    async def next(self, after: int | None) -> EncodedFrame:
        """The frame after index `after`; with None, or when `after` has left the ring, a
        keyframe. Raises FeedClosedError once closed."""
        async with self._changed:
            if after is not None and self._lost(after):
                after = None
            if after is None:
                self._on_join()
                found = self._replayable()
                if found is None:
                    start = self._newest()
                    await self._changed.wait_for(
                        lambda: self.closed or self._keyframe_after(start) is not None
                    )
                    found = self._keyframe_after(start)
            else:
                await self._changed.wait_for(lambda: self.closed or self._newest() > after)
                found = None if self._lost(after) else self._at(after + 1)
        if self.closed:
            raise FeedClosedError(self._reason)
        if found is None:
            return await self.next(None)  # fell out of the ring while waiting
        return found

    def _newest(self) -> int:
        return self._ring[-1].index if self._ring else -1

    def _lost(self, after: int) -> bool:
        return bool(self._ring) and after + 1 < self._ring[0].index

    def _at(self, index: int) -> EncodedFrame:
        return self._ring[index - self._ring[0].index]

    def _keyframe_after(self, start: int) -> EncodedFrame | None:
        return next((f for f in self._ring if f.index > start and f.keyframe), None)

    def _replayable(self) -> EncodedFrame | None:
        newest = self._ring[-1].pts if self._ring else 0
        for frame in reversed(self._ring):
            if newest - frame.pts > self._replay:
                return None
            if frame.keyframe:
                return frame
        return None


class SharedPackets(ABC):
    """Makes packets into a ring while any viewer reads them: `_run` runs from the first
    `attach` and returns soon after the last `detach` (a later viewer starts it again)."""

    def __init__(self, name: str, ring: PacketRing) -> None:
        self._name = name
        self._ring = ring
        self._users = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def users(self) -> int:
        return self._users

    @property
    def closed(self) -> bool:
        """Ended for good: viewers from now on need a new one."""
        return self._ring.closed

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def attach(self) -> None:
        """One more viewer: make packets from now on (again, if everyone had left)."""
        self._users += 1
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self._name)

    def detach(self) -> None:
        self._users -= 1

    async def next(self, after: int | None) -> EncodedFrame:
        """The frame after index `after`; with None, or when `after` has left the ring, a
        keyframe. Raises FeedClosedError once ended."""
        return await self._ring.next(after)

    async def close(self) -> None:
        """Stop now (the service stopping); viewers still reading end."""
        if self._task is not None:
            await stop_tasks([self._task])
        await self._ring.close("the stream service stopped")

    @abstractmethod
    async def _run(self) -> None: ...
