"""HTTP request counts and latencies by method, route template and status."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from coral_serve.sinks.histogram import Histogram

__all__ = ["HTTP_BUCKETS", "HttpStats"]

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Anything else is folded into one label value, so odd clients cannot create series at will.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

RequestKey = tuple[str, str, str]


class HttpStats:
    """Keys are bounded: route templates (not paths), known methods and status codes."""

    def __init__(self) -> None:
        self.series: dict[RequestKey, Histogram] = {}

    def __bool__(self) -> bool:
        return bool(self.series)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in _METHODS else "OTHER", route, str(status))
        histogram = self.series.get(key)
        if histogram is None:
            histogram = self.series[key] = Histogram(HTTP_BUCKETS)
        histogram.observe(seconds)

    def merge(self, other: HttpStats) -> None:
        for key, histogram in other.series.items():
            mine = self.series.get(key)
            if mine is None:
                mine = self.series[key] = Histogram(HTTP_BUCKETS)
            mine.merge(histogram)

    def collect(self) -> Iterator[Metric]:
        """Prometheus families: requests by status, latency by route (statuses summed)."""
        requests = CounterMetricFamily(
            "coral_http_requests",
            "HTTP requests answered by the ingress, all replicas together.",
            labels=["method", "route", "status"],
        )
        by_route: dict[tuple[str, str], Histogram] = {}
        for (method, route, status), histogram in sorted(self.series.items()):
            requests.add_metric([method, route, status], histogram.count)
            by_route.setdefault((method, route), Histogram(HTTP_BUCKETS)).merge(histogram)
        latency = HistogramMetricFamily(
            "coral_http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            labels=["method", "route"],
        )
        for (method, route), histogram in by_route.items():
            latency.add_metric([method, route], histogram.cumulative(), histogram.sum)
        yield requests
        yield latency
