"""A pipeline's recent metric samples, as `GET /api/v1/metrics/pipelines/{id}` sends them."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["FieldValue", "MetricSample", "PipelineMetrics", "SinkStatus"]

FieldValue = float | int | str


class MetricSample(BaseModel):
    time: float = Field(description="Unix time of the poll, seconds.")
    values: dict[str, FieldValue] = Field(
        description="fps, state, frame counters, viewers and latencies (`*_seconds`)."
    )


class PipelineMetrics(BaseModel):
    pipeline_id: str = Field(description="Pipeline id.")
    window: float = Field(description="Seconds of history asked for (capped by what is kept).")
    poll_interval: float = Field(description="Seconds between samples.")
    samples: list[MetricSample] = Field(description="Oldest first.")


class SinkStatus(BaseModel):
    name: str = Field(description="Sink name: its type, or the plugin's entry point name.")
    up: bool = Field(description="False after a failed write, until a write succeeds.")
    buffered: int = Field(description="Points waiting to be written (including in flight).")
    capacity: int = Field(description="Most points kept while the sink is down.")
    written: int = Field(description="Points delivered since start.")
    dropped: int = Field(description="Oldest points discarded because the buffer was full.")
    failures: int = Field(description="Consecutive failed writes.")
    last_error: str | None = Field(default=None, description="Why the last write failed.")
    down_since: float | None = Field(default=None, description="Unix time of the first failure.")
    retry_in: float | None = Field(default=None, description="Seconds until the next attempt.")
