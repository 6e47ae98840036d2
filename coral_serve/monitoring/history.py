"""Recent points per pipeline for the dashboard's charts, bounded in time and in count."""

from __future__ import annotations

import math
from collections import deque

from coral_serve.sinks.points import Point

__all__ = ["History"]


class History:
    """One deque per pipeline, at most `seconds / interval` samples long; a pipeline that
    stops reporting ages out entirely, so deleted pipelines do not accumulate."""

    def __init__(self, seconds: float, interval: float) -> None:
        self.seconds = seconds
        self._maxlen = math.ceil(seconds / interval) + 1
        self._series: dict[str, deque[Point]] = {}

    def add(self, key: str, point: Point) -> None:
        self._series.setdefault(key, deque(maxlen=self._maxlen)).append(point)

    def window(self, key: str, seconds: float, now: float) -> list[Point]:
        since = now - min(seconds, self.seconds)
        return [point for point in self._series.get(key, ()) if point.time >= since]

    def prune(self, now: float) -> None:
        cutoff = now - self.seconds
        for key in list(self._series):
            series = self._series[key]
            while series and series[0].time < cutoff:
                series.popleft()
            if not series:
                del self._series[key]
