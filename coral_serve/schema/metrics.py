"""A pipeline's recent metric samples, as `GET /api/v1/metrics/pipelines/{id}` sends them."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["FieldValue", "MetricSample", "PipelineMetrics"]

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
