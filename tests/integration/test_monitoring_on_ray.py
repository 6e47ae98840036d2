"""Monitoring on the real Ray Serve graph: Prometheus scrapes /metrics of a running
coral_serve, Ray's metrics sink works in its replica, readiness follows the store, and
shutdown leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared_file
from tests.integration.processes import terminate_and_collect_survivors
from tests.integration.server import control_plane, wait_until
from tests.unit.monitor.servers import prometheus, query


def test_prometheus_scrapes_a_running_pipeline_and_readiness_follows_the_store(
    tmp_path: Path,
) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    data = tmp_path / "data"
    overrides = [
        f"pipelines.data_dir={data}",
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.5",
        "monitoring=prometheus",
        "monitoring.poll_interval=0.5",
        "monitoring.flush_interval=1",
    ]
    with control_plane(tmp_path, overrides) as server:
        spec = {
            "name": "dock",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
            "resources": {"num_cpus": 0.1},
        }
        created = server.client.post("/api/v1/pipelines", json=spec)
        assert created.status_code == 201, created.text
        pipeline_id = created.json()["id"]

        target = server.url.removeprefix("http://")
        with prometheus(tmp_path, target) as prometheus_url:
            fps = wait_until(
                lambda: query(
                    prometheus_url, f'coral_pipeline_fps{{pipeline="{pipeline_id}"}} > 0'
                ),
                bool,
                timeout=90,
            )
            assert fps[0]["metric"]["name"] == "dock"
            routes = query(prometheus_url, 'coral_http_requests_total{route="/api/v1/pipelines"}')
            assert routes and routes[0]["metric"]["method"] == "POST"

        sinks = server.client.get("/api/v1/monitor/sinks").json()
        ray_sink = next(sink for sink in sinks if sink["name"] == "ray")
        assert ray_sink["up"] and ray_sink["written"] > 0

        store = data / "coral.db"
        store.rename(store.with_suffix(".moved"))
        unready = server.client.get("/readyz")
        assert unready.status_code == 503
        failing = [check["name"] for check in unready.json()["checks"] if not check["ok"]]
        assert failing == ["store"]
        store.with_suffix(".moved").rename(store)
        assert server.client.get("/readyz").status_code == 200

        assert server.client.delete(f"/api/v1/pipelines/{pipeline_id}").status_code == 204
        survivors = terminate_and_collect_survivors(server.process)
    assert survivors == []
