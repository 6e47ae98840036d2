"""`AnalyticsSpec`: tracking, zones, lines and object events of one pipeline.

Coordinates are normalised to 0..1 of the frame (x to its width, y to its height), so zones
and lines survive a change of resolution.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field, field_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = ["AnalyticsSpec", "EventsSpec", "LineSpec", "TrackerSpec", "TrackerType", "ZoneSpec"]

Unit = Annotated[float, Field(ge=0, le=1)]
Point = tuple[Unit, Unit]
RegionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")]


class TrackerType(str, Enum):
    bytetrack = "bytetrack"
    none = "none"


class TrackerSpec(CoralBaseModel):
    type: TrackerType = Field(default=TrackerType.bytetrack, description="bytetrack or none.")


class ZoneSpec(CoralBaseModel):
    name: RegionName
    polygon: list[Point] = Field(min_length=3, max_length=64, description="[[x, y], ...] in 0..1.")
    classes: list[str] = Field(default_factory=list, description="Labels counted; empty: all.")


class LineSpec(CoralBaseModel):
    name: RegionName
    points: tuple[Point, Point] = Field(description="[[x1, y1], [x2, y2]] in 0..1.")
    classes: list[str] = Field(default_factory=list, description="Labels counted; empty: all.")


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
