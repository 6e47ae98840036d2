"""Faults that must lose nothing: a camera that drops and returns, a store that vanishes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.unit.engine.support import MjpegServer
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


def synthetic_jpegs(count: int = 10) -> list[bytes]:
    frames = []
    for n in range(count):
        image = np.full((240, 320, 3), 40 + 20 * n, np.uint8)
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    return frames


async def test_a_camera_that_drops_out_reconnects_and_runs_again(tmp_path: Path) -> None:
    camera = MjpegServer(synthetic_jpegs(), fps=15)
    port = camera.port
    async with running_app(make_config(tmp_path, "pipelines.reconcile_interval=0.2")) as (
        client,
        _,
    ):
        spec = {
            "name": "gate-camera",
            "source": {"uri": camera.url, "reconnect": {"initial_delay": 0.2, "max_delay": 0.5}},
            "model": {"backend": "none"},
        }
        pipeline_id = (await client.post(API, json=spec)).json()["id"]
        status_url = f"{API}/{pipeline_id}/status"

        async def state() -> str:
            return (await client.get(status_url)).json()["state"]

        await eventually(state, lambda s: s == "running", timeout=30)
        camera.close()
        await eventually(state, lambda s: s == "reconnecting", timeout=30)
        camera = MjpegServer(synthetic_jpegs(), fps=15, port=port)
        try:
            await eventually(state, lambda s: s == "running", timeout=60)
            status = (await client.get(status_url)).json()
            assert status["counters"]["reconnects"] >= 1
            assert (await client.get(f"{API}/{pipeline_id}")).json()["generation"] == 1
        finally:
            camera.close()


async def test_a_vanished_store_refuses_changes_with_503_and_loses_nothing(
    tmp_path: Path,
) -> None:
    video_free = {
        "name": "a",
        "source": {"uri": "rtsp://127.0.0.1:9/a"},
        "model": {"backend": "none"},
    }
    config = make_config(tmp_path)
    store = Path(str(config.pipelines.store_path))
    async with running_app(config) as (client, _):
        assert (await client.post(API, json=video_free)).status_code == 201
        store.rename(store.with_name("moved.db"))
        refused = await client.post(API, json={**video_free, "name": "b"})
        assert refused.status_code == 503
        assert "pipeline store unavailable" in refused.json()["detail"]
        assert (await client.get("/readyz")).status_code == 503
        assert [p["name"] for p in (await client.get(API)).json()] == ["a"]

        store.with_name("moved.db").rename(store)
        assert (await client.post(API, json={**video_free, "name": "b"})).status_code == 201
        assert (await client.get("/readyz")).status_code == 200
    async with running_app(config) as (client, _):
        assert [p["name"] for p in (await client.get(API)).json()] == ["a", "b"]
