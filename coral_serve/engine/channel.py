"""Small bounded queue between stages: blocks, or drops the oldest item, and can be closed."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Channel", "ChannelClosedError"]

T = TypeVar("T")


class ChannelClosedError(Exception):
    """The pipeline is stopping; the stage that sees this returns."""


class Channel(Generic[T]):
    """`put` with `drop_oldest` never waits (live video); otherwise it waits for room."""

    def __init__(self, capacity: int) -> None:
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T, drop_oldest: bool = False) -> int:
        """Returns how many queued items were dropped to make room."""
        with self._cond:
            dropped = 0
            if drop_oldest:
                while len(self._items) >= self._capacity:
                    self._items.popleft()
                    dropped += 1
            else:
                self._cond.wait_for(lambda: self._closed or len(self._items) < self._capacity)
            if self._closed:
                raise ChannelClosedError
            self._items.append(item)
            self._cond.notify_all()
            return dropped

    def get(self) -> T:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or bool(self._items))
            if self._closed:
                raise ChannelClosedError
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        """Wake every waiter; queued items are discarded."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()
