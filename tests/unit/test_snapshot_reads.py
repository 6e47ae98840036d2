"""List and status reads come from the ingress replica's snapshot, not from a call per
read; writes are visible to the writer's next read; a snapshot that cannot be trusted is
never served; `/api/v1/watch` streams the changes (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coral_serve.errors import UnavailableError
from coral_serve.schema.spec import PipelineSpec
from coral_serve.tasks import stop_tasks
from coral_serve.web import Services, create_web_app
from coral_serve.web.snapshot import PipelineSnapshot
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app, served_on_loopback

API = "/api/v1/pipelines"


class Counted:
    """A real service, with every method called through the ingress counted by name."""

    def __init__(self, service: object) -> None:
        self.service = service
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.refuse_watch = False
        self.hold_long_polls = False  # long-poll answers are kept back: only catch-ups land
        self.catch_up_gate: asyncio.Event | None = None  # catch-ups answer once it is set

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.service, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "watch" and self.refuse_watch:
                raise UnavailableError("pipeline store is not open")
            result = await method(*args, **kwargs)
            if name == "watch" and args[2] > 0 and self.hold_long_polls:
                await asyncio.Event().wait()  # until the snapshot stops
            if name == "watch" and args[2] == 0 and self.catch_up_gate is not None:
                await self.catch_up_gate.wait()
            self.answered[name] += 1
            return result

        return counted


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
async def counted_api(
    tmp_path: Path, video: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Counted], FastAPI]]:
    """The real services behind an ingress whose calls to each of them are counted; the
    snapshot's long-polls wait up to 300 s, so no read here sees it turn stale by age."""
    config = make_config(
        tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", "monitoring.poll_interval=300"
    )
    async with running_app(config) as (_, services):
        counted = {name: Counted(services[name]) for name in ("pipelines", "streams", "monitor")}
        counted["health"] = Counted(services["health"])
        app = create_web_app(config, Services.wrap(**counted))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://coral.test") as client:
            yield client, counted, app
        await app.state.snapshot.stop()


def spec(name: str, video: Path) -> dict[str, Any]:
    return {"name": name, "source": {"uri": str(video), "loop": True}, "model": {"backend": "none"}}


async def test_reads_are_answered_without_asking_the_pipeline_service(counted_api, video) -> None:
    client, counted, _ = counted_api
    pipelines = counted["pipelines"]
    created = (await client.post(API, json=spec("cam", video))).json()
    status = f"{API}/{created['id']}/status"
    await eventually(lambda: client.get(status), lambda r: r.json()["state"] == "running")
    pipelines.calls.clear()

    for _ in range(20):
        listed = await client.get(API)
        assert [view["id"] for view in listed.json()] == [created["id"]]
        assert (await client.get(f"{API}/{created['id']}")).json()["name"] == "cam"
        assert (await client.get(status)).json()["state"] == "running"

    # Sixty reads, and PipelineService was asked only by the snapshot's long-poll.
    assert set(pipelines.calls) <= {"watch"}, pipelines.calls
    assert pipelines.calls["watch"] < 10
    view = await pipelines.service.get(created["id"])
    assert listed.json()[0]["spec"] == view.spec and listed.json()[0]["id"] == view.id


async def test_a_client_reads_its_own_create_pause_resume_and_delete(counted_api, video) -> None:
    client, counted, _ = counted_api
    pipelines = counted["pipelines"]
    await eventually(lambda: client.get(API), lambda _: pipelines.answered["watch"] > 0)
    assert (await client.get(API)).json() == []  # primed by the long-poll, and empty
    pipelines.hold_long_polls = True  # from here on only a write's catch-up brings news
    pipelines.calls.clear()

    created = (await client.post(API, json=spec("door", video))).json()
    assert [view["id"] for view in (await client.get(API)).json()] == [created["id"]]

    assert (await client.post(f"{API}/{created['id']}/pause")).status_code == 200
    paused = (await client.get(f"{API}/{created['id']}")).json()
    assert paused["desired_state"] == "paused"
    assert (await client.get(f"{API}/{created['id']}/status")).json()["state"] == "paused"

    assert (await client.post(f"{API}/{created['id']}/resume")).status_code == 200
    assert (await client.get(f"{API}/{created['id']}")).json()["desired_state"] == "running"

    assert (await client.delete(f"{API}/{created['id']}")).status_code == 204
    assert (await client.get(API)).json() == []
    assert pipelines.calls["list"] == pipelines.calls["get"] == 0  # none read directly
    gone = await client.get(f"{API}/{created['id']}/status")
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


async def test_a_read_does_not_settle_for_a_catch_up_older_than_its_write(
    counted_api, video
) -> None:
    """A catch-up that read the views before the pause answers after it: the read that
    came after the pause asks again."""
    client, counted, app = counted_api
    snapshot: PipelineSnapshot = app.state.snapshot
    pipelines = counted["pipelines"]
    await eventually(lambda: client.get(API), lambda _: pipelines.answered["watch"] > 0)
    pipelines.hold_long_polls = True
    created = (await client.post(API, json=spec("dock", video))).json()
    gate = pipelines.catch_up_gate = asyncio.Event()
    asked = pipelines.calls["watch"]
    first = asyncio.create_task(snapshot.view(created["id"]))
    await eventually(lambda: asyncio.sleep(0, pipelines.calls["watch"]), lambda n: n > asked)

    assert (await client.post(f"{API}/{created['id']}/pause")).status_code == 200
    second = asyncio.create_task(snapshot.view(created["id"]))
    await asyncio.sleep(0)  # the read now waits for the catch-up already in flight
    gate.set()
    assert (await first) is not None
    view = await second
    assert view is not None and view.desired_state == "paused"


async def test_without_a_trusted_snapshot_reads_ask_the_service(counted_api, video) -> None:
    """PipelineService cannot be watched: nothing stale is served, every read asks it."""
    client, counted, _ = counted_api
    pipelines = counted["pipelines"]
    pipelines.refuse_watch = True
    assert (await client.get(API)).json() == []
    # Created behind the ingress' back: no write through it marks the snapshot behind.
    view = await pipelines.service.create(  # type: ignore[attr-defined]
        PipelineSpec.model_validate(spec("yard", video))
    )

    assert [v["id"] for v in (await client.get(API)).json()] == [view.id]
    assert (await client.get(f"{API}/{view.id}/status")).status_code == 200
    assert pipelines.calls["list"] == 2 and pipelines.calls["get"] == 1


async def test_watch_waits_for_trusted_views_then_sends_them(counted_api) -> None:
    """The stream opens while PipelineService cannot be watched and says it waits; the
    snapshot comes once the long-poll is answered again."""
    _, counted, app = counted_api
    pipelines = counted["pipelines"]
    pipelines.refuse_watch = True
    async with (
        served_on_loopback(app) as url,
        httpx.AsyncClient(base_url=url) as browser,
        browser.stream("GET", "/api/v1/watch") as stream,
    ):
        lines = stream.aiter_lines()
        assert await anext(lines) == ": waiting for the pipeline views"
        pipelines.refuse_watch = False
        name, data = await anext(events(lines))
        assert (name, data) == ("snapshot", {"pipelines": []})


async def test_a_deleted_pipeline_is_not_brought_back_by_a_slower_read(tmp_path, video) -> None:
    """A list that began before a delete publishes nothing for the deleted pipeline."""
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with running_app(config) as (_, services):
        pipelines = services["pipelines"]
        view = await pipelines.create(PipelineSpec.model_validate(spec("gate", video)))
        first = await pipelines.watch("", 0, 0.0)
        feed = pipelines._feed
        read_at = feed.version
        await pipelines.delete(view.id)
        feed.replace([view], read_at)  # what the slower list read before the delete
        changes = await pipelines.watch(first.epoch, first.version, 0.0)
        assert changes.removed == [view.id] and changes.views == []


async def test_a_paused_pipeline_is_not_shown_running_by_a_slower_read(tmp_path, video) -> None:
    """A list that began before a pause and lands while the pause reads its answer leaves
    the pipeline paused: the client that paused it reads it paused."""
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with running_app(config) as (_, services):
        pipelines = services["pipelines"]
        running = await pipelines.create(PipelineSpec.model_validate(spec("gate", video)))
        first = await pipelines.watch("", 0, 0.0)
        feed, live = pipelines._feed, pipelines._live
        read_at, read_live = feed.version, live.get
        status = running.status.model_copy(update={"restarts": running.status.restarts + 1})
        seen_before = running.model_copy(update={"status": status})  # read a moment later

        async def slower_list_lands() -> set[str]:
            live.get = read_live
            feed.replace([seen_before], read_at)
            return await read_live()

        live.get = slower_list_lands
        await stop_tasks([pipelines._loop_task])  # no reconcile pass repairs the feed later
        paused = await pipelines.pause(running.id)
        changes = await pipelines.watch(first.epoch, first.version, 0.0)
        assert paused.desired_state == "paused"
        assert [view.desired_state for view in changes.views] == ["paused"]


async def test_healthz_asks_no_service(counted_api) -> None:
    client, counted, _ = counted_api
    for _ in range(5):
        assert (await client.get("/healthz")).status_code == 200
    assert all(not service.calls for service in counted.values())


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


async def test_watch_streams_a_snapshot_then_the_changes(tmp_path: Path, video: Path) -> None:
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with (
        running_app(config) as (client, services),
        served_on_loopback(services["app"]) as url,
        httpx.AsyncClient(base_url=url) as browser,
    ):
        first = (await client.post(API, json=spec("lobby", video))).json()
        await client.get(API)  # primes the snapshot
        async with browser.stream("GET", "/api/v1/watch") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            received = events(stream.aiter_lines())
            name, data = await anext(received)
            assert name == "snapshot" and [v["id"] for v in data["pipelines"]] == [first["id"]]

            await client.post(f"{API}/{first['id']}/pause")
            async for name, data in received:
                paused = [v for v in data.get("pipelines", []) if v["desired_state"] == "paused"]
                if name == "changes" and paused:
                    break
            await client.delete(f"{API}/{first['id']}")
            async for name, data in received:
                if name == "changes" and data["removed"]:
                    assert data["removed"] == [first["id"]]
                    break
