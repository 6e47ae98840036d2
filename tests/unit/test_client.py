"""The Python client against the real app in-process: typed answers, the server's errors as
exceptions, token and URL from the environment, and an import that needs no server parts."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from coral_serve.client import AsyncCoralClient, CoralAPIError, CoralClient
from coral_serve.client.stream import Message, SseParser
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.views import PipelineView
from tests.conftest import REPO_ROOT, shared_file
from tests.unit.webapp import make_config, running_app, served_on_loopback

ADMIN = "client-admin-token-0123456789"
TOKENS = f"http.auth.tokens=[{{name: ops, role: admin, token: {ADMIN}}}]"

# A fresh interpreter where importing any server-side dependency fails.
_BLOCKED_IMPORT_PROBE = """
import importlib.abc, sys
BLOCKED = {"ray", "fastapi", "starlette", "cv2", "numpy", "onnxruntime", "av", "aiortc",
           "aiosqlite", "uvicorn", "hydra", "omegaconf"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {name}")
        return None
sys.meta_path.insert(0, Block())
import coral_serve.client, coral_serve.cli
import json; print(json.dumps(sorted(n for n in sys.modules if n.startswith("coral_serve"))))
"""


def test_the_client_and_the_cli_import_without_ray_fastapi_or_opencv() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT_PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    loaded = json.loads(probe.stdout)
    assert {"coral_serve.client.sync", "coral_serve.cli_pipelines"} <= set(loaded)
    outside = [
        name
        for name in loaded
        if name not in ("coral_serve", "coral_serve.version", "coral_serve.cli")
        and not name.startswith(("coral_serve.client", "coral_serve.schema", "coral_serve.cli_"))
    ]
    assert outside == []


def test_server_sent_events_are_parsed_line_by_line() -> None:
    parser = SseParser()
    lines = [": idle", "id: 7", "event: result", 'data: {"seq": 7}', "", "", "data: {}", ""]
    messages = [message for line in lines if (message := parser.feed(line))]
    assert messages == [Message("result", {"seq": 7}, "7"), Message("message", {}, None)]


def test_url_and_token_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    monkeypatch.setenv("CORAL_URL", "http://edge-box:9001/")
    monkeypatch.setenv("CORAL_TOKEN", "from-env")
    with CoralClient(transport=httpx.MockTransport(answer)) as coral:
        assert coral.pipelines() == []
    with CoralClient(token="from-arg", transport=httpx.MockTransport(answer)) as coral:
        coral.pipelines()
    assert str(seen[0].url) == "http://edge-box:9001/api/v1/pipelines"
    assert seen[0].headers["authorization"] == "Bearer from-env"
    assert seen[1].headers["authorization"] == "Bearer from-arg"


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


def passthrough(name: str, video: Path) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {"name": name, "source": {"uri": str(video), "loop": True}, "model": {"backend": "none"}}
    )


async def test_async_client_drives_the_pipeline_api(tmp_path: Path, video: Path) -> None:
    config = make_config(
        tmp_path, "http.auth.mode=token", TOKENS, f"pipelines.sources.file_roots=[{video.parent}]"
    )
    async with running_app(config) as (_, services):
        transport = httpx.ASGITransport(app=services["app"])
        async with AsyncCoralClient("http://coral.test", ADMIN, transport=transport) as coral:
            view = await coral.create(passthrough("lobby", video))
            assert isinstance(view, PipelineView) and view.name == "lobby"
            assert [v.id for v in await coral.pipelines()] == [view.id]

            changed = await coral.update(view.id, {"labels": {"floor": "1"}}, if_match=1)
            assert (changed.applied, changed.pipeline.revision) == ("hot", 2)
            with pytest.raises(CoralAPIError) as stale:
                await coral.update(view.id, {"labels": {"floor": "2"}}, if_match=1)
            assert (stale.value.status, stale.value.error) == (412, "precondition_failed")

            follow = coral.follow_results(view.id, interval=0.1)
            records = [await anext(follow) for _ in range(3)]
            await follow.aclose()
            assert [r["seq"] for r in records] == [1, 2, 3]
            kinds = [event.kind for event in await coral.events(view.id)]
            assert kinds[:2] == ["created", "started"] and "updated" in kinds

            await coral.delete(view.id)
            with pytest.raises(CoralAPIError) as gone:
                await coral.pipeline(view.id)
            assert (gone.value.status, gone.value.error) == (404, "not_found")
            assert view.id in gone.value.detail

        async with AsyncCoralClient("http://coral.test", "wrong", transport=transport) as coral:
            with pytest.raises(CoralAPIError) as refused:
                await coral.pipelines()
            assert refused.value.status == 401


async def test_sync_client_over_a_real_socket(tmp_path: Path, video: Path) -> None:
    """The blocking client in a thread, against the app served on 127.0.0.1."""
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with running_app(config) as (_, services), served_on_loopback(services["app"]) as url:

        def script() -> tuple[str, list[str], str]:
            with CoralClient(url) as coral:
                created = coral.create(passthrough("door", video))
                try:
                    coral.update(created.id, {"model": {"confidence": 7}})
                except CoralAPIError as exc:
                    refusal = f"{exc.status} {exc.error}: {exc.detail}"
                schema = coral.pipeline_schema()
                stream = coral.stream(created.id)  # server-sent: records and object events
                streamed = [next(stream) for _ in range(3)]
                stream.close()
                assert [(m.event, m.id) for m in streamed] == [
                    ("result", "1"),
                    ("result", "2"),
                    ("result", "3"),
                ]
                assert [m.data["seq"] for m in streamed] == [1, 2, 3]
                assert coral.object_events(created.id).events == []  # passthrough: no objects
                assert coral.snapshot(created.id).startswith(b"\xff\xd8")  # a JPEG
                assert coral.cleanup(dry_run=True).model_dump()["dry_run"] is True
                return refusal, sorted(schema["properties"]), coral.status(created.id).state.value

        refusal, properties, state = await asyncio.to_thread(script)
    assert refusal.startswith("422 invalid_request: spec: model.confidence")
    assert {"name", "source", "model", "labels"} <= set(properties)
    assert state in ("starting", "running")
