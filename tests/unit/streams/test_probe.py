"""Source probe: the real size and rate of a video, and clear errors that never hang."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from tests.unit.streams.support import streams_app

PROBE = "/api/v1/sources/probe"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never says a word: a camera that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/stream.mjpg"
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    server.close()


async def test_probe_reports_the_videos_real_size_rate_and_a_thumbnail(tmp_path, video) -> None:
    async with streams_app(tmp_path, video) as (client, _):
        for uri in (str(video), f"file://{video}"):
            response = await client.post(PROBE, json={"uri": uri})
            assert response.status_code == 200, response.text
            probe = response.json()
            assert (probe["width"], probe["height"]) == (768, 576)
            assert probe["fps"] == pytest.approx(10.0)
            assert probe["codec"] in ("h264", "avc1")
            jpeg = base64.b64decode(probe["thumbnail"])
            thumbnail = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert thumbnail.shape == (240, 320, 3) and thumbnail.mean() > 40


async def test_unreachable_and_refused_sources_are_clear_422s(tmp_path, video) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video at all")
    async with streams_app(tmp_path, video) as (client, _):
        refused = await client.post(PROBE, json={"uri": "http://127.0.0.1:9/cam.mjpg"})
        assert refused.status_code == 422
        assert "could not be opened" in refused.json()["detail"]
        secret = await client.post(PROBE, json={"uri": "rtsp://admin:pa55w0rd@127.0.0.1:9/x"})
        assert secret.status_code == 422 and "pa55w0rd" not in secret.text
        garbage = await client.post(PROBE, json={"uri": str(not_video)})
        assert garbage.status_code == 422 and garbage.json()["error"] == "invalid_request"
        outside = await client.post(PROBE, json={"uri": "/etc/passwd"})
        assert outside.status_code == 422 and "outside the allowed roots" in outside.text
        scheme = await client.post(PROBE, json={"uri": "gopher://127.0.0.1/x"})
        assert scheme.status_code == 422 and "not supported" in scheme.text  # as for pipelines
        empty = await client.post(PROBE, json={"uri": ""})
        assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "uri"


async def test_a_source_that_never_answers_is_a_504_not_a_hang(
    tmp_path, video, silent_server
) -> None:
    async with streams_app(tmp_path, video, "streams.capture_timeout=1") as (client, _):
        # The server never answers: only `streams.capture_timeout` ends the probe.
        response = await client.post(PROBE, json={"uri": silent_server})
        assert response.status_code == 504, response.text
        assert response.json()["error"] == "timeout"
        assert "streams.capture_timeout" in response.json()["detail"]
        # The service still answers meanwhile and afterwards.
        assert (await client.post(PROBE, json={"uri": str(video)})).status_code == 200
