"""/metrics and the chart history through the real web app, with a real pipeline."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from coral_serve.monitoring.http_stats import HttpStats
from coral_serve.web import Services, create_web_app
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

PIPELINES = "/api/v1/pipelines"


def samples(text: str, metric: str, /, **labels: str) -> list[float]:
    """Values of the exposition's samples called `metric` whose labels include `labels`."""
    return [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric and labels.items() <= sample.labels.items()
    ]


@pytest.fixture
async def prometheus_app(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "monitoring=prometheus",
        "monitoring.poll_interval=0.2",
        "monitoring.flush_interval=0.3",
    )
    async with running_app(config) as (client, services):
        spec = {
            "name": "lobby",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
        }
        created = await client.post(PIPELINES, json=spec)
        assert created.status_code == 201, created.text
        pipeline_id = created.json()["id"]
        yield client, {**services, "pipeline_id": pipeline_id, "config": config}
        await client.delete(f"{PIPELINES}/{pipeline_id}")  # in-process workers outlive services


async def test_metrics_expose_a_running_pipeline_until_it_is_deleted(
    prometheus_app: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, services = prometheus_app
    pipeline_id = services["pipeline_id"]
    mine = {"pipeline": pipeline_id, "name": "lobby"}

    async def scrape() -> str:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    text = await eventually(
        scrape, lambda t: any(v > 0 for v in samples(t, "coral_pipeline_fps", **mine))
    )
    assert samples(text, "coral_pipeline_state", state="running", **mine) == [1.0]
    assert samples(text, "coral_pipeline_state", state="failed", **mine) == [0.0]
    assert samples(text, "coral_pipeline_frames_total", **mine)[0] > 0
    assert samples(text, "coral_pipeline_dropped_frames_total", **mine) == [0.0]
    assert samples(text, "coral_pipeline_reconnects_total", **mine) == [0.0]
    assert samples(text, "coral_stream_viewers", **mine) == [0.0]
    assert samples(text, "coral_pipeline_e2e_latency_seconds", stat="p95", **mine)[0] > 0
    assert samples(text, "coral_sink_up", sink="prometheus") == [1.0]

    # StreamService replicas report their viewers; the gauge sums them.
    await services["monitor"].report_viewers("stream-a", {pipeline_id: 2})
    await services["monitor"].report_viewers("stream-b", {pipeline_id: 1})
    await eventually(scrape, lambda t: samples(t, "coral_stream_viewers", **mine) == [3.0])

    await client.delete(f"{PIPELINES}/{pipeline_id}")
    text = await eventually(scrape, lambda t: not samples(t, "coral_pipeline_fps", **mine))
    assert not samples(text, "coral_pipeline_state", **mine)


async def test_http_requests_are_counted_by_route_template(
    prometheus_app: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, _ = prometheus_app
    for _ in range(3):
        assert (await client.get(f"{PIPELINES}/no-such-pipeline")).status_code == 404
    assert (await client.get("/wp-admin/setup.php")).status_code == 404
    text = (await client.get("/metrics")).text
    route = "/api/v1/pipelines/{pipeline_id}"
    assert samples(text, "coral_http_requests_total", route=route, status="404") == [3.0]
    assert samples(text, "coral_http_requests_total", route="unmatched", status="404") == [1.0]
    assert samples(
        text, "coral_http_request_duration_seconds_count", method="GET", route=route
    ) == [3.0]
    assert samples(text, "coral_http_requests_total", route=PIPELINES, method="POST") == [1.0]
    assert "no-such-pipeline" not in text and "wp-admin" not in text

    assert (await client.get("/readyz")).status_code == 200
    text = await eventually(
        lambda: client.get("/metrics"), lambda r: samples(r.text, "coral_ready") == [1.0]
    )
    assert samples(text.text, "coral_health_check_ok", check="store", required="true") == [1.0]
    assert samples(text.text, "coral_health_check_ok", check="sinks", required="false") == [1.0]


async def test_every_ingress_replica_serves_the_same_totals(
    prometheus_app: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    """Two ingress apps over one MonitorService, as Serve runs two ingress replicas."""
    client, services = prometheus_app
    other_app = create_web_app(
        services["config"],
        Services.wrap(**{k: services[k] for k in ("pipelines", "streams", "monitor", "health")}),
    )
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://coral.test") as other:
        for replica, count in ((client, 3), (other, 2)):
            for _ in range(count):
                assert (await replica.get("/healthz")).status_code == 200

        def healthz(text: str) -> list[float]:
            return samples(text, "coral_http_requests_total", route="/healthz", status="200")

        async def scrape(replica: httpx.AsyncClient) -> str:
            return (await replica.get("/metrics")).text

        # The scraped replica reports its own counts first; the other within its interval.
        first = await eventually(lambda: scrape(client), lambda t: healthz(t) == [5.0])
        second = await scrape(other)
    assert healthz(second) == [5.0]
    assert samples(first, "coral_pipeline_fps") == samples(second, "coral_pipeline_fps")

    # A report retried after a lost answer carries the same sequence number: counted once.
    monitor = services["monitor"]
    retried = HttpStats()
    retried.observe("GET", "/healthz", 200, 0.001)
    await monitor.report_http("replica-x", 1, retried)
    await monitor.report_http("replica-x", 1, retried)
    assert healthz((await client.get("/metrics")).text) == [6.0]


async def test_history_window_for_charts(
    prometheus_app: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, services = prometheus_app
    url = f"/api/v1/metrics/pipelines/{services['pipeline_id']}"
    history = await eventually(
        lambda: client.get(url, params={"window": 60}),
        lambda r: len(r.json()["samples"]) >= 8 and r.json()["samples"][-1]["values"]["fps"] > 0,
    )
    body = history.json()
    assert body["poll_interval"] == 0.2
    assert {"fps", "state", "frames_processed", "frames_dropped"} <= body["samples"][-1][
        "values"
    ].keys()

    recent = (await client.get(url, params={"window": 1})).json()["samples"]
    assert 1 <= len(recent) < len(body["samples"])
    assert all(sample["time"] >= time.time() - 1.5 for sample in recent)

    missing = await client.get("/api/v1/metrics/pipelines/no-such-pipeline")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    bad = await client.get(url, params={"window": 0})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "query.window"


async def test_metrics_without_the_prometheus_sink_is_a_json_404(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "prometheus" in response.json()["detail"]
