"""What a batch of specs did (`apply`), or a reload of the descriptor's declared pipelines."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.changes import SpecChange

__all__ = ["ApplyPlan", "ApplyRequest", "PlannedChange", "ReloadPlan"]


class ApplyRequest(CoralBaseModel):
    """Create or update pipelines by name, like `kubectl apply`."""

    pipelines: list[dict[str, Any]] = Field(
        max_length=10_000,
        description="Pipeline specs; one with `template: NAME` is that entry of "
        "pipelines.templates deep-merged with its own fields.",
    )
    prune: bool = Field(
        default=False, description="Delete API-created pipelines not named in `pipelines`."
    )
    dry_run: bool = Field(default=False, description="Say what would change; change nothing.")


class PlannedChange(SpecChange):
    name: str = Field(description="The pipeline.")


class ApplyPlan(BaseModel):
    dry_run: bool = Field(default=False, description="Nothing was changed, only planned.")
    added: list[str] = Field(default_factory=list, description="Pipelines created.")
    changed: list[PlannedChange] = Field(
        default_factory=list, description="Pipelines changed, each hot or cold."
    )
    removed: list[str] = Field(default_factory=list, description="Pipelines deleted.")
    unchanged: list[str] = Field(default_factory=list, description="Pipelines as they were.")
    skipped: list[str] = Field(
        default_factory=list, description="Pipelines not applied, each with why."
    )

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


class ReloadPlan(ApplyPlan):
    """A reload applies the declared pipelines and templates; nothing else."""

    needs_redeploy: list[str] = Field(
        default_factory=list,
        description="Changed settings a reload cannot apply (ports, replicas, ...), as "
        "dotted keys: redeploy to apply them.",
    )
