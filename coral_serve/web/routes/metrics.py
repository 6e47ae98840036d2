"""`GET /metrics` (Prometheus exposition) and per-pipeline metric history for charts."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from coral_serve.config.http import Role
from coral_serve.errors import NotFoundError
from coral_serve.schema.analytics import LineCrossings
from coral_serve.schema.metrics import PipelineMetrics
from coral_serve.web.http_metrics import HttpMetricsReporter
from coral_serve.web.roles import require_role
from coral_serve.web.routes.pipelines import PipelineId
from coral_serve.web.services import Services, get_services

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["metrics"])
ServicesDep = Annotated[Services, Depends(get_services)]


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 404: {"description": "Not enabled"}},
    summary="Prometheus metrics of every pipeline and of the control plane",
    dependencies=[Depends(require_role(Role.viewer, only_if="protect_metrics"))],
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    reporter: HttpMetricsReporter | None = request.app.state.http_metrics
    if reporter is None:
        raise NotFoundError(
            "the prometheus sink is not configured (monitoring.sinks: [{type: prometheus}])"
        )
    try:
        await reporter.push()  # this replica's requests, so the scraped replica is current
    except Exception as exc:  # the exposition below says whether MonitorService is there
        log.debug("HTTP metrics not reported before the scrape: %r", exc)
    text: bytes = await services.monitor.call("metrics_text")
    return Response(text, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/v1/metrics/pipelines/{pipeline_id}",
    response_model=PipelineMetrics,
    responses={404: {"description": "No such pipeline"}},
    summary="Recent samples of a pipeline's fps, counters and latencies",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def pipeline_metrics(
    pipeline_id: PipelineId,
    services: ServicesDep,
    window: Annotated[
        float, Query(gt=0, le=86400, description="Seconds of history, up to what is kept.")
    ] = 300.0,
) -> PipelineMetrics:
    history: PipelineMetrics = await services.monitor.call("history", pipeline_id, window)
    if not history.samples:
        await services.pipelines.call("get", pipeline_id)  # 404 unless it exists
    return history


@router.get(
    "/api/v1/metrics/pipelines/{pipeline_id}/lines",
    response_model=list[LineCrossings],
    responses={404: {"description": "No such pipeline"}},
    summary="Total crossings of each of a pipeline's lines, by direction and label",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def line_crossings(pipeline_id: PipelineId, services: ServicesDep) -> list[LineCrossings]:
    """Counted since the pipeline began, across restarts of its worker (as of the last poll)."""
    await services.pipelines.call("get", pipeline_id)  # 404 unless it exists
    crossings: list[LineCrossings] = await services.monitor.call("line_crossings", pipeline_id)
    return crossings
