"""What the pipelines API returns: the stored definition joined with live status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coral_serve.schema.records import BrokenRow, PipelineRecord
from coral_serve.schema.state import PipelineState

__all__ = ["Counters", "Latency", "LatencySummary", "PipelineStatus", "PipelineView"]


class LatencySummary(BaseModel):
    last: float | None = Field(default=None, description="Latest sample, seconds.")
    mean: float | None = Field(default=None, description="Mean over the recent window.")
    p95: float | None = Field(default=None, description="95th percentile of the window.")


class Latency(BaseModel):
    inference: LatencySummary = Field(default_factory=LatencySummary, description="Model time.")
    end_to_end: LatencySummary = Field(
        default_factory=LatencySummary, description="Capture to published frame."
    )


class Counters(BaseModel):
    frames_read: int = Field(default=0, description="Frames taken from the source.")
    frames_processed: int = Field(default=0, description="Frames through the model.")
    frames_dropped: int = Field(default=0, description="Frames skipped to stay live.")
    reconnects: int = Field(default=0, description="Times the source was reopened.")


class PipelineStatus(BaseModel):
    """Live state of a pipeline; extra fields a worker reports are passed through."""

    model_config = ConfigDict(extra="allow")

    state: PipelineState = Field(
        description="starting, downloading, running, paused, reconnecting, restarting, "
        "failed, finished, stopped, pending (waiting for resources) or broken (the stored "
        "row cannot be read)."
    )
    reason: str | None = Field(
        default=None, description="Why the pipeline failed, or why its row cannot be read."
    )
    fps: float = Field(default=0.0, description="Frames processed per second, recently.")
    counters: Counters = Field(default_factory=Counters, description="Frame counters.")
    latency: Latency = Field(default_factory=Latency, description="Latencies in seconds.")
    width: int | None = Field(default=None, description="Frame width.")
    height: int | None = Field(default=None, description="Frame height.")
    restarts: int = Field(default=0, description="Restarts by the restart policy.")
    generation: int = Field(default=0, description="Generation of the running worker.")


class PipelineView(BaseModel):
    id: str
    name: str
    origin: str = Field(
        description="api, or config for pipelines declared in the descriptor; unknown when broken."
    )
    desired_state: str = Field(description="running or paused: what the reconciler enforces.")
    restart_policy: str
    generation: int
    created: float
    updated: float
    spec: dict[str, Any] = Field(
        description="The pipeline spec, credentials masked; empty when broken."
    )
    status: PipelineStatus
    revision: int = Field(
        default=0, description="Revision of the spec; GET sends it as the ETag for If-Match."
    )
    template: str | None = Field(
        default=None, description="Template the spec was resolved from, if any."
    )
    broken: bool = Field(
        default=False,
        description="The stored row cannot be read: it does not run and can only be deleted; "
        "status.reason says why.",
    )

    @classmethod
    def of(cls, record: PipelineRecord, status: PipelineStatus) -> PipelineView:
        return cls(
            id=record.id,
            name=record.name,
            origin=record.origin.value,
            desired_state=record.desired_state.value,
            restart_policy=record.restart_policy.value,
            generation=record.generation,
            created=record.created,
            updated=record.updated,
            spec=record.spec.public_dict(),
            status=status,
            revision=record.revision,
            template=record.template,
        )

    @classmethod
    def of_broken(cls, row: BrokenRow) -> PipelineView:
        """A quarantined row: listed so it can be seen and deleted, never its stored spec."""
        return cls(
            id=row.id,
            name=row.name,
            origin="unknown",
            desired_state="unknown",
            restart_policy="unknown",
            generation=0,
            created=row.created,
            updated=row.created,
            spec={},
            status=PipelineStatus(state=PipelineState.broken, reason=row.reason),
            broken=True,
        )
