"""One bad number or one unreadable row must never take the control plane down."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from coral_serve.config import CoralConfig
from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"
BROKEN_ID = "0badc0de0badc0de0badc0de0badc0de"


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
def config(tmp_path: Path, video: Path) -> CoralConfig:
    return make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.2",
    )


@pytest.fixture
async def api(config: CoralConfig) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    async with running_app(config) as (client, services):
        yield client, services


def passthrough(name: str, video: Path) -> dict:
    return {"name": name, "source": {"uri": str(video), "loop": True}, "model": {"backend": "none"}}


def write_broken_row(config: CoralConfig, video: Path) -> None:
    """What an earlier version stored for `custom: {NPU: NaN}`: the number became null."""
    spec = passthrough("bricked", video) | {"resources": {"custom": {"NPU": None}}}
    with sqlite3.connect(str(config.pipelines.store_path)) as raw:
        raw.execute(
            "INSERT INTO pipelines (id, name, spec, desired_state, restart_policy, origin,"
            " generation, created, updated) VALUES (?, 'bricked', ?, 'running', 'on-failure',"
            " 'api', 1, 0, 0)",
            (BROKEN_ID, json.dumps(spec)),
        )


@pytest.mark.parametrize(
    "resources",
    [
        '{"custom": {"NPU": NaN}}',
        '{"custom": {"NPU": Infinity}}',
        '{"custom": {"NPU": 1e400}}',
        '{"num_cpus": NaN}',
        '{"num_cpus": Infinity}',
        '{"num_cpus": 1e400}',
    ],
)
async def test_non_finite_resources_are_422_and_store_nothing(api, video, resources) -> None:
    client, _ = api
    body = json.dumps(passthrough("nan", video))[:-1] + f', "resources": {resources}}}'
    response = await client.post(API, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert any(item["field"].startswith("resources") for item in response.json()["detail"])
    listed = await client.get(API)
    assert listed.status_code == 200 and listed.json() == []


async def test_reserved_ray_resource_is_422_pointing_at_num_gpus(api, video) -> None:
    client, _ = api
    spec = passthrough("gpu", video) | {"resources": {"custom": {"GPU": 1}}}
    response = await client.post(API, json=spec)
    assert response.status_code == 422
    assert "use num_cpus or num_gpus" in response.text
    assert (await client.get(API)).json() == []


async def test_an_unreadable_row_is_quarantined_and_deletable(api, config, video) -> None:
    client, services = api
    good = (await client.post(API, json=passthrough("good", video))).json()
    write_broken_row(config, video)

    # Written behind the service's back: the next reconcile pass lists it.
    listed = await eventually(lambda: client.get(API), lambda r: len(r.json()) == 2)
    assert listed.status_code == 200
    by_name = {view["name"]: view for view in listed.json()}
    assert by_name["good"]["broken"] is False
    assert by_name["bricked"]["broken"] is True
    assert by_name["bricked"]["status"]["state"] == "broken"
    assert "resources.custom.NPU" in by_name["bricked"]["status"]["reason"]

    for answer in (
        await client.get(f"{API}/{BROKEN_ID}"),
        await client.post(f"{API}/{BROKEN_ID}/pause"),
    ):
        assert answer.status_code == 409, answer.text
        assert "cannot be read" in answer.json()["detail"]

    ready = await client.get("/readyz")
    assert ready.status_code == 200
    store_check = next(c for c in ready.json()["checks"] if c["name"] == "store")
    assert BROKEN_ID in store_check["detail"] and "warning" in store_check["detail"]

    # The reconcile loop still serves the readable pipeline: a lost worker comes back.
    await eventually(
        lambda: client.get(f"{API}/{good['id']}"),
        lambda r: r.json()["status"]["state"] == "running",
    )
    await services["pipelines"]._workers.kill(good["id"])
    await eventually(
        lambda: client.get(f"{API}/{good['id']}"),
        lambda r: r.json()["status"]["state"] == "running" and r.json()["generation"] == 2,
    )

    assert (await client.delete(f"{API}/{BROKEN_ID}")).status_code == 204
    assert (await client.get(f"{API}/{BROKEN_ID}")).status_code == 404
    assert [view["name"] for view in (await client.get(API)).json()] == ["good"]


async def test_the_service_starts_over_a_store_holding_an_unreadable_row(config, video) -> None:
    async with running_app(config) as (client, _):
        await client.post(API, json=passthrough("good", video))
    write_broken_row(config, video)
    async with running_app(config) as (client, _):
        listed = (await client.get(API)).json()
        assert sorted((view["name"], view["broken"]) for view in listed) == [
            ("bricked", True),
            ("good", False),
        ]
        good = next(view for view in listed if view["name"] == "good")
        await eventually(
            lambda: client.get(f"{API}/{good['id']}"),
            lambda r: r.json()["status"]["state"] == "running",
        )


async def test_a_row_that_turns_unreadable_stops_its_worker(api, config, video) -> None:
    client, services = api
    created = (await client.post(API, json=passthrough("turned", video))).json()
    await eventually(
        lambda: client.get(f"{API}/{created['id']}"),
        lambda r: r.json()["status"]["state"] == "running",
    )
    with sqlite3.connect(str(config.pipelines.store_path)) as raw:
        raw.execute("UPDATE pipelines SET spec = '{}' WHERE id = ?", (created["id"],))
    workers = services["pipelines"]._workers
    await eventually(workers.live, lambda live: created["id"] not in live)
    listed = await eventually(lambda: client.get(API), lambda r: r.json()[0]["broken"])
    [view] = listed.json()
    assert view["broken"] is True and view["status"]["state"] == "broken"
    assert (await client.delete(f"{API}/{created['id']}")).status_code == 204
