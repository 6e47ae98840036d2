"""Bounded ring of per-frame result records: read by cursor, or drained by a consumer."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

__all__ = ["ResultsBuffer"]


class ResultsBuffer:
    """Thread-safe; when full the oldest record goes, so a slow consumer never stalls video.

    Every record gets a `seq` (1, 2, ... per buffer), so readers that must not take records
    away from others (viewers, plugins) page through with `read(after=seq)`.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._overflowed = 0
        self._last_seq = 0

    @property
    def capacity(self) -> int:
        return self._records.maxlen or 0

    @property
    def overflowed(self) -> int:
        """Records pushed out unread since the start."""
        return self._overflowed

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self._overflowed += 1
            self._last_seq += 1
            self._records.append({"seq": self._last_seq, **record})

    def consume(self, max_items: int = 100, exclude_fields: Sequence[str] = ()) -> list[dict]:
        """Remove and return up to `max_items` records, oldest first, without `exclude_fields`."""
        with self._lock:
            count = min(max(max_items, 0), len(self._records))
            taken = [self._records.popleft() for _ in range(count)]
        return _without(taken, exclude_fields)

    def read(
        self, after: int = 0, max_items: int = 100, exclude_fields: Sequence[str] = ()
    ) -> list[dict]:
        """Up to `max_items` records with `seq > after`, oldest first, left in the buffer.

        A cursor ahead of the buffer comes from an earlier worker of the pipeline (its
        numbering restarted): that reader gets the buffer from its oldest record.
        """
        with self._lock:
            start = 0 if after > self._last_seq else after
            newer = (record for record in self._records if record["seq"] > start)
            taken = list(islice(newer, max(max_items, 0)))
        return _without(taken, exclude_fields)


def _without(records: Iterable[dict], fields: Sequence[str]) -> list[dict]:
    if not fields:
        return list(records)
    drop = set(fields)
    return [{k: v for k, v in record.items() if k not in drop} for record in records]
