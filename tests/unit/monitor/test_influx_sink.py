"""The influx sink against a real VictoriaMetrics (InfluxDB v2 write API), including while
it is down: the box stays ready, the buffer stays bounded, and points arrive when it is back."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest

from coral_serve.config.monitoring import InfluxSinkConfig
from coral_serve.sinks.influx import InfluxSink
from coral_serve.sinks.points import Point
from tests.conftest import shared_file
from tests.integration.processes import free_port
from tests.unit.monitor.servers import exported, victoria_metrics
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

TOKEN = "tok-s3cret-0123456789"
BUFFER = 20


async def read_back(url: str, metric: str) -> list[dict]:
    return await asyncio.to_thread(exported, url, metric)


async def test_points_written_in_batches_are_read_back(tmp_path: Path) -> None:
    with victoria_metrics(tmp_path) as url:
        sink = InfluxSink(
            InfluxSinkConfig(url=url, org="coral", bucket="edge", token=TOKEN, batch_size=2),
            timeout=10,
        )
        now = time.time()
        points = [
            Point(
                "coral_pipeline",
                {"pipeline": "p1", "name": "dock"},
                {"fps": 9.5, "frames_processed": n},
                now - 5 + n,
            )
            for n in range(5)
        ]
        await sink.write(points)
        await sink.close()
        fps, frames = await eventually(
            lambda: asyncio.gather(
                read_back(url, "coral_pipeline_fps"),
                read_back(url, "coral_pipeline_frames_processed"),
            ),
            lambda series: all(s and len(s[0]["values"]) == 5 for s in series),
        )
    assert fps[0]["metric"] == {"__name__": "coral_pipeline_fps", "pipeline": "p1", "name": "dock"}
    assert frames[0]["values"] == [0, 1, 2, 3, 4]
    assert abs(frames[0]["timestamps"][0] - (now - 5) * 1000) <= 1  # milliseconds


async def test_a_sink_that_is_down_keeps_the_box_ready_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    video = shared_file("media", "vtest-10s.mp4")
    port = free_port()
    influx_sink = (
        f"{{type: influx, url: 'http://127.0.0.1:{port}', org: coral, bucket: edge, "
        f"token: {TOKEN}}}"
    )
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "monitoring.poll_interval=0.1",
        "monitoring.flush_interval=0.2",
        f"monitoring.buffer_points={BUFFER}",
        "monitoring.retry_max_seconds=1",
        f"monitoring.sinks=[{{type: stdout}}, {influx_sink}]",
    )
    async with running_app(config) as (client, _):
        spec = {
            "name": "dock",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
        }
        pipeline_id = (await client.post("/api/v1/pipelines", json=spec)).json()["id"]

        def influx(response: httpx.Response) -> dict:
            return next(s for s in response.json() if s["name"] == "influx")

        # Down long enough to overflow its buffer: the oldest points go, counted.
        down = await eventually(
            lambda: client.get("/api/v1/monitor/sinks"), lambda r: influx(r)["dropped"] > 0
        )
        assert not influx(down)["up"] and influx(down)["buffered"] <= BUFFER
        stdout = next(s for s in down.json() if s["name"] == "stdout")
        assert stdout["up"] and stdout["written"] > 0  # the other sink does not wait
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        sinks_check = next(c for c in ready.json()["checks"] if c["name"] == "sinks")
        assert not sinks_check["ok"] and not sinks_check["required"]
        assert "influx down" in sinks_check["detail"]
        await asyncio.sleep(1.0)
        assert influx(await client.get("/api/v1/monitor/sinks"))["buffered"] <= BUFFER

        with victoria_metrics(tmp_path, port) as url:
            returned_at = time.time()
            await eventually(
                lambda: client.get("/api/v1/monitor/sinks"),
                lambda r: influx(r)["up"] and influx(r)["written"] > BUFFER,
            )
            series = await eventually(
                lambda: read_back(url, "coral_pipeline_fps"),
                lambda s: s and len(s[0]["values"]) > BUFFER // 2,
            )
            ready_again = await client.get("/readyz")
        await client.delete(f"/api/v1/pipelines/{pipeline_id}")

    assert series[0]["metric"]["pipeline"] == pipeline_id
    # Points from while it was down were kept and delivered.
    assert min(series[0]["timestamps"]) < returned_at * 1000
    assert ready_again.status_code == 200
    assert all(c["ok"] for c in ready_again.json()["checks"])
    responses = down.text + ready.text + ready_again.text
    assert TOKEN not in responses and TOKEN not in caplog.text
