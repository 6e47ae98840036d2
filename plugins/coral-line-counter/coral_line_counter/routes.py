"""HTTP routes of the plugin: set a line per pipeline, read its counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from coral_line_counter.counting import Line, LineCounter
from coral_serve.config.http import Role
from coral_serve.errors import NotFoundError
from coral_serve.plugins.specs import PluginContext
from coral_serve.web.roles import require_role

__all__ = ["build_router"]

PipelineId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_POLL_BATCH = 500


class LineBody(BaseModel):
    x1: float = Field(description="Line start, x in frame pixels.")
    y1: float = Field(description="Line start, y in frame pixels.")
    x2: float = Field(description="Line end, x.")
    y2: float = Field(description="Line end, y.")
    classes: list[str] = Field(default_factory=list, description="Classes counted; empty: all.")


class Counts(BaseModel):
    pipeline_id: str
    line: LineBody
    forward: int = Field(description="Crossings from the line's left to its right.")
    backward: int = Field(description="Crossings the other way.")
    by_class: dict[str, int]


def build_router(context: PluginContext) -> APIRouter:
    router = APIRouter(tags=["plugin: line-counter"])
    counters: dict[str, tuple[LineBody, LineCounter]] = {}
    # The `seq` of the last result each counter has seen: reading never takes results away
    # from other readers of the pipeline.
    cursors: dict[str, int] = {}
    pipelines = context.services.pipelines

    @router.put("/lines/{pipeline_id}", response_model=Counts)
    async def set_line(pipeline_id: PipelineId, body: LineBody) -> Counts:
        await pipelines.call("get", pipeline_id)  # 404 for unknown pipelines
        line = Line(body.x1, body.y1, body.x2, body.y2)
        counters[pipeline_id] = (body, LineCounter(line, frozenset(body.classes)))
        cursors[pipeline_id] = 0
        return _counts(pipeline_id, *counters[pipeline_id])

    # Reading counts is viewer-readable; setting a line stays admin-only (the default).
    @router.get(
        "/counts/{pipeline_id}",
        response_model=Counts,
        dependencies=[Depends(require_role(Role.viewer))],
    )
    async def get_counts(pipeline_id: PipelineId) -> Counts:
        if pipeline_id not in counters:
            raise NotFoundError(f"no line set for pipeline {pipeline_id!r}; PUT one first")
        body, counter = counters[pipeline_id]
        results = await pipelines.call(
            "read_results", pipeline_id, cursors[pipeline_id], _POLL_BATCH, []
        )
        for result in results:  # oldest first
            counter.update(result["timestamp"], result["detections"])
        if results:
            cursors[pipeline_id] = results[-1]["seq"]
        return _counts(pipeline_id, body, counter)

    return router


def _counts(pipeline_id: str, body: LineBody, counter: LineCounter) -> Counts:
    return Counts(
        pipeline_id=pipeline_id,
        line=body,
        forward=counter.forward,
        backward=counter.backward,
        by_class=dict(counter.by_class),
    )
