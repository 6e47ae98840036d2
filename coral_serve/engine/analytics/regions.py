"""Zones and lines: who is in which zone now, and who crossed which line, per tracked object."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from coral_serve.engine.analytics.geometry import Point, crossed, inside, side
from coral_serve.schema.analytics import LineSpec, ZoneSpec
from coral_serve.schema.events import Crossing, CrossingDirection

__all__ = ["Regions", "Seen"]


@dataclass(frozen=True, slots=True)
class Seen:
    """One detection of a frame: its label, track id (None: not tracked) and where it stands."""

    label: str
    track_id: int | None
    point: Point


@dataclass(slots=True)
class _Stay:
    since: float  # capture time of the first frame inside
    frames: int  # consecutive frames seen inside


def _counts(classes: Sequence[str], label: str) -> bool:
    return not classes or label in classes


class Regions:
    """Not thread-safe: the publish stage calls it; others read copies of its counts."""

    def __init__(
        self, zones: Sequence[ZoneSpec], lines: Sequence[LineSpec], tracking: bool = True
    ) -> None:
        """`tracking`: whether a tracker gives ids (a detection without one is then not yet
        confirmed, and in no zone)."""
        self._tracking = tracking
        self.zones = list(zones)
        self.lines = list(lines)
        self._stays: dict[tuple[str, int], _Stay] = {}
        # Per track and line: the track's last point off the line.
        self._off_line: dict[tuple[int, str], Point] = {}
        self.occupancy: dict[str, dict[str, int]] = {zone.name: {} for zone in self.zones}
        self.totals: dict[str, dict[str, dict[str, int]]] = {line.name: {} for line in self.lines}

    def observe(
        self, seen: Sequence[Seen], frame_id: int, timestamp: float
    ) -> tuple[list[list[str]], list[Crossing]]:
        """The zones each detection is in, and this frame's crossings, oldest state updated.

        A tracked object enters a zone after `min_frames` frames and `loiter_seconds` inside;
        without a tracker a detection is in the zones its point is in. Only tracked
        objects cross lines: a crossing is the move between two sightings of one track.
        """
        zones = [self._zones_of(item, timestamp) for item in seen]
        occupancy: dict[str, Counter[str]] = {zone.name: Counter() for zone in self.zones}
        for item, names in zip(seen, zones, strict=True):
            for name in names:
                occupancy[name][item.label] += 1
        self.occupancy = {name: dict(counter) for name, counter in occupancy.items()}
        crossings = [c for item in seen for c in self._crossings_of(item, frame_id, timestamp)]
        return zones, crossings

    def redraw(self, zones: Sequence[ZoneSpec], lines: Sequence[LineSpec]) -> None:
        """New zones and lines (a hot update); a line kept by name keeps its totals."""
        self.zones, self.lines = list(zones), list(lines)
        self._stays.clear()
        kept = {line.name for line in self.lines}
        self._off_line = {key: p for key, p in self._off_line.items() if key[1] in kept}
        self.occupancy = {zone.name: {} for zone in self.zones}
        self.totals = {line.name: self.totals.get(line.name, {}) for line in self.lines}

    def forget(self, track_id: int) -> None:
        """Drop what is kept about a track that ended."""
        for key in [key for key in self._stays if key[1] == track_id]:
            del self._stays[key]
        for key in [key for key in self._off_line if key[0] == track_id]:
            del self._off_line[key]

    def _zones_of(self, item: Seen, timestamp: float) -> list[str]:
        names = []
        for zone in self.zones:
            here = _counts(zone.classes, item.label) and inside(zone.polygon, item.point)
            if item.track_id is None:
                if here and not self._tracking:
                    names.append(zone.name)
                continue
            key = (zone.name, item.track_id)
            if not here:
                self._stays.pop(key, None)
                continue
            stay = self._stays.setdefault(key, _Stay(since=timestamp, frames=0))
            stay.frames += 1
            if stay.frames >= zone.min_frames and timestamp - stay.since >= zone.loiter_seconds:
                names.append(zone.name)
        return names

    def _crossings_of(self, item: Seen, frame_id: int, timestamp: float) -> list[Crossing]:
        if item.track_id is None:
            return []
        found = []
        for line in self.lines:
            start, end = line.points
            if not _counts(line.classes, item.label) or side(start, end, item.point) == 0:
                continue  # a point on the line: the next one off it tells where it went
            key = (item.track_id, line.name)
            before = self._off_line.get(key)
            self._off_line[key] = item.point
            way = crossed(start, end, before, item.point) if before is not None else 0
            if way == 0:
                continue
            direction = CrossingDirection.in_ if way > 0 else CrossingDirection.out
            per_label = self.totals[line.name].setdefault(direction.value, {})
            per_label[item.label] = per_label.get(item.label, 0) + 1
            found.append(
                Crossing(
                    line=line.name,
                    direction=direction,
                    track_id=item.track_id,
                    label=item.label,
                    frame_id=frame_id,
                    timestamp=timestamp,
                )
            )
        return found
