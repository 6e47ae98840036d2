"""Stored rows of desired pipeline state and their lifecycle events, as the API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from coral_serve.schema.spec import PipelineSpec, RestartPolicy
from coral_serve.schema.state import DesiredState, Origin

__all__ = ["PIPELINE_ID_PATTERN", "BrokenRow", "PipelineEvent", "PipelineRecord"]

PIPELINE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""What a pipeline id looks like: the routes and the recordings directory names check it."""


class PipelineRecord(BaseModel):
    """What a user asked for; the reconciler makes the running workers match it."""

    id: str
    name: str
    spec: PipelineSpec
    desired_state: DesiredState
    restart_policy: RestartPolicy
    origin: Origin
    generation: int = Field(description="Bumped on every restart so stale workers are replaced.")
    created: float
    updated: float
    revision: int = Field(
        default=1, description="Bumped on every change of the spec: the ETag of writes."
    )
    template: str | None = Field(
        default=None, description="Template the spec was resolved from (pipelines.templates)."
    )


class PipelineEvent(BaseModel):
    seq: int
    pipeline_id: str
    ts: float
    kind: str
    detail: str


class BrokenRow(BaseModel):
    """A stored row that no longer reads back: it never runs, is reported, and can be deleted."""

    id: str
    name: str
    created: float
    reason: str
