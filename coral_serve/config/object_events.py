"""`object_events`: where EventService keeps object events, how often it polls, what it keeps.

Named apart from `pipelines.events`, which is the retention of the *lifecycle log*
(created, started, failed); object events are what tracked objects did.
"""

from __future__ import annotations

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["ObjectEventsConfig"]


class ObjectEventsConfig(CoralBaseModel):
    store_path: str | None = Field(
        default=None,
        description="SQLite file of object events (and the notification outbox); null: "
        "`<data_dir>/object_events.db`. Its own file, so event writes never queue behind "
        "the pipeline store.",
    )
    poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between polls of every worker's events."
    )
    max_age_days: float = Field(
        default=14.0, gt=0, le=3650, description="Object events (and media) older than this go."
    )
    max_per_pipeline: int = Field(
        default=50_000, ge=1, le=10_000_000, description="Newest object events kept per pipeline."
    )
    max_media_bytes: int | None = Field(
        default=2 * 1024**3,
        ge=0,
        description="Bytes of snapshots and clips kept on each node's disk; beyond it the "
        "oldest media there go (the events stay, their clip marked deleted); null: no limit. "
        "They also count in `monitoring.disk.max_bytes` beside that node's recordings, and go "
        "first when both are over.",
    )
    retention_interval: float = Field(
        default=60.0, gt=0, le=86400, description="Seconds between retention passes."
    )
