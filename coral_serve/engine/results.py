"""Bounded ring of per-frame result records, drained by whoever consumes results."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["ResultsBuffer"]


class ResultsBuffer:
    """Thread-safe; when full the oldest record goes, so a slow consumer never stalls video."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._overflowed = 0

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
            self._records.append(record)

    def consume(self, max_items: int = 100, exclude_fields: Sequence[str] = ()) -> list[dict]:
        """Remove and return up to `max_items` records, oldest first, without `exclude_fields`."""
        with self._lock:
            count = min(max(max_items, 0), len(self._records))
            taken = [self._records.popleft() for _ in range(count)]
        if exclude_fields:
            drop = set(exclude_fields)
            taken = [{k: v for k, v in record.items() if k not in drop} for record in taken]
        return taken
