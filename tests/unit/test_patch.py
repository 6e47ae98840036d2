"""PATCH and PUT of a pipeline: hot fields change the running worker in place, cold ones
restart it under the same id, the revision is the ETag, and no concurrent edit is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coral_serve.schema.changes import Apply, apply_rule, field_rules, merge_patch
from tests.conftest import shared_file
from tests.unit.test_pipelines_api import nanodet_spec, passthrough_spec, wait_state
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

API = "/api/v1/pipelines"
MERGE = {"Content-Type": "application/merge-patch+json"}

# The fields marked hot themselves (fields inside them inherit it); every other field is
# cold by default, so a field added later restarts the worker rather than being ignored.
MARKED_HOT = {
    "source.max_fps",
    "model.confidence",
    "model.iou",
    "model.max_detections",
    "outputs.annotate",
    "outputs.record",
    "outputs.stream_fps",
    "outputs.jpeg_quality",
    "restart_policy",
    "labels",
    "analytics.zones",
    "analytics.lines",
}


def test_every_field_of_the_spec_has_a_decided_rule() -> None:
    rules = {path: (model, name, rule) for path, model, name, rule in field_rules()}
    marked = {
        path
        for path, (model, name, _) in rules.items()
        if (model.model_fields[name].json_schema_extra or {}).get("x-apply") == "hot"
    }
    assert marked == MARKED_HOT & rules.keys()
    for path, (_, _, rule) in rules.items():
        inherited = any(path.startswith(f"{hot}.") for hot in marked)
        assert rule is (Apply.hot if path in marked or inherited else Apply.cold), path
    for cold in ("source.uri", "model.path", "model.backend", "model.input_size", "resources"):
        assert apply_rule(cold) is Apply.cold
    assert apply_rule("labels.site") is Apply.hot  # a key inside a hot dict


def test_merge_patch_merges_objects_replaces_lists_and_null_removes() -> None:
    target = {"a": {"b": 1, "c": 2}, "list": [1, 2], "gone": 3}
    patch = {"a": {"c": 5}, "list": [9], "gone": None, "new": {"x": 1}}
    assert merge_patch(target, patch) == {"a": {"b": 1, "c": 5}, "list": [9], "new": {"x": 1}}
    assert target["a"] == {"b": 1, "c": 2}  # the target is left as it was


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
def nanodet() -> Path:
    return shared_file("models", "nanodet-g-416.onnx")


@pytest.fixture
async def api(tmp_path: Path, video: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.2",
    )
    async with running_app(config) as (client, services):
        yield client, services


async def create(client: httpx.AsyncClient, spec: dict[str, Any]) -> str:
    response = await client.post(API, json=spec)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def patch(
    client: httpx.AsyncClient, pipeline_id: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.patch(f"{API}/{pipeline_id}", json=body, headers={**MERGE, **headers})


async def test_hot_confidence_change_keeps_frames_flowing_in_the_same_worker(
    api, video, nanodet
) -> None:
    client, _ = api
    spec = nanodet_spec("hot", video, nanodet)
    spec["model"]["confidence"] = 0.99
    pipeline_id = await create(client, spec)
    await wait_state(client, pipeline_id, "running")
    before = (await client.get(f"{API}/{pipeline_id}/status")).json()
    results: list[dict[str, Any]] = []

    async def collect() -> list[dict[str, Any]]:
        after = results[-1]["seq"] if results else 0
        response = await client.get(f"{API}/{pipeline_id}/results", params={"after": after})
        results.extend(response.json())
        return results

    await eventually(collect, lambda r: len(r) >= 3, timeout=60)
    assert all(d["score"] >= 0.99 for r in results for d in r["detections"])

    answer = await patch(client, pipeline_id, {"model": {"confidence": 0.2}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["applied"], body["changed"]) == ("hot", ["model.confidence"])
    assert body["pipeline"]["spec"]["model"]["confidence"] == 0.2

    def lowered(found: list[dict[str, Any]]) -> bool:
        return any(d["score"] < 0.9 for r in found for d in r["detections"])

    await eventually(collect, lowered, timeout=60)
    frame_ids = [r["frame_id"] for r in results]
    assert frame_ids == list(range(frame_ids[0], frame_ids[0] + len(frame_ids)))  # no gap
    after = (await client.get(f"{API}/{pipeline_id}/status")).json()
    assert after["started_at"] == before["started_at"]  # the same worker, never restarted
    assert after["generation"] == before["generation"]
    kinds = [e["kind"] for e in (await client.get(f"{API}/{pipeline_id}/events")).json()]
    assert kinds[-1] == "updated"


async def test_cold_model_change_restarts_under_the_same_id_keeping_recordings(
    api, video, nanodet
) -> None:
    client, _ = api
    spec = passthrough_spec("cold", str(video), loop=True)
    spec["outputs"] = {"record": True, "segment_seconds": 1}
    pipeline_id = await create(client, spec)

    async def segments() -> list[str]:
        response = await client.get("/api/v1/recordings", params={"pipeline_id": pipeline_id})
        return [segment["segment"] for segment in response.json()]

    recorded = await eventually(segments, lambda found: len(found) >= 1, timeout=60)
    model = {"backend": "onnxruntime", "path": str(nanodet), "decoder": "nanodet"}
    answer = await patch(client, pipeline_id, {"model": model})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["applied"] == "cold"
    assert "model.backend" in body["changed"] and "model.path" in body["changed"]
    assert (body["pipeline"]["id"], body["pipeline"]["generation"]) == (pipeline_id, 2)

    async def generation() -> tuple[str, int]:
        status = (await client.get(f"{API}/{pipeline_id}/status")).json()
        return status["state"], status["generation"]

    await eventually(generation, lambda seen: seen == ("running", 2), timeout=60)
    assert set(recorded) <= set(await segments())  # the recordings stayed with the id
    kinds = [e["kind"] for e in (await client.get(f"{API}/{pipeline_id}/events")).json()]
    assert kinds[0] == "created" and "reconfigured" in kinds


async def test_stale_if_match_is_refused_and_the_etag_follows_each_write(api, video) -> None:
    client, _ = api
    pipeline_id = await create(client, passthrough_spec("etag", str(video), loop=True))
    got = await client.get(f"{API}/{pipeline_id}")
    assert got.headers["etag"] == '"1"'

    first = await patch(client, pipeline_id, {"labels": {"site": "a"}}, **{"If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"2"'
    assert first.json()["applied"] == "hot"

    stale = await patch(client, pipeline_id, {"labels": {"site": "b"}}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"] == "precondition_failed"
    assert "revision 2" in stale.json()["detail"]
    labels = (await client.get(f"{API}/{pipeline_id}")).json()["spec"]["labels"]
    assert labels == {"site": "a"}  # the stale write changed nothing

    bogus = await patch(client, pipeline_id, {"labels": {}}, **{"If-Match": "yesterday"})
    assert bogus.status_code == 412


async def test_concurrent_patches_never_lose_an_update(api, video) -> None:
    client, _ = api
    pipeline_id = await create(client, passthrough_spec("many", str(video), loop=True))
    answers = await asyncio.gather(
        *(patch(client, pipeline_id, {"labels": {f"k{i}": str(i)}}) for i in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8
    view = (await client.get(f"{API}/{pipeline_id}")).json()
    assert view["spec"]["labels"] == {f"k{i}": str(i) for i in range(8)}
    assert view["revision"] == 9


async def test_put_replaces_the_spec_and_an_unchanged_one_is_a_no_op(api, video) -> None:
    client, _ = api
    spec = passthrough_spec("put", str(video), loop=True)
    pipeline_id = await create(client, spec)
    same = await client.put(f"{API}/{pipeline_id}", json=spec)
    assert (same.status_code, same.json()["applied"], same.json()["changed"]) == (200, "none", [])
    assert same.json()["pipeline"]["revision"] == 1

    replaced = await client.put(f"{API}/{pipeline_id}", json={**spec, "labels": {"x": "1"}})
    assert replaced.json()["applied"] == "hot"
    assert replaced.json()["pipeline"]["spec"]["labels"] == {"x": "1"}

    renamed = await client.put(f"{API}/{pipeline_id}", json={**spec, "name": "other"})
    assert renamed.status_code == 422
    assert "keeps its name" in renamed.json()["detail"]


async def test_an_invalid_patch_names_the_field_and_changes_nothing(api, video) -> None:
    client, _ = api
    pipeline_id = await create(client, passthrough_spec("bad", str(video), loop=True))
    answer = await patch(client, pipeline_id, {"model": {"confidence": 7}})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("spec: model.confidence")
    assert (await client.get(f"{API}/{pipeline_id}")).json()["revision"] == 1


async def test_a_declared_pipeline_cannot_be_patched(tmp_path: Path, video: Path) -> None:
    declared = (
        f"pipelines.declared=[{{name: cam, source: {{uri: '{video}'}}, model: {{backend: none}}}}]"
    )
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", declared)
    async with running_app(config) as (client, _):
        pipeline_id = (await client.get(API)).json()[0]["id"]
        answer = await patch(client, pipeline_id, {"labels": {"a": "b"}})
        assert answer.status_code == 409
        assert "pipelines.declared" in answer.json()["detail"]
        assert "reload" in answer.json()["detail"]


async def test_the_pipeline_schema_marks_every_field_hot_or_cold(api) -> None:
    client, _ = api
    schema = (await client.get("/api/v1/schema/pipeline")).json()
    assert schema["properties"]["labels"]["x-apply"] == "hot"
    assert schema["properties"]["source"]["x-apply"] == "cold"
    model = schema["$defs"]["ModelSpec"]["properties"]
    assert (model["confidence"]["x-apply"], model["path"]["x-apply"]) == ("hot", "cold")
    for definition in [schema, *schema["$defs"].values()]:
        for name, prop in definition.get("properties", {}).items():
            assert prop.get("x-apply") in ("hot", "cold"), name
