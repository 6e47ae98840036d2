"""Follow detections between frames and count crossings of a directed line."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Line", "LineCounter"]


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float

    def side(self, x: float, y: float) -> float:
        """Positive on one side of the line, negative on the other."""
        return (self.x2 - self.x1) * (y - self.y1) - (self.y2 - self.y1) * (x - self.x1)


@dataclass
class _Track:
    x: float
    y: float
    cls: str
    seen: float


@dataclass
class LineCounter:
    """Greedy nearest-centroid tracking: enough for sparse scenes at a steady frame rate."""

    line: Line
    classes: frozenset[str] = frozenset()
    max_jump: float = 80.0
    max_age: float = 2.0
    forward: int = 0
    backward: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    _tracks: list[_Track] = field(default_factory=list)

    def update(self, timestamp: float, detections: list[dict]) -> None:
        self._tracks = [t for t in self._tracks if timestamp - t.seen <= self.max_age]
        free = list(self._tracks)
        for detection in detections:
            cls = str(detection.get("class", ""))
            if self.classes and cls not in self.classes:
                continue
            x1, y1, x2, y2 = detection["box"]
            x, y = (x1 + x2) / 2, (y1 + y2) / 2
            track = self._nearest(free, x, y, cls)
            if track is None:
                self._tracks.append(_Track(x, y, cls, timestamp))
                continue
            free.remove(track)
            self._count(track, x, y)
            track.x, track.y, track.seen = x, y, timestamp

    def _nearest(self, candidates: list[_Track], x: float, y: float, cls: str) -> _Track | None:
        best, best_distance = None, self.max_jump
        for track in candidates:
            distance = math.hypot(track.x - x, track.y - y)
            if track.cls == cls and distance <= best_distance:
                best, best_distance = track, distance
        return best

    def _count(self, track: _Track, x: float, y: float) -> None:
        before, after = self.line.side(track.x, track.y), self.line.side(x, y)
        if before < 0 <= after:
            self.forward += 1
        elif before >= 0 > after:
            self.backward += 1
        else:
            return
        self.by_class[track.cls] += 1
