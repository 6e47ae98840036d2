"""One outbound policy for probes, sources and downloads: metadata services are refused
whatever the encoding of their address, loopback and private networks only as configured."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from coral_serve.config import ConfigError
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

PIPELINES = "/api/v1/pipelines"
PROBE = "/api/v1/sources/probe"
CLIP = "vtest-10s.mp4"
METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:169.254.169.254]/x.mp4",
    "http://[::ffff:a9fe:a9fe]/x.mp4",
    "http://2852039166/x.mp4",  # 169.254.169.254 as one decimal number
    "http://0xa9fea9fe/x.mp4",
    "http://[fd00:ec2::254]/x.mp4",
    "http://metadata.google.internal/computeMetadata/v1/",
]


@dataclass
class MediaServer:
    port: int
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    """A real HTTP server on 127.0.0.1 that serves the clip and counts every request."""
    video = shared_file("media", CLIP)
    seen: list[str] = []

    class Counting(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Counting, directory=str(video.parent))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield MediaServer(port=server.server_address[1], requests=seen)
    server.shutdown()
    server.server_close()


def _spec(name: str, uri: str, download: bool = False) -> dict:
    return {
        "name": name,
        "source": {"uri": uri, "download": download},
        "model": {"backend": "none"},
        "restart_policy": "never",
    }


async def _attempts(client: httpx.AsyncClient, uri: str) -> dict[str, httpx.Response]:
    """The same URI as a probe, a direct source and a download."""
    return {
        "probe": await client.post(PROBE, json={"uri": uri}),
        "source": await client.post(PIPELINES, json=_spec("direct", uri)),
        "download": await client.post(PIPELINES, json=_spec("fetched", uri, download=True)),
    }


async def test_metadata_addresses_are_refused_for_probe_source_and_download(
    tmp_path: Path,
) -> None:
    # Even with every network allowed, the metadata service stays out of reach.
    config = make_config(
        tmp_path,
        "pipelines.outbound.allow_link_local=true",
        "pipelines.outbound.allow_private=true",
    )
    async with running_app(config) as (client, _):
        answers = {url: await _attempts(client, url) for url in METADATA_URLS}
        assert (await client.get(PIPELINES)).json() == []  # nothing was stored
    for url, by_kind in answers.items():
        for kind, response in by_kind.items():
            assert response.status_code == 422, (url, kind, response.text)
            detail = response.json()["detail"]
            assert "metadata" in detail and "pipelines.outbound.block_metadata" in detail


async def test_an_ipv4_mapped_loopback_literal_is_refused_when_loopback_is_not_allowed(
    tmp_path: Path, media_server: MediaServer
) -> None:
    config = make_config(tmp_path, "pipelines.outbound.allow_loopback=false")
    mapped = f"http://[::ffff:127.0.0.1]:{media_server.port}/{CLIP}"
    plain = f"http://127.0.0.1:{media_server.port}/{CLIP}"
    decimal = f"http://2130706433:{media_server.port}/{CLIP}"
    async with running_app(config) as (client, _):
        answers = [await _attempts(client, uri) for uri in (mapped, plain, decimal)]
    for by_kind in answers:
        for kind, response in by_kind.items():
            assert response.status_code == 422, (kind, response.text)
            assert "pipelines.outbound.allow_loopback" in response.json()["detail"]
    assert media_server.requests == []  # refused before any connection


async def test_loopback_sources_work_where_loopback_is_allowed(
    tmp_path: Path, media_server: MediaServer
) -> None:
    config = make_config(tmp_path, "pipelines.outbound.allow_loopback=true")
    uri = f"http://127.0.0.1:{media_server.port}/{CLIP}"
    async with running_app(config) as (client, _):
        created = await client.post(PIPELINES, json=_spec("fetched", uri, download=True))
        assert created.status_code == 201, created.text
        status = await eventually(
            lambda: client.get(f"{PIPELINES}/{created.json()['id']}/status"),
            lambda r: r.json()["state"] in ("running", "finished", "failed"),
        )
    assert status.json()["state"] != "failed", status.text
    assert media_server.requests == [f"/{CLIP}"]


async def test_private_networks_are_refused_only_when_configured(tmp_path: Path) -> None:
    camera = "rtsp://192.168.1.64:9/Streaming/Channels/101"
    closed = make_config(tmp_path, "pipelines.outbound.allow_private=false")
    async with running_app(closed) as (client, _):
        refused = await client.post(PIPELINES, json=_spec("lan", camera))
    assert refused.status_code == 422
    assert "pipelines.outbound.allow_private" in refused.json()["detail"]
    assert make_config(tmp_path).pipelines.outbound.allow_private is True  # cameras: the LAN


def test_the_old_download_setting_is_an_error_that_names_its_replacement(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, "pipelines.downloads.allow_private_networks=true")
    assert "pipelines.downloads" in str(error.value)
    assert "pipelines.outbound" in str(error.value)


def test_production_refuses_loopback_and_development_allows_it(tmp_path: Path) -> None:
    from coral_serve.config import ConfigSources, load_config

    prod = load_config(ConfigSources(overrides=["web=prod"], environ={})).pipelines.outbound
    dev = make_config(tmp_path).pipelines.outbound
    assert (prod.allow_loopback, prod.block_metadata, prod.allow_link_local) == (
        False,
        True,
        False,
    )
    assert dev.allow_loopback is True
