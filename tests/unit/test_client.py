"""The Python client against the real app in-process: typed answers, the server's errors as
exceptions, token and URL from the environment, and an import that needs no server parts."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from coral_serve.client import AsyncCoralClient, CoralAPIError, CoralClient, calls
from coral_serve.client.endpoints import Endpoints, endpoint
from coral_serve.client.mjpeg import MultipartJpegParser
from coral_serve.client.stream import Message, SseParser
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.streams import ProbeRequest, SdpOffer
from coral_serve.schema.views import PipelineView
from coral_serve.streams.mjpeg import part
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


def test_server_sent_events_are_parsed_from_chunks_that_split_lines() -> None:
    body = b'id: 7\r\nevent: result\r\ndata: {"seq": 7}\r\n\r\n: idle\n\nevent: end\ndata: {}\n\n'
    parser = SseParser()
    messages = [m for i in range(0, len(body), 5) for m in parser.feed_bytes(body[i : i + 5])]
    assert messages == [Message("result", {"seq": 7}, "7"), Message("end", {}, None)]


def test_mjpeg_frames_are_cut_by_their_length_whatever_the_chunks() -> None:
    frames = [b"\xff\xd8 first \r\n\r\n --coralframe \xff\xd9", b"\xff\xd8second\xff\xd9"]
    body = b"".join(part(frame) for frame in frames)
    parser = MultipartJpegParser()
    assert [f for i in range(0, len(body), 7) for f in parser.feed(body[i : i + 7])] == frames


# What a builder's parameters are given when the test below builds every call.
EXAMPLES = {
    "pipeline_id": "p1",
    "event_id": "e1",
    "session_id": "s1",
    "segment": "20261201T000000.mp4",
    "spec": {"name": "x", "source": {"uri": "rtsp://cam/1"}, "model": {"backend": "none"}},
    "patch": {},
    "specs": [],
    "offer": SdpOffer(sdp="v=0"),
    "request": ProbeRequest(uri="rtsp://cam/1"),
    "path": "/api/v1/recordings/p1/20261201T000000.mp4",
}
# Routes of the dashboard and of plugins, not of the API.
NOT_API = {("GET", "/"), ("GET", "/config.json"), ("GET", "/favicon.ico")}


async def test_the_client_covers_every_operation_of_the_api(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        openapi = (await client.get("/openapi.json")).json()
    operations = {
        (method.upper(), path)
        for path, items in openapi["paths"].items()
        for method in items
        if not path.startswith("/plugins/")
    } - NOT_API
    patterns = {
        (method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")): (method, path)
        for method, path in operations
    }
    covered = set()
    for name, member in vars(Endpoints).items():
        if not isinstance(member, endpoint):
            continue
        build = member._build
        names = [
            p.name for p in inspect.signature(build).parameters.values() if p.default is p.empty
        ]
        built = build(**{param: EXAMPLES[param] for param in names})
        matches = [
            op for (m, rx), op in patterns.items() if m == built.method and rx.match(built.path)
        ]
        assert matches, f"{name} builds {built.method} {built.path}, which the API does not have"
        covered.update(matches)
    streamed = [calls.results_stream("p1"), calls.watch_stream(), calls.mjpeg_stream("p1")]
    covered.update(
        op for call in streamed for (m, rx), op in patterns.items() if rx.match(call.path)
    )
    assert operations - covered == set()


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
                frames = coral.mjpeg(created.id)
                assert next(frames).startswith(b"\xff\xd8") and next(frames).endswith(b"\xff\xd9")
                frames.close()
                assert coral.whoami().role == "admin"  # auth is off: everyone is admin
                assert coral.liveness() == {"status": "ok"}
                assert coral.readiness().checks
                assert "line-counter" in {plugin.name for plugin in coral.plugins()}
                assert coral.line_crossings(created.id) == []
                assert coral.metrics(created.id, window=60).pipeline_id == created.id
                assert coral.sinks()[0].name == "stdout"
                assert "none" in str(coral.registry())
                watch = coral.watch()
                assert next(watch).event == "snapshot"
                watch.close()
                return refusal, sorted(schema["properties"]), coral.status(created.id).state.value

        refusal, properties, state = await asyncio.to_thread(script)
    assert refusal.startswith("422 invalid_request: spec: model.confidence")
    assert {"name", "source", "model", "labels"} <= set(properties)
    assert state in ("starting", "running")
