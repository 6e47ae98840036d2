"""One source-URI grammar: the API, the probe and the engine understand a URI alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coral_serve.engine.engine import PipelineEngine
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.uri import SourceUri, parse_source_uri
from tests.conftest import shared_file
from tests.unit.engine.support import wait_until
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"
PROBE = "/api/v1/sources/probe"


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("file:///videos/a%20b.mp4", SourceUri("file", "/videos/a b.mp4")),
        ("/videos/a%20b.mp4", SourceUri("file", "/videos/a%20b.mp4")),  # a path is literal
        ("/dev/video0", SourceUri("device", "/dev/video0")),
        ("/dev/shm/clip.mp4", SourceUri("file", "/dev/shm/clip.mp4")),  # no camera: a file
        ("0", SourceUri("device", 0)),
        ("device://2", SourceUri("device", 2)),
        ("RTSP://cam/x", SourceUri("rtsp", "RTSP://cam/x")),
        ("https://host/clip.mp4", SourceUri("https", "https://host/clip.mp4")),
    ],
)
def test_grammar(uri: str, parsed: SourceUri) -> None:
    assert parse_source_uri(uri) == parsed


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("gopher://host/x", "scheme 'gopher' is not supported"),
        ("device://cam", "device:// needs a camera index"),
        ("rtsp://", "rtsp:// needs a host"),
        ("/videos/a\nb.mp4", "control characters"),
    ],
)
def test_grammar_refuses_with_a_reason(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_source_uri(uri)


@pytest.fixture
def spaced_video(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    return Path(shutil.copy(shared_file("media", "vtest-10s.mp4"), media / "a b.mp4"))


def spec(name: str, uri: str) -> dict:
    source = {"uri": uri, "reconnect": {"initial_delay": 0.1, "max_attempts": 0}}
    return {"name": name, "source": source, "model": {"backend": "none"}}


def file_uri(path: Path) -> str:
    return "file://" + str(path).replace(" ", "%20")


async def test_a_percent_encoded_file_uri_is_accepted_probed_and_played(
    tmp_path: Path, spaced_video: Path
) -> None:
    config = make_config(tmp_path / "data", f"pipelines.sources.file_roots=[{spaced_video.parent}]")
    async with running_app(config) as (client, _):
        probe = await client.post(PROBE, json={"uri": file_uri(spaced_video)})
        assert probe.status_code == 200, probe.text
        assert (probe.json()["width"], probe.json()["height"]) == (768, 576)
        created = await client.post(API, json=spec("spaced", file_uri(spaced_video)))
        assert created.status_code == 201, created.text
        status_url = f"{API}/{created.json()['id']}/status"

        async def status() -> dict:
            return (await client.get(status_url)).json()

        seen = await eventually(status, lambda s: s["counters"]["frames_processed"] > 0)
        assert seen["state"] == "running"


async def test_a_device_node_is_a_camera_not_a_file(tmp_path: Path) -> None:
    config = make_config(tmp_path, "pipelines.sources.schemes=[file]")
    async with running_app(config) as (client, _):
        refused = await client.post(API, json=spec("cam", "/dev/video0"))
    assert refused.status_code == 422
    assert "scheme 'device' is not allowed" in refused.json()["detail"]
    async with running_app(make_config(tmp_path / "any")) as (client, _):
        created = await client.post(API, json=spec("cam", "/dev/video0"))
    assert created.status_code == 201, created.text  # no file roots needed for a camera


def test_the_engine_reads_the_same_two_uris(spaced_video: Path) -> None:
    played = PipelineEngine(PipelineSpec.model_validate(spec("f", file_uri(spaced_video))))
    camera = PipelineEngine(PipelineSpec.model_validate(spec("c", "/dev/video0")))
    played.start()
    camera.start()
    try:
        assert wait_until(lambda: played.status()["counters"]["frames_processed"] > 0, 30)
        assert wait_until(lambda: camera.state == "failed", 30), camera.status()
        assert camera.status()["live"] is True  # retried as a camera, not "file not found"
        assert "gave up after 0 reconnect attempts" in (camera.reason or "")
    finally:
        played.stop()
        camera.stop()
