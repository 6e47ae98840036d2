"""What `POST /api/v1/config/reload` applied: declared pipelines added, changed, removed."""

from __future__ import annotations

from pydantic import BaseModel, Field

from coral_serve.schema.changes import SpecChange

__all__ = ["PlannedChange", "ReloadPlan"]


class PlannedChange(SpecChange):
    name: str = Field(description="The declared pipeline.")


class ReloadPlan(BaseModel):
    added: list[str] = Field(default_factory=list, description="Declared pipelines created.")
    changed: list[PlannedChange] = Field(
        default_factory=list, description="Declared pipelines changed, each hot or cold."
    )
    removed: list[str] = Field(
        default_factory=list, description="Pipelines no longer declared, deleted."
    )
    unchanged: list[str] = Field(default_factory=list, description="Declared and as they were.")
    skipped: list[str] = Field(
        default_factory=list,
        description="Declared pipelines not applied, with why (a name an API pipeline has).",
    )
    needs_redeploy: list[str] = Field(
        default_factory=list,
        description="Changed settings a reload cannot apply (ports, replicas, ...): dotted "
        "keys; redeploy to apply them.",
    )
