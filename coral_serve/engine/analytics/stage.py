"""`AnalyticsStage`: what the publish stage adds to every frame's detections."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coral_serve.engine.analytics.geometry import anchor
from coral_serve.engine.analytics.lifecycle import EventLifecycle, Sighting
from coral_serve.engine.analytics.regions import Regions, Seen
from coral_serve.engine.analytics.tracking import ObjectTracker
from coral_serve.engine.decoders.base import Detection
from coral_serve.engine.results import ResultsBuffer
from coral_serve.schema.analytics import AnalyticsSpec
from coral_serve.schema.events import EventPhase, ObjectEvent

__all__ = ["AnalyticsStage", "FrameAnalytics"]


@dataclass(frozen=True, slots=True)
class FrameAnalytics:
    detections: list[dict[str, Any]]  # the record's: with `track_id` and `zones`
    crossings: list[dict[str, Any]]  # the record's: this frame's line crossings
    revisions: list[ObjectEvent]  # the object-event revisions this frame made


class AnalyticsStage:
    """Tracker, zones and lines, and object events of one pipeline.

    `process` runs in the publish stage only; `counts` and `read_events` from any thread.
    Revisions wait in a bounded buffer, read by cursor like result records.
    """

    def __init__(self, pipeline_id: str, spec: AnalyticsSpec) -> None:
        self._spec = spec
        self._tracker = ObjectTracker(spec.tracker)
        self._regions = Regions(spec.zones, spec.lines, tracking=self._tracker.enabled)
        self._lifecycle = EventLifecycle(pipeline_id, spec.events.end_after_seconds)
        self._events = ResultsBuffer(spec.events.buffer)
        self._objects: dict[str, int] = {}  # the newest frame's detections per label
        self._lock = threading.Lock()

    def process(
        self,
        detections: Sequence[Detection],
        frame_id: int,
        timestamp: float,
        size: tuple[int, int],
        spec: AnalyticsSpec,
    ) -> FrameAnalytics:
        """`size`: the frame's (width, height); `spec`: the pipeline's analytics now (zones
        and lines may change while it runs)."""
        track_ids = self._tracker.assign(detections, timestamp)
        seen = [
            Seen(d.class_name, track_id, anchor(d.box, *size))
            for d, track_id in zip(detections, track_ids, strict=True)
        ]
        with self._lock:
            if spec.zones != self._spec.zones or spec.lines != self._spec.lines:
                self._regions.redraw(spec.zones, spec.lines)
            self._spec = spec
            zones, crossings = self._regions.observe(seen, frame_id, timestamp)
            self._objects = dict(Counter(d.class_name for d in detections))
        sightings = [
            Sighting(track_id, detection, names)
            for detection, track_id, names in zip(detections, track_ids, zones, strict=True)
            if track_id is not None
        ]
        revisions = self._lifecycle.observe(sightings, crossings, frame_id, timestamp)
        self._forget_ended(revisions)
        records = [
            {**detection.as_dict(), "track_id": track_id, "zones": names}
            for detection, track_id, names in zip(detections, track_ids, zones, strict=True)
        ]
        return FrameAnalytics(
            records,
            [crossing.model_dump(mode="json") for crossing in crossings],
            revisions if self._spec.events.enabled else [],
        )

    def finish(self) -> list[ObjectEvent]:
        """End every open event: the pipeline stopped or its file ended."""
        revisions = self._lifecycle.end_all()
        self._forget_ended(revisions)
        return revisions if self._spec.events.enabled else []

    def keep(self, revisions: Sequence[ObjectEvent]) -> None:
        """Make revisions readable by `read_events` (after the media hook saw them)."""
        for revision in revisions:
            self._events.append(revision.model_dump(mode="json"))

    def read_events(self, after: int, max_items: int) -> list[dict[str, Any]]:
        """Revisions with `seq` > `after`, oldest first, left for other readers."""
        return self._events.read(after, max_items)

    def counts(self) -> dict[str, Any]:
        """`objects`: the newest frame's detections per label; `zones`: objects in each
        zone now, per label; `lines`: crossings since the worker started, per direction and
        label."""
        with self._lock:
            regions = self._regions
            return {
                "objects": dict(self._objects),
                "zones": {name: dict(per) for name, per in regions.occupancy.items()},
                "lines": {
                    name: {way: dict(totals.get(way, {})) for way in ("in", "out")}
                    for name, totals in regions.totals.items()
                },
            }

    def _forget_ended(self, revisions: Sequence[ObjectEvent]) -> None:
        ended = [revision.track_id for revision in revisions if revision.phase is EventPhase.end]
        if ended:
            with self._lock:
                for track_id in ended:
                    self._regions.forget(track_id)
