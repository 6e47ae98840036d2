"""What `/api/v1/watch` pushes besides the views: a chart point per changed pipeline and
the object events stored since the last ones sent."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from coral_serve.schema.event_views import ObjectEventPage, StoredObjectEvent
from coral_serve.web import Services
from coral_serve.web.routes import watch
from tests.conftest import shared_file
from tests.unit.object_events import new_id, revision
from tests.unit.webapp import make_config, running_app, served_on_loopback


async def test_watch_pushes_chart_points_and_new_object_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "OBJECTS_INTERVAL", 0.1)
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    spec = {"name": "lobby", "source": {"uri": str(video), "loop": True}}
    spec["model"] = {"backend": "none"}
    async with (
        running_app(config) as (client, services),
        served_on_loopback(services["app"]) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as browser,
    ):
        lobby = (await client.post("/api/v1/pipelines", json=spec)).json()["id"]
        await client.get("/api/v1/pipelines")  # primes the snapshot
        seen: dict[str, dict] = {}
        async with browser.stream("GET", "/api/v1/watch") as stream:
            name = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if name == "snapshot":  # now an object event is stored by a worker
                        stored = revision(new_id(), 1, pipeline_id=lobby, start=time.time())
                        await services["events"].store.store(lobby, 1, [stored])
                    if name == "metrics" and data["points"]:
                        seen["metrics"] = data["points"][0]
                    if name == "objects":
                        seen["objects"] = data["events"][0]
                if {"metrics", "objects"} <= set(seen):
                    break
        point = seen["metrics"]
        assert point["pipeline_id"] == lobby and point["time"] > 0
        assert {"fps", "frames_dropped", "e2e_latency_mean_seconds"} <= set(point["values"])
        assert seen["objects"]["id"] == stored.id and seen["objects"]["pipeline_id"] == lobby


class _CountedEvents:
    """Object events as EventService lists them: one new event per call, calls counted."""

    def __init__(self) -> None:
        self.calls = 0

    async def list_events(self, where: object, limit: int) -> ObjectEventPage:
        self.calls += 1
        event = revision(new_id(), 1, start=time.time())
        return ObjectEventPage(
            events=[StoredObjectEvent(**event.model_dump(), generation=1, updated=time.time() + 1)],
            next_cursor=None,
        )


async def test_every_stream_of_a_replica_shares_one_reader_of_object_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watch, "OBJECTS_INTERVAL", 0.01)
    events = _CountedEvents()
    feed = watch.ObjectEventsFeed(
        Services.wrap(pipelines=None, streams=None, monitor=None, health=None, events=events)
    )
    first, second = feed.follow(), feed.follow()
    for _ in range(3):
        a, b = await asyncio.gather(anext(first), anext(second))
        assert a is b  # the same batch, read once
    assert events.calls <= 4  # one read per round, not one per stream
    await first.aclose()
    await second.aclose()
    assert feed._reader is None  # nobody listens: nothing reads
