"""`download: true` sources: fetched once by the worker into its node's data dir, played
locally, removed on delete, one node's downloads sharing its slots; link-local and metadata
addresses are refused."""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from coral_serve.config.pipelines import DownloadConfig
from coral_serve.engine.download import source_download
from coral_serve.schema.spec import SourceSpec
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def media_server() -> Iterator[str]:
    """A plain HTTP file server on loopback, standing in for a remote clip."""
    video = shared_file("media", "vtest-10s.mp4")
    handler = functools.partial(QuietHandler, directory=str(video.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def download_spec(name: str, url: str) -> dict:
    return {
        "name": name,
        "source": {"uri": url, "download": True, "loop": True},
        "model": {"backend": "none"},
    }


async def test_a_downloaded_source_plays_from_the_data_dir_and_goes_with_the_pipeline(
    tmp_path: Path, media_server: str
) -> None:
    config = make_config(tmp_path, "pipelines.reconcile_interval=0.2")
    async with running_app(config) as (client, _):
        created = await client.post(
            API, json=download_spec("clip", f"{media_server}/vtest-10s.mp4")
        )
        assert created.status_code == 201, created.text
        pipeline_id = created.json()["id"]
        status = await eventually(
            lambda: client.get(f"{API}/{pipeline_id}/status"),
            lambda r: r.json()["state"] == "running",
        )
        assert (status.json()["width"], status.json()["height"]) == (768, 576)
        folder = tmp_path / "downloads" / pipeline_id
        assert [p.name for p in folder.iterdir()] == ["vtest-10s.mp4"]  # no partial file left
        original = shared_file("media", "vtest-10s.mp4")
        assert (folder / "vtest-10s.mp4").read_bytes() == original.read_bytes()

        assert (await client.delete(f"{API}/{pipeline_id}")).status_code == 204
        assert not folder.exists()


async def test_a_missing_remote_file_fails_the_pipeline_with_the_reason(
    tmp_path: Path, media_server: str
) -> None:
    config = make_config(
        tmp_path, "pipelines.reconcile_interval=0.2", "pipelines.downloads.retries=0"
    )
    async with running_app(config) as (client, _):
        created = await client.post(API, json=download_spec("gone", f"{media_server}/nope.mp4"))
        pipeline_id = created.json()["id"]
        failed = await eventually(
            lambda: client.get(f"{API}/{pipeline_id}/status"),
            lambda r: r.json()["state"] == "failed",
        )
    assert "download failed" in failed.json()["reason"]
    assert not list((tmp_path / "downloads").rglob("*.part"))


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/x"]
)
async def test_metadata_addresses_are_refused(tmp_path: Path, url: str) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        response = await client.post(API, json=download_spec("meta", url))
    assert response.status_code == 422
    assert "pipelines.outbound.block_metadata" in response.json()["detail"]


_FILE_EVENTS = frozenset({"open", "os.mkdir", "os.rename", "os.remove"})
# The folder a test watches, and (event, path, thread id) of each file call under it.
_watched_root: list[Path] = []
_file_calls: list[tuple[str, Path, int]] = []


def _audit(event: str, args: tuple) -> None:
    """Audit hooks stay for the whole process: this one notes nothing while no test watches."""
    if not _watched_root or event not in _FILE_EVENTS or not isinstance(args[0], str | Path):
        return
    if Path(args[0]).is_relative_to(_watched_root[0]):
        _file_calls.append((event, Path(args[0]), threading.get_ident()))


sys.addaudithook(_audit)


async def test_a_download_touches_its_files_only_off_the_event_loop(
    tmp_path: Path, media_server: str
) -> None:
    config = make_config(tmp_path, "pipelines.reconcile_interval=0.2")
    spec = download_spec("off", f"{media_server}/vtest-10s.mp4")
    _watched_root.append(tmp_path / "downloads")
    try:
        async with running_app(config) as (client, _):
            pipeline_id = (await client.post(API, json=spec)).json()["id"]
            await eventually(
                lambda: client.get(f"{API}/{pipeline_id}/status"),
                lambda r: r.json()["state"] == "running",
            )
        calls = list(_file_calls)
    finally:
        _watched_root.clear()
        _file_calls.clear()
    assert any(path.name.endswith(".part") for _, path, _ in calls), calls  # it did write
    loop_thread = threading.get_ident()
    assert [call for call in calls if call[2] == loop_thread] == []


class CountingHandler(QuietHandler):
    """Serves slowly and counts the downloads in flight at once."""

    lock = threading.Lock()
    active = 0
    most = 0
    requests = 0

    def copyfile(self, source: Any, outputfile: Any) -> None:
        cls = type(self)
        with cls.lock:
            cls.requests += 1
            cls.active += 1
            cls.most = max(cls.most, cls.active)
        try:
            while chunk := source.read(1 << 17):
                outputfile.write(chunk)
                time.sleep(0.05)
        finally:
            with cls.lock:
                cls.active -= 1


def test_downloads_on_one_node_share_its_slots_and_reuse_a_finished_copy(
    tmp_path: Path,
) -> None:
    """Two workers of one node, one slot: one download at a time; a third worker of the
    first pipeline finds its copy and asks nothing."""
    video = shared_file("media", "vtest-10s.mp4")
    handler = functools.partial(CountingHandler, directory=str(video.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{video.name}"
    source = SourceSpec(uri=url, download=True)
    config = DownloadConfig(concurrency=1, retries=0)
    try:
        downloads = [source_download(source, p, str(tmp_path), config) for p in ("a", "b")]
        stop = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            copies = list(pool.map(lambda d: d.fetch(stop), downloads))
        assert [c.read_bytes() == video.read_bytes() for c in copies] == [True, True]
        assert (CountingHandler.requests, CountingHandler.most) == (2, 1)
        again = source_download(source, "a", str(tmp_path), config)
        assert again.fetch(stop) == copies[0] and CountingHandler.requests == 2
    finally:
        server.shutdown()
        server.server_close()
