"""`/api/v1/events` and the results stream, through the real ingress and services in-process."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coral_serve.engine.event_media_files import event_media_path
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent
from tests.conftest import shared_file
from tests.unit.object_events import new_id, revision
from tests.unit.webapp import make_config, running_app, served_on_loopback

API = "/api/v1/events"
ADMIN, VIEWER = "a" * 40, "v" * 40
TOKENS = (
    "http.auth.mode=token",
    f"http.auth.tokens=[{{name: ops, role: admin, token: {ADMIN}}},"
    f"{{name: wall, role: viewer, token: {VIEWER}}}]",
)


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    async with running_app(make_config(tmp_path, *TOKENS)) as (client, services):
        client.headers["Authorization"] = f"Bearer {VIEWER}"
        yield client, services


async def _stored(services: dict[str, Any], *revisions: ObjectEvent) -> None:
    await services["events"].store.store("cam-1", 1, list(revisions))


def _media(services: dict[str, Any], event: ObjectEvent, video: Path) -> dict[str, Path]:
    data_dir = services["events"]._data_dir
    paths = {
        k: event_media_path(data_dir, "cam-1", event.id, k) for k in ("snapshot", "crop", "clip")
    }
    paths["clip"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, paths["clip"])
    paths["snapshot"].write_bytes(b"\xff\xd8 full frame")
    paths["crop"].write_bytes(b"\xff\xd8 crop")
    return paths


async def test_list_is_newest_first_with_a_cursor_and_filters(api) -> None:
    client, services = api
    now = time.time()
    for index in range(5):
        await _stored(
            services, revision(new_id(), 1, start=now + index, zones=("dock",) * (index % 2))
        )
    first = (await client.get(API, params={"limit": 3})).json()
    rest = (await client.get(API, params={"limit": 3, "cursor": first["next_cursor"]})).json()
    starts = [e["start"] for e in first["events"] + rest["events"]]
    assert starts == sorted(starts, reverse=True) and len(starts) == 5
    assert rest["next_cursor"] is None
    docked = (await client.get(API, params={"zone": "dock"})).json()["events"]
    assert [e["zones"] for e in docked] == [["dock"], ["dock"]]

    bad = await client.get(API, params={"cursor": "garbage"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]
    assert (await client.get(API, params={"limit": 0})).status_code == 422


async def test_one_event_and_its_media_with_range_and_etag(api, video: Path) -> None:
    client, services = api
    event = revision(new_id(), 2, EventPhase.end, clip=ClipState.ready, has_snapshot=True)
    await _stored(services, event)
    paths = _media(services, event, video)

    got = (await client.get(f"{API}/{event.id}")).json()
    assert (got["id"], got["revision"], got["clip"]) == (event.id, 2, "ready")
    snapshot = await client.get(f"{API}/{event.id}/snapshot.jpg")
    crop = await client.get(f"{API}/{event.id}/snapshot.jpg", params={"crop": "true"})
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert (snapshot.content, crop.content) == (b"\xff\xd8 full frame", b"\xff\xd8 crop")

    whole = await client.get(f"{API}/{event.id}/clip.mp4")
    assert whole.status_code == 200 and whole.content == paths["clip"].read_bytes()
    part = await client.get(f"{API}/{event.id}/clip.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    again = await client.get(
        f"{API}/{event.id}/clip.mp4", headers={"If-None-Match": whole.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_clip_not_kept_is_a_404_saying_why(api, video: Path) -> None:
    client, services = api
    pending = revision(new_id(), 1, EventPhase.start, clip=ClipState.pending)
    none = revision(new_id(), 1, EventPhase.start)
    removed = revision(new_id(), 1, EventPhase.end, clip=ClipState.ready, has_snapshot=True)
    await _stored(services, pending, none, removed)
    _media(services, removed, video)["clip"].unlink()  # cleaned up behind the store's back

    for event, words in (
        (pending, "still being recorded"),
        (none, "keeps no clips"),
        (removed, "gone from disk"),
    ):
        answer = await client.get(f"{API}/{event.id}/clip.mp4")
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "not_found" and words in answer.json()["detail"]
    snapshot = await client.get(f"{API}/{none.id}/snapshot.jpg")
    assert snapshot.status_code == 404 and "no snapshot" in snapshot.json()["detail"]
    assert (await client.get(f"{API}/{'0' * 32}")).status_code == 404
    assert (await client.get(f"{API}/not-an-id")).status_code == 422


async def test_delete_needs_an_admin_and_removes_the_media(api, video: Path) -> None:
    client, services = api
    event = revision(new_id(), 1, EventPhase.end, clip=ClipState.ready, has_snapshot=True)
    await _stored(services, event)
    paths = _media(services, event, video)

    refused = await client.delete(f"{API}/{event.id}")
    assert refused.status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await client.delete(f"{API}/{event.id}", headers=admin)).status_code == 204
    assert not any(path.exists() for path in paths.values())
    assert (await client.get(f"{API}/{event.id}")).status_code == 404
    assert (await client.delete(f"{API}/{event.id}", headers=admin)).status_code == 404
    assert (await client.get(API, headers={"Authorization": ""})).status_code == 401


async def test_a_signed_url_plays_a_clip_without_a_token(api, video: Path) -> None:
    client, services = api
    event = revision(new_id(), 1, EventPhase.end, clip=ClipState.ready)
    await _stored(services, event)
    _media(services, event, video)
    signed = await client.post(
        "/api/v1/auth/signed-url", json={"path": f"{API}/{event.id}/clip.mp4"}
    )
    assert signed.status_code == 200, signed.text
    del client.headers["Authorization"]  # a <video> element sends no token
    played = await client.get(signed.json()["url"])
    assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str | None, dict]]:
    name, ident = "", None
    async for line in lines:
        if line.startswith("id: "):
            ident = line.removeprefix("id: ")
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, ident, json.loads(line.removeprefix("data: "))
            ident = None


async def test_results_stream_sends_records_and_object_events_live(tmp_path, video) -> None:
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    pipeline = {
        "name": "lobby",
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none"},
    }
    async with (
        running_app(config) as (client, services),
        served_on_loopback(services["app"]) as url,
        httpx.AsyncClient(base_url=url) as browser,
    ):
        created = (await client.post("/api/v1/pipelines", json=pipeline)).json()
        path = f"/api/v1/pipelines/{created['id']}/results/stream"
        async with browser.stream("GET", path) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            received = _sse(stream.aiter_lines())
            seqs = []
            async for name, ident, data in received:
                assert name == "result" and ident == str(data["seq"])
                seqs.append(data["seq"])
                if len(seqs) == 3:
                    break
            assert seqs == sorted(seqs) and len(set(seqs)) == 3

            event = revision(new_id(), 1, EventPhase.start, pipeline_id=created["id"])
            await services["events"].store.store(created["id"], 1, [event])
            async for name, _, data in received:
                if name == "object_event":
                    assert (data["id"], data["phase"]) == (event.id, "start")
                    break
        # A reconnecting EventSource resumes after the last id it saw; nothing is consumed.
        headers = {"Last-Event-ID": str(seqs[-1])}
        async with browser.stream("GET", path, headers=headers) as stream:
            name, _, data = await anext(_sse(stream.aiter_lines()))
            assert name == "result" and data["seq"] == seqs[-1] + 1
        missing = await browser.get("/api/v1/pipelines/nope/results/stream")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
