"""What the pipelines API returns: the stored definition joined with live status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coral_serve.store.pipelines import PipelineRecord

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

    state: str = Field(
        description="starting, downloading, running, paused, reconnecting, restarting, "
        "failed, finished, stopped or pending (waiting for resources)."
    )
    reason: str | None = Field(default=None, description="Why the pipeline failed.")
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
    origin: str = Field(description="api, or config for pipelines declared in the descriptor.")
    desired_state: str = Field(description="running or paused: what the reconciler enforces.")
    restart_policy: str
    generation: int
    created: float
    updated: float
    spec: dict[str, Any] = Field(description="The pipeline spec, credentials masked.")
    status: PipelineStatus

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
        )
