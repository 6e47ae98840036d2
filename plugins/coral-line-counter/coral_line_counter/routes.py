"""HTTP routes of the plugin: set a counting line on a pipeline, read what crossed it.

The plugin counts nothing itself. Its line is one of the pipeline's own `analytics.lines`
(applied hot, stored with the pipeline), so the worker's tracker counts the crossings and the
monitor keeps the totals across worker restarts; the plugin only writes and reads them
through the service clients every plugin gets.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from coral_serve.config.http import Role
from coral_serve.errors import NotFoundError
from coral_serve.plugins.specs import PluginContext
from coral_serve.schema.analytics import LineCrossings, LineSpec
from coral_serve.schema.views import PipelineView
from coral_serve.web.roles import require_role

__all__ = ["LINE_NAME", "build_router", "count_crossings"]

PipelineId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
LINE_NAME = "line-counter"  # the name of the plugin's line among the pipeline's lines


class LineBody(LineSpec):
    """The pipeline's own line spec (its validation included), under the plugin's name."""

    name: Literal["line-counter"] = Field(default=LINE_NAME, description="Always the plugin's.")


class Counts(BaseModel):
    pipeline_id: str
    line: LineBody
    crossed_in: int = Field(description="Crossings in the line's `in` direction.")
    crossed_out: int = Field(description="Crossings the other way.")
    by_class: dict[str, int] = Field(description="Crossings either way, per label.")


def build_router(context: PluginContext) -> APIRouter:
    router = APIRouter(tags=["plugin: line-counter"])
    pipelines, monitor = context.services.pipelines, context.services.monitor

    @router.put("/lines/{pipeline_id}", response_model=Counts)
    async def set_line(pipeline_id: PipelineId, body: LineBody) -> Counts:
        view: PipelineView = await pipelines.call("get", pipeline_id)  # 404 if unknown
        others = [item for item in _lines(view) if item.get("name") != LINE_NAME]
        patch = {"analytics": {"lines": [*others, body.model_dump(mode="json")]}}
        await pipelines.call("update", pipeline_id, patch)  # hot: the worker keeps running
        return await _counts(pipeline_id, body)

    # Reading counts is viewer-readable; setting a line stays admin-only (the default).
    @router.get(
        "/counts/{pipeline_id}",
        response_model=Counts,
        dependencies=[Depends(require_role(Role.viewer))],
    )
    async def get_counts(pipeline_id: PipelineId) -> Counts:
        view: PipelineView = await pipelines.call("get", pipeline_id)
        mine = [item for item in _lines(view) if item.get("name") == LINE_NAME]
        if not mine:
            raise NotFoundError(f"no line set for pipeline {pipeline_id!r}; PUT one first")
        return await _counts(pipeline_id, LineBody.model_validate(mine[0]))

    async def _counts(pipeline_id: str, line: LineBody) -> Counts:
        crossings: list[LineCrossings] = await monitor.call("line_crossings", pipeline_id)
        return count_crossings(pipeline_id, line, crossings)

    return router


def count_crossings(pipeline_id: str, line: LineBody, crossings: list[LineCrossings]) -> Counts:
    """The plugin's line out of all of the pipeline's line totals."""
    ways: Counter[str] = Counter()
    by_class: Counter[str] = Counter()
    for crossing in crossings:
        if crossing.line == LINE_NAME:
            ways[crossing.direction] += crossing.count
            by_class[crossing.label] += crossing.count
    return Counts(
        pipeline_id=pipeline_id,
        line=line,
        crossed_in=ways["in"],
        crossed_out=ways["out"],
        by_class=dict(by_class),
    )


def _lines(view: PipelineView) -> list[dict[str, Any]]:
    analytics = view.spec.get("analytics") or {}
    return list(analytics.get("lines") or [])
