"""Object events: the life of one tracked object, as the worker reports it and the API shows it.

Named *object events* everywhere (API `/api/v1/events`, the Events page, the docs) so they
are never confused with a pipeline's *lifecycle log* (`/api/v1/pipelines/{id}/events`:
created, started, failed).

The worker makes every revision of an event; whoever stores or forwards it keeps the highest
`revision` per `id`, so a revision read twice (a retried poll, a restarted service) is
written once.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["ClipState", "Crossing", "CrossingDirection", "EventPhase", "ObjectEvent"]


class EventPhase(str, Enum):
    start = "start"  # the track was confirmed
    update = "update"  # new best score, zone entered or left, line crossed
    end = "end"  # the track was lost for `analytics.events.end_after_seconds`


class CrossingDirection(str, Enum):
    in_ = "in"
    out = "out"


class ClipState(str, Enum):
    none = "none"  # the pipeline makes no clips
    pending = "pending"  # still recording its post-capture seconds
    ready = "ready"
    failed = "failed"  # `clip_reason` says why
    deleted = "deleted"  # removed by retention or the disk quota; the event stays


class Crossing(CoralBaseModel):
    """One line crossing of one tracked object."""

    line: str
    direction: CrossingDirection
    track_id: int
    label: str
    frame_id: int
    timestamp: float


class ObjectEvent(CoralBaseModel):
    """One revision of one object event."""

    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="Made by the worker at start.")
    pipeline_id: str
    track_id: int
    label: str
    phase: EventPhase
    revision: int = Field(ge=1, description="1 at start, +1 for every later revision.")
    start: float = Field(description="Capture time of the first frame of the track.")
    end: float | None = Field(default=None, description="Set with phase `end`.")
    best_score: float = Field(ge=0, le=1)
    best_frame_id: int
    zones: list[str] = Field(default_factory=list, description="Every zone the object visited.")
    current_zones: list[str] = Field(default_factory=list, description="Zones it is in now.")
    crossings: list[Crossing] = Field(default_factory=list)
    box: list[float] = Field(description="Box [x1, y1, x2, y2] in pixels on the best frame.")
    has_snapshot: bool = Field(default=False, description="Best-frame JPEGs written.")
    clip: ClipState = ClipState.none
    clip_reason: str | None = None
