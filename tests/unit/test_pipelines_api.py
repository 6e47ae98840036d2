"""The pipelines API end to end without Ray: real store, real engine, real model and video."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
def nanodet() -> Path:
    return shared_file("models", "nanodet-g-416.onnx")


def nanodet_spec(name: str, video: Path, model: Path, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "source": {"uri": str(video), "loop": True},
        "model": {"path": str(model), "decoder": "nanodet", "threads": 1},
    }
    spec.update(extra)
    return spec


def passthrough_spec(name: str, uri: str, **source: Any) -> dict[str, Any]:
    return {"name": name, "source": {"uri": uri, **source}, "model": {"backend": "none"}}


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, tmp_path: Path, video: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    """The app with in-process workers; `indirect` parametrisation picks the isolation."""
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.2",
        f"pipelines.isolation={getattr(request, 'param', 'process')}",
    )
    async with running_app(config) as (client, services):
        yield client, services


async def state_of(client: httpx.AsyncClient, pipeline_id: str) -> str:
    return (await client.get(f"{API}/{pipeline_id}/status")).json()["state"]


async def wait_state(client: httpx.AsyncClient, pipeline_id: str, *states: str) -> str:
    return await eventually(lambda: state_of(client, pipeline_id), lambda s: s in states)


@pytest.mark.parametrize("api", ["process", "shared"], indirect=True)
async def test_nanodet_results_have_persons_in_every_frame(api, video, nanodet) -> None:
    client, _ = api
    created = await client.post(API, json=nanodet_spec("plaza", video, nanodet))
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["id"]
    assert created.headers["location"] == f"{API}/{pipeline_id}"

    await wait_state(client, pipeline_id, "running")
    results: list[dict[str, Any]] = []

    async def collect() -> int:
        response = await client.get(f"{API}/{pipeline_id}/results", params={"max": 50})
        results.extend(response.json())
        return len(results)

    await eventually(collect, lambda n: n >= 5, timeout=60)
    for result in results:
        persons = [d for d in result["detections"] if d["class"] == "person" and d["score"] >= 0.35]
        assert len(persons) >= 2, result
    # Consumed results are gone; `exclude` drops fields.
    consumed = await client.post(f"{API}/{pipeline_id}/results/consume", params={"max": 10_000})
    results.extend(consumed.json())
    later = await client.get(f"{API}/{pipeline_id}/results", params={"exclude": "detections"})
    assert all("detections" not in item for item in later.json())
    seen = {r["frame_id"] for r in results}
    assert not seen & {r["frame_id"] for r in later.json()}

    status = (await client.get(f"{API}/{pipeline_id}/status")).json()
    assert status["fps"] > 0 and status["counters"]["frames_processed"] > 0
    assert status["latency"]["inference"]["mean"] > 0
    assert (status["width"], status["height"]) == (768, 576)


async def test_list_returns_every_pipeline_with_status(api, video) -> None:
    client, _ = api
    for name in ("a", "b"):
        assert (await client.post(API, json=passthrough_spec(name, str(video)))).status_code == 201
    listed = (await client.get(API)).json()
    assert [p["name"] for p in listed] == ["a", "b"]
    assert all(p["status"]["state"] for p in listed)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"name": "bad name!"}, "name"),
        ({"source": {"uri": "gopher://x"}}, "source.uri"),
        ({"model": {"backend": "onnxruntime"}}, "model"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_invalid_spec_is_422_naming_the_field(api, video, change, fragment) -> None:
    client, _ = api
    spec = {**passthrough_spec("x", str(video)), **change}
    response = await client.post(API, json=spec)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert any(item["field"].startswith(fragment) for item in body["detail"]), body


async def test_model_problems_are_422_with_the_reason(api, video, tmp_path) -> None:
    client, _ = api
    missing = nanodet_spec("m1", video, tmp_path / "absent.onnx")
    response = await client.post(API, json=missing)
    assert response.status_code == 422 and "model" in response.json()["detail"]

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    response = await client.post(API, json=nanodet_spec("m2", video, garbage))
    assert response.status_code == 422 and "model" in response.json()["detail"]
    assert (await client.get(API)).json() == []


async def test_sources_outside_the_allowlist_are_refused(api, tmp_path) -> None:
    client, _ = api
    outside = tmp_path.parent / "elsewhere.mp4"
    response = await client.post(API, json=passthrough_spec("o", str(outside)))
    assert response.status_code == 422 and "outside the allowed roots" in response.json()["detail"]
    response = await client.post(API, json=passthrough_spec("p", "/etc/passwd"))
    assert response.status_code == 422
    response = await client.post(API, json=passthrough_spec("q", "file:///etc/hostname"))
    assert response.status_code == 422


async def test_symlink_out_of_a_root_is_refused(tmp_path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "link.mp4").symlink_to("/etc/hostname")
    config = make_config(tmp_path / "data", f"pipelines.sources.file_roots=[{media}]")
    async with running_app(config) as (client, _):
        response = await client.post(API, json=passthrough_spec("s", str(media / "link.mp4")))
    assert response.status_code == 422


async def test_scheme_not_in_policy_is_refused(tmp_path, video) -> None:
    config = make_config(tmp_path, "pipelines.sources.schemes=[rtsp]")
    async with running_app(config) as (client, _):
        response = await client.post(API, json=passthrough_spec("f", str(video)))
    assert response.status_code == 422 and "'file' is not allowed" in response.json()["detail"]


async def test_unknown_id_is_404_and_duplicate_name_409(api, video) -> None:
    client, _ = api
    assert (await client.get(f"{API}/nope")).status_code == 404
    assert (await client.post(f"{API}/nope/pause")).status_code == 404
    assert (await client.get(f"{API}/nope/events")).json()["error"] == "not_found"
    assert (await client.post(API, json=passthrough_spec("dup", str(video)))).status_code == 201
    clash = await client.post(API, json=passthrough_spec("dup", str(video)))
    assert clash.status_code == 409


@pytest.mark.parametrize("api", ["process", "shared"], indirect=True)
async def test_pause_resume_and_events(api, video) -> None:
    client, _ = api
    pipeline_id = (
        await client.post(API, json=passthrough_spec("pr", str(video), loop=True))
    ).json()["id"]
    await wait_state(client, pipeline_id, "running")
    paused = await client.post(f"{API}/{pipeline_id}/pause")
    assert paused.json()["desired_state"] == "paused"
    await wait_state(client, pipeline_id, "paused")
    await client.post(f"{API}/{pipeline_id}/resume")
    await wait_state(client, pipeline_id, "running")
    kinds = [e["kind"] for e in (await client.get(f"{API}/{pipeline_id}/events")).json()]
    assert kinds[:4] == ["created", "started", "paused", "resumed"]


async def test_delete_works_from_every_state_and_is_idempotent(api, video) -> None:
    client, _ = api
    running = (await client.post(API, json=passthrough_spec("r", str(video), loop=True))).json()
    paused = (await client.post(API, json=passthrough_spec("p", str(video), loop=True))).json()
    await client.post(f"{API}/{paused['id']}/pause")
    never = passthrough_spec(
        "n", "rtsp://127.0.0.1:9/none", reconnect={"initial_delay": 0.1, "max_attempts": 1}
    )
    broken = (await client.post(API, json=never)).json()
    for pipeline in (running, paused, broken):
        assert (await client.delete(f"{API}/{pipeline['id']}")).status_code == 204
        assert (await client.delete(f"{API}/{pipeline['id']}")).status_code == 204
        assert (await client.get(f"{API}/{pipeline['id']}")).status_code == 404
    assert (await client.get(API)).json() == []


async def test_unreachable_source_reconnects_then_fails_with_a_reason(api) -> None:
    client, _ = api
    spec = passthrough_spec(
        "lost",
        "http://127.0.0.1:9/stream.mjpg",
        reconnect={"initial_delay": 0.2, "max_delay": 0.4, "max_attempts": 2},
    )
    spec["restart_policy"] = "never"
    pipeline_id = (await client.post(API, json=spec)).json()["id"]
    seen: set[str] = set()

    async def probe() -> dict[str, Any]:
        status = (await client.get(f"{API}/{pipeline_id}/status")).json()
        seen.add(status["state"])
        return status

    failed = await eventually(probe, lambda s: s["state"] == "failed", timeout=60)
    assert "reconnecting" in seen
    assert failed["reason"]
    assert (await client.delete(f"{API}/{pipeline_id}")).status_code == 204


@pytest.mark.parametrize("api", ["process", "shared"], indirect=True)
async def test_vanished_worker_is_restarted_per_policy(api, video) -> None:
    client, services = api
    workers = services["pipelines"]._workers
    restartable = (
        await client.post(API, json=passthrough_spec("w1", str(video), loop=True))
    ).json()
    never = passthrough_spec("w2", str(video), loop=True)
    never["restart_policy"] = "never"
    fixed = (await client.post(API, json=never)).json()
    for pipeline in (restartable, fixed):
        await wait_state(client, pipeline["id"], "running")
        await workers.kill(pipeline["id"])  # the worker disappears behind the service's back

    restarted = await eventually(
        lambda: client.get(f"{API}/{restartable['id']}"),
        lambda r: r.json()["status"]["state"] == "running" and r.json()["generation"] == 2,
    )
    assert restarted.json()["status"]["restarts"] == 1
    kinds = [e["kind"] for e in (await client.get(f"{API}/{restartable['id']}/events")).json()]
    assert kinds[-2:] == ["failed", "restarted"]
    status = await eventually(
        lambda: client.get(f"{API}/{fixed['id']}/status"),
        lambda r: r.json()["state"] == "failed",
    )
    assert status.json()["reason"] == "worker process died"


async def test_credentials_in_source_uris_are_masked(api) -> None:
    client, _ = api
    spec = passthrough_spec("cam", "rtsp://admin:s3cr3t-pw@127.0.0.1:9/live")
    created = await client.post(API, json=spec)
    assert created.status_code == 201
    for response in (
        created,
        await client.get(API),
        await client.get(f"{API}/{created.json()['id']}"),
    ):
        assert "s3cr3t-pw" not in response.text
    assert created.json()["spec"]["source"]["uri"].startswith("rtsp://***@")


async def test_declared_pipelines_have_stable_ids_and_refuse_api_delete(tmp_path, video) -> None:
    declared = f"[{{name: gate, source: {{uri: '{video}', loop: true}}, model: {{backend: none}}}}]"
    config = make_config(
        tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", f"pipelines.declared={declared}"
    )
    async with running_app(config) as (client, _):
        (first,) = (await client.get(API)).json()
        assert first["origin"] == "config"
        refused = await client.delete(f"{API}/{first['id']}")
        assert refused.status_code == 409 and "pipelines.declared" in refused.json()["detail"]
    async with running_app(config) as (client, _):
        (again,) = (await client.get(API)).json()
    assert again["id"] == first["id"]


async def test_store_file_checks_run_off_the_event_loop(
    api, video, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services = api
    service = services["pipelines"]
    check, threads = service._store_problem, []

    def watched() -> str:  # the real check, noting the thread it runs in
        threads.append(threading.get_ident())
        return check()

    monkeypatch.setattr(service, "_store_problem", watched)
    assert (await client.post(API, json=passthrough_spec("cam", str(video)))).status_code == 201
    assert (await client.get("/readyz")).status_code == 200
    assert len(threads) >= 2 and threading.get_ident() not in threads
