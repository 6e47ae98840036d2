"""MJPEG and snapshots: what clients without WebRTC see."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import cv2
import httpx
import numpy as np

from coral_serve.streams.mjpeg import BOUNDARY
from tests.unit.streams.support import (
    STREAMS,
    passthrough,
    start_pipeline,
    streams_app,
    streams_server,
)


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


async def read_parts(chunks: AsyncIterator[bytes], count: int) -> list[bytes]:
    """Split the next `count` parts of a multipart/x-mixed-replace body into JPEG payloads."""
    marker = f"--{BOUNDARY}\r\n".encode()
    buffer, parts = b"", []
    async for chunk in chunks:
        buffer += chunk
        while True:
            start = buffer.find(marker)
            head_end = buffer.find(b"\r\n\r\n", start)
            if start < 0 or head_end < 0:
                break
            headers = buffer[start + len(marker) : head_end].decode().lower()
            assert "content-type: image/jpeg" in headers
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            body_start = head_end + 4
            if len(buffer) < body_start + length + 2:
                break
            parts.append(buffer[body_start : body_start + length])
            buffer = buffer[body_start + length + 2 :]
        if len(parts) >= count:
            break
    return parts


async def test_mjpeg_yields_decodable_frames_at_the_capped_rate(tmp_path, video) -> None:
    async with (
        streams_server(tmp_path, video, "streams.mjpeg_max_fps=4") as (client, _, url),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        pipeline_id = await start_pipeline(client, passthrough("mjpeg", video))
        began = time.monotonic()
        async with http.stream("GET", f"{STREAMS}/{pipeline_id}/mjpeg") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
            parts = await read_parts(response.aiter_bytes(), 9)
        elapsed = time.monotonic() - began
        assert len(parts) == 9
        assert all(decode(part).shape == (576, 768, 3) for part in parts)
        assert len(set(parts)) == 9  # each part is a new frame
        assert elapsed >= 8 / 4 * 0.9  # streams.mjpeg_max_fps caps a 10 fps pipeline at 4
        # A client may ask for less, never for more than the cap.
        async with http.stream("GET", f"{STREAMS}/{pipeline_id}/mjpeg?fps=2") as response:
            began = time.monotonic()
            await read_parts(response.aiter_bytes(), 4)
            assert time.monotonic() - began >= 3 / 2 * 0.9


async def test_mjpeg_ends_when_the_pipeline_stops_and_404s_for_unknown(tmp_path, video) -> None:
    async with (
        streams_server(tmp_path, video) as (client, _, url),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        pipeline_id = await start_pipeline(client, passthrough("short", video))
        async with http.stream("GET", f"{STREAMS}/{pipeline_id}/mjpeg") as response:
            chunks = response.aiter_bytes()
            assert len(await read_parts(chunks, 2)) == 2
            assert (await client.delete(f"/api/v1/pipelines/{pipeline_id}")).status_code == 204
            rest = b"".join([chunk async for chunk in chunks])  # the body ends
        assert len(rest) < 10 * 200_000
        missing = await http.get(f"{STREAMS}/{pipeline_id}/mjpeg")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_snapshot_is_a_jpeg_of_the_frame_size(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, _):
        pipeline_id = await start_pipeline(client, passthrough("snap", video))
        response = await client.get(f"{STREAMS}/{pipeline_id}/snapshot.jpg")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "no-store"
        image = decode(response.content)
        assert image.shape == (576, 768, 3) and image.mean() > 40
        resized = passthrough("small", video)
        resized["source"]["resize"] = [320, 240]
        small_id = await start_pipeline(client, resized)
        small = decode((await client.get(f"{STREAMS}/{small_id}/snapshot.jpg")).content)
        assert small.shape == (240, 320, 3)
        unknown = await client.get(f"{STREAMS}/feedbeef/snapshot.jpg")
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
