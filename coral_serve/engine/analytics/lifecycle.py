"""Object events: one per tracked object, from its confirmation to `end_after_seconds` after
it was last seen, as revisions (start, update, end) that a store keeps the last of."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from coral_serve.engine.decoders.base import Detection
from coral_serve.schema.events import Crossing, EventPhase, ObjectEvent

__all__ = ["EventLifecycle", "Sighting"]

# A score must beat the best one by this much to make an update: scores wobble by a few
# hundredths from frame to frame, and a revision per wobble would flood the store.
_BETTER_BY = 0.05


@dataclass(frozen=True, slots=True)
class Sighting:
    """A tracked detection of this frame with the zones it is in."""

    track_id: int
    detection: Detection
    zones: list[str]


@dataclass(slots=True)
class _Open:
    id: str
    track_id: int
    label: str
    start: float
    last_seen: float
    best_score: float
    best_frame_id: int
    box: list[float]
    current_zones: list[str]
    zones: list[str] = field(default_factory=list)
    crossings: list[Crossing] = field(default_factory=list)
    revision: int = 0


class EventLifecycle:
    """Not thread-safe: the publish stage calls it with every frame's tracked detections."""

    def __init__(self, pipeline_id: str, end_after_seconds: float) -> None:
        self._pipeline_id = pipeline_id
        self._end_after = end_after_seconds
        self._open: dict[int, _Open] = {}

    @property
    def open_tracks(self) -> list[int]:
        return list(self._open)

    def observe(
        self,
        sightings: Sequence[Sighting],
        crossings: Sequence[Crossing],
        frame_id: int,
        timestamp: float,
    ) -> list[ObjectEvent]:
        """This frame's revisions: starts, updates, then the ends of tracks lost too long."""
        revisions = []
        for sighting in sightings:
            mine = [c for c in crossings if c.track_id == sighting.track_id]
            revision = self._seen(sighting, mine, frame_id, timestamp)
            if revision is not None:
                revisions.append(revision)
        lost = [
            event for event in self._open.values() if timestamp - event.last_seen >= self._end_after
        ]
        return revisions + [self._end(event) for event in lost]

    def end_all(self) -> list[ObjectEvent]:
        """End every open event (the pipeline stopped or its file ended)."""
        return [self._end(event) for event in list(self._open.values())]

    def _seen(
        self, sighting: Sighting, crossings: list[Crossing], frame_id: int, timestamp: float
    ) -> ObjectEvent | None:
        detection = sighting.detection
        box = [round(v, 2) for v in detection.box]
        event = self._open.get(sighting.track_id)
        if event is None:
            event = _Open(
                id=uuid.uuid4().hex,
                track_id=sighting.track_id,
                label=detection.class_name,
                start=timestamp,
                last_seen=timestamp,
                best_score=detection.score,
                best_frame_id=frame_id,
                box=box,
                current_zones=list(sighting.zones),
                zones=list(sighting.zones),
                crossings=list(crossings),
            )
            self._open[sighting.track_id] = event
            return self._revision(event, EventPhase.start)
        event.last_seen = timestamp
        changed = False
        if detection.score >= event.best_score + _BETTER_BY:
            event.best_score, event.best_frame_id, event.box = detection.score, frame_id, box
            changed = True
        if sighting.zones != event.current_zones:
            event.current_zones = list(sighting.zones)
            event.zones += [zone for zone in sighting.zones if zone not in event.zones]
            changed = True
        if crossings:
            event.crossings += crossings
            changed = True
        return self._revision(event, EventPhase.update) if changed else None

    def _end(self, event: _Open) -> ObjectEvent:
        del self._open[event.track_id]
        event.current_zones = []
        return self._revision(event, EventPhase.end, end=event.last_seen)

    def _revision(self, event: _Open, phase: EventPhase, end: float | None = None) -> ObjectEvent:
        event.revision += 1
        return ObjectEvent(
            id=event.id,
            pipeline_id=self._pipeline_id,
            track_id=event.track_id,
            label=event.label,
            phase=phase,
            revision=event.revision,
            start=event.start,
            end=end,
            best_score=round(min(max(event.best_score, 0.0), 1.0), 4),
            best_frame_id=event.best_frame_id,
            zones=list(event.zones),
            current_zones=list(event.current_zones),
            crossings=list(event.crossings),
            box=event.box,
        )
