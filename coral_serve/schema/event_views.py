"""What the object-events API answers: a stored event and a page of them (media files are
described by `RecordingFile`, like recordings)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.events import ObjectEvent

__all__ = ["EventFilter", "ObjectEventPage", "StoredObjectEvent"]


class StoredObjectEvent(ObjectEvent):
    """The highest revision stored of one object event."""

    generation: int = Field(description="Generation of the worker that reported it.")
    updated: float = Field(description="When the store last changed it (epoch seconds).")
    ended_by: str | None = Field(
        default=None,
        description="`store` when the event was ended for a worker that stopped without "
        "ending it; null when its worker ended it.",
    )


class ObjectEventPage(CoralBaseModel):
    events: list[StoredObjectEvent]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page; null: no more."
    )


@dataclass(frozen=True)
class EventFilter:
    """Which events a page holds (every field optional)."""

    pipeline_id: str | None = None
    label: str | None = None
    zone: str | None = None
    after: float | None = None  # start >= after
    before: float | None = None  # start < before
