"""`AnalyticsSpec`: tracking, zones, lines and object events of one pipeline.

Coordinates are normalised to 0..1 of the frame (x to its width, y to its height), so zones
and lines survive a change of resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Literal

from pydantic import Field, field_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = [
    "AnalyticsSpec",
    "EventsSpec",
    "LineCrossings",
    "LineSpec",
    "TrackerSpec",
    "TrackerType",
    "ZoneSpec",
]

Unit = Annotated[float, Field(ge=0, le=1)]
Point = tuple[Unit, Unit]
RegionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")]


class TrackerType(str, Enum):
    bytetrack = "bytetrack"
    none = "none"


class TrackerSpec(CoralBaseModel):
    """ByteTrack's few knobs worth turning (the `trackers` library's names in brackets)."""

    type: TrackerType = Field(default=TrackerType.bytetrack, description="bytetrack or none.")
    activation_threshold: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Score a detection needs to start a track (track_activation_threshold).",
    )
    high_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Scores below this only extend tracks, in ByteTrack's second matching "
        "pass (high_conf_det_threshold).",
    )
    lost_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a lost track can still be matched again (lost_track_buffer).",
    )
    min_iou: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Overlap a detection needs with a track to extend it (minimum_iou_threshold).",
    )
    confirm_frames: int = Field(
        default=2,
        ge=1,
        le=30,
        description="Consecutive frames before a track gets its id (minimum_consecutive_frames).",
    )


class ZoneSpec(CoralBaseModel):
    """An object is in the zone when the bottom centre of its box (where it stands) is."""

    name: RegionName
    polygon: list[Point] = Field(min_length=3, max_length=64, description="[[x, y], ...] in 0..1.")
    classes: list[str] = Field(default_factory=list, description="Labels counted; empty: all.")
    min_frames: int = Field(
        default=1,
        ge=1,
        le=300,
        description="Consecutive frames inside before a tracked object counts as in the zone "
        "(keeps a box that flickers on the edge from entering and leaving).",
    )
    loiter_seconds: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="Seconds inside before a tracked object counts as in the zone: 0 counts "
        "passers-by, more counts only those who stay.",
    )

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[Point]) -> list[Point]:
        doubled = sum(
            x1 * y2 - x2 * y1
            for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
        )
        if abs(doubled) < 1e-9:
            raise ValueError("the polygon has no area: its points are repeated or on one line")
        return polygon


class LineSpec(CoralBaseModel):
    name: RegionName
    points: tuple[Point, Point] = Field(
        description="[[x1, y1], [x2, y2]] in 0..1. Direction `in` is crossing from the left "
        "of the way from the first point to the second to its right, as seen on the image "
        "(a line drawn left to right: downwards)."
    )
    classes: list[str] = Field(default_factory=list, description="Labels counted; empty: all.")

    @field_validator("points")
    @classmethod
    def _has_length(cls, points: tuple[Point, Point]) -> tuple[Point, Point]:
        if points[0] == points[1]:
            raise ValueError("the line's two points are the same")
        return points


class EventsSpec(CoralBaseModel):
    enabled: bool = Field(default=True, description="Report object events of tracked objects.")
    end_after_seconds: float = Field(
        default=2.0, gt=0, le=600, description="A track lost this long ends its event."
    )
    snapshot: bool = Field(default=True, description="Keep a best-frame snapshot and crop.")
    clip: bool = Field(default=False, description="Keep an MP4 clip of every event.")
    pre_capture: float = Field(
        default=3.0, ge=0, le=60, description="Seconds of video kept before an event starts."
    )
    post_capture: float = Field(
        default=3.0, ge=0, le=60, description="Seconds of video kept after an event ends."
    )
    buffer: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Event revisions the worker keeps until the event service reads them.",
    )


class AnalyticsSpec(CoralBaseModel):
    tracker: TrackerSpec = Field(default_factory=TrackerSpec)
    # Hot (see schema/changes.py): the worker redraws zones and lines without a restart.
    zones: list[ZoneSpec] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-apply": "hot"}
    )
    lines: list[LineSpec] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-apply": "hot"}
    )
    events: EventsSpec = Field(default_factory=EventsSpec)

    @field_validator("zones", "lines")
    @classmethod
    def _unique_names(cls, regions: list[ZoneSpec] | list[LineSpec]) -> list:
        names = [region.name for region in regions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"names must be unique; repeated: {', '.join(duplicates)}")
        return regions

    def check_classes(self, known: Sequence[str]) -> None:
        """Raise ValueError naming the first zone or line that counts a class the model never
        reports (it would count nothing, silently); `known`: the model's class list."""
        names = set(known)
        for key, regions in (("zones", self.zones), ("lines", self.lines)):
            for index, region in enumerate(regions):
                unknown = [label for label in region.classes if label not in names]
                if unknown:
                    raise ValueError(
                        f"analytics.{key}[{index}].classes: {', '.join(map(repr, unknown))} "
                        f"not among the model's classes ({', '.join(known[:20])}"
                        f"{', ...' if len(known) > 20 else ''})"
                    )


class LineCrossings(CoralBaseModel):
    """How many objects of one label crossed one line in one direction, in total: what
    `coral_line_crossings_total` exports, kept across worker restarts."""

    line: str
    direction: Literal["in", "out"]
    label: str
    count: int = Field(ge=0)
