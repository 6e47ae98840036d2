"""HTTP request counts and latency by route template, correct across ingress replicas.

Each ingress replica counts its own requests in memory and hands the increments to
MonitorService, which sums every replica's and serves them on /metrics. A replica sends
within `interval` of a request (one short-lived task, none while idle) and right before it
answers a scrape, so the replica being scraped is always current. Each report carries a
sequence number and a failed one is resent unchanged, so a report whose answer was lost is
never counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coral_serve.config import CoralConfig
from coral_serve.monitoring.http_stats import HttpStats
from coral_serve.services.client import ServiceClient

__all__ = ["HttpMetricsMiddleware", "HttpMetricsReporter", "install_http_metrics"]

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"
_MIN_INTERVAL = 1.0


def install_http_metrics(app: FastAPI, config: CoralConfig, monitor: ServiceClient) -> None:
    """Count requests when /metrics exists; `app.state.http_metrics` is the reporter or None."""
    monitoring = config.monitoring
    reporter = (
        HttpMetricsReporter(monitor, max(monitoring.poll_interval, _MIN_INTERVAL))
        if monitoring.serves_prometheus
        else None
    )
    app.state.http_metrics = reporter
    if reporter is not None:
        app.add_middleware(HttpMetricsMiddleware, reporter=reporter)


class HttpMetricsReporter:
    def __init__(self, monitor: ServiceClient, interval: float) -> None:
        self.replica = uuid.uuid4().hex
        self._monitor = monitor
        self._interval = interval
        self._pending = HttpStats()
        self._unsent: tuple[int, HttpStats] | None = None
        self._sequence = 0
        self._lock = asyncio.Lock()
        self._scheduled: asyncio.Task[None] | None = None

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._pending.observe(method, route, status, seconds)
        if self._scheduled is None or self._scheduled.done():
            self._scheduled = asyncio.create_task(self._push_later(), name="coral-http-metrics")

    async def push(self) -> None:
        """Send what was counted since the last report; raises if MonitorService does not
        take it (it is kept and sent again)."""
        async with self._lock:
            if self._unsent is None:
                if not self._pending:
                    return
                self._sequence += 1
                self._unsent, self._pending = (self._sequence, self._pending), HttpStats()
            sequence, stats = self._unsent
            await self._monitor.call("report_http", self.replica, sequence, stats)
            self._unsent = None

    async def _push_later(self) -> None:
        await asyncio.sleep(self._interval)
        try:
            await self.push()
        except Exception as exc:  # kept for the next request or scrape
            log.debug("HTTP metrics not reported yet: %r", exc)


class HttpMetricsMiddleware:
    """Pure ASGI, so streaming responses pass through untouched; the route template is read
    from the scope after routing, and unmatched paths share one label value."""

    def __init__(self, app: ASGIApp, reporter: HttpMetricsReporter) -> None:
        self._app = app
        self._reporter = reporter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self._reporter.observe(scope["method"], route, status, time.perf_counter() - started)
