"""Live view and recordings through the real Serve graph: the offer goes through the ingress
to a StreamService replica, the media straight from that replica to the viewer."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import psutil
import pytest

from coral_serve.streams.mjpeg import BOUNDARY
from coral_serve.streams.webrtc import pin_host_addresses
from tests.conftest import shared_file
from tests.integration.processes import process_tree
from tests.integration.server import Server, control_plane, wait_until
from tests.unit.streams.support import video_codecs
from tests.unit.streams.viewer import Viewer

API = "/api/v1"


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """This process's aiortc viewer gathers on 127.0.0.1 only, as the replica does."""
    pin_host_addresses(["127.0.0.1"])
    yield
    pin_host_addresses([])


async def watch(url: str, pipeline_id: str) -> Viewer:
    viewer = Viewer()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            f"{API}/streams/{pipeline_id}/webrtc", json=await viewer.offer()
        )
        assert response.status_code == 201, response.text
        assert video_codecs(response.json()["sdp"])[0] == "H264"  # the replica's shared encoder
        await viewer.accept(response.json())
        await viewer.wait_frames(30, timeout=60)
        closed = await client.delete(f"{API}/streams/sessions/{response.json()['session_id']}")
        assert closed.status_code == 204
        await asyncio.wait_for(viewer.ended.wait(), 15)
    await viewer.close()
    return viewer


def stream_replica(server: Server) -> psutil.Process:
    """The replica StreamService runs in: on one box, the ingress replica, which runs every
    service itself (deployments.combine)."""
    for proc in process_tree(server.process.pid):
        if " ".join(proc.cmdline()).startswith("ray::ServeReplica:coral:Ingress"):
            return proc
    raise AssertionError("no ingress replica process")


def ready_status(server: Server) -> int | None:
    with contextlib.suppress(httpx.HTTPError):
        return server.client.get("/readyz").status_code
    return None


def first_mjpeg_part(server: Server, pipeline_id: str) -> bytes:
    marker = f"--{BOUNDARY}\r\n".encode()
    buffer = b""
    with server.client.stream("GET", f"{API}/streams/{pipeline_id}/mjpeg") as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            buffer += chunk
            if buffer.count(marker) >= 2:
                break
    part = buffer.split(marker)[1]
    return part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]


def test_live_view_probe_and_recordings_through_the_serve_graph(
    tmp_path: Path, loopback_ice: None
) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    overrides = [
        f"pipelines.data_dir={tmp_path / 'data'}",
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.5",
        "streams.webrtc.host_addresses=[127.0.0.1]",
    ]
    with control_plane(tmp_path, overrides) as server:
        spec = {
            "name": "ray-view",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
            "outputs": {"record": True, "segment_seconds": 1},
            "resources": {"num_cpus": 0.1},
        }
        created = server.client.post(f"{API}/pipelines", json=spec)
        assert created.status_code == 201, created.text
        pipeline_id = created.json()["id"]
        snapshot = wait_until(
            lambda: server.client.get(f"{API}/streams/{pipeline_id}/snapshot.jpg"),
            lambda response: response.status_code == 200,
        )
        image = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (576, 768, 3)

        viewer = asyncio.run(watch(server.url, pipeline_id))
        assert viewer.first_image is not None and viewer.first_image.shape == (576, 768, 3)
        assert len(viewer.results) >= 25
        assert all("detections" in result for result in viewer.results)

        part = first_mjpeg_part(server, pipeline_id)
        assert cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (576, 768)

        probe = server.client.post(f"{API}/sources/probe", json={"uri": str(video)})
        assert probe.status_code == 200, probe.text
        assert (probe.json()["width"], probe.json()["height"], probe.json()["fps"]) == (
            768,
            576,
            10.0,
        )

        listed = wait_until(
            lambda: server.client.get(f"{API}/recordings", params={"pipeline_id": pipeline_id}),
            lambda response: len(response.json()) >= 1,
        ).json()
        url = f"{API}/recordings/{pipeline_id}/{listed[0]['segment']}"
        whole = server.client.get(url)
        assert whole.status_code == 200 and len(whole.content) == listed[0]["bytes"]
        part_of = server.client.get(url, headers={"Range": "bytes=10-109"})
        assert part_of.status_code == 206 and part_of.content == whole.content[10:110]
        escape = server.client.get(f"{API}/recordings/%2e%2e/%2e%2e")
        assert escape.status_code == 400

        # The replica that runs StreamService (and here every service) dies mid-stream: Serve
        # replaces it, the viewer reconnects, and the pipeline itself never noticed.
        replica = stream_replica(server)
        replica.send_signal(signal.SIGKILL)
        replica.wait(timeout=30)
        wait_until(lambda: ready_status(server), lambda status: status == 200, timeout=90)
        again = asyncio.run(watch(server.url, pipeline_id))
        assert len(again.results) >= 25
        view = server.client.get(f"{API}/pipelines/{pipeline_id}").json()
        assert view["status"]["state"] == "running" and view["generation"] == 1
        assert server.client.delete(f"{API}/pipelines/{pipeline_id}").status_code == 204
