"""Shared setup of the stream tests: config, pipelines, a real HTTP server, polling."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from coral_serve.config import CoralConfig
from coral_serve.streams import encoder as encoder_module
from tests.unit.streams.viewer import Viewer
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app, served_on_loopback

PIPELINES = "/api/v1/pipelines"
STREAMS = "/api/v1/streams"
RECORDINGS = "/api/v1/recordings"


def stream_config(tmp_path: Path, video: Path, *sets: str) -> CoralConfig:
    """Local files from the test media, loopback-only ICE, fast reconciling."""
    return make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.2",
        "streams.webrtc.host_addresses=[127.0.0.1]",
        *sets,
    )


@asynccontextmanager
async def streams_app(
    tmp_path: Path, video: Path, *sets: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    async with running_app(stream_config(tmp_path, video, *sets)) as (client, services):
        yield client, services


def passthrough(name: str, video: Path, **outputs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none"},
        "outputs": outputs,
    }


async def start_pipeline(client: httpx.AsyncClient, spec: dict[str, Any]) -> str:
    """Create a pipeline and wait until it has published a frame."""
    created = await client.post(PIPELINES, json=spec)
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["id"]
    await eventually(
        lambda: client.get(f"{STREAMS}/{pipeline_id}/snapshot.jpg"),
        lambda response: response.status_code == 200,
    )
    return pipeline_id


async def processed(client: httpx.AsyncClient, pipeline_id: str) -> int:
    """Frames the pipeline has published so far (each one is, without outputs.stream_fps)."""
    status = (await client.get(f"{PIPELINES}/{pipeline_id}/status")).json()
    return status["counters"]["frames_processed"]


@asynccontextmanager
async def streams_server(
    tmp_path: Path, video: Path, *sets: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any], str]]:
    """`streams_app` plus its ingress on a real loopback port, for browsers and streams."""
    async with (
        streams_app(tmp_path, video, *sets) as (client, services),
        served_on_loopback(services["app"]) as url,
    ):
        yield client, services, url


async def connect(client: httpx.AsyncClient, pipeline_id: str, viewer: Viewer) -> dict:
    """Offer, answer, accept: the viewer connects (media flows soon after)."""
    response = await client.post(f"{STREAMS}/{pipeline_id}/webrtc", json=await viewer.offer())
    assert response.status_code == 201, response.text
    answer = response.json()
    await viewer.accept(answer)
    return answer


def video_codecs(sdp: str) -> list[str]:
    return re.findall(r"a=rtpmap:\d+ (\w+)/90000", sdp)


def count_encodes(monkeypatch) -> list[int]:
    """Every libx264 encode of any shared encoder appends to the list returned."""
    encodes: list[int] = []
    encode = encoder_module._H264.encode

    def counting(self, i420, pts, keyframe):
        encodes.append(pts)
        return encode(self, i420, pts, keyframe)

    monkeypatch.setattr(encoder_module._H264, "encode", counting)
    return encodes
