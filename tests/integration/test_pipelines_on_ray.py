"""Pipelines in real Ray actors: results through the whole stack, restore after SIGKILL of
the serving process, and restart policies when a worker process is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import psutil
import pytest

from coral_serve.client import CoralAPIError, CoralClient
from tests.conftest import shared_file
from tests.integration.processes import read_log
from tests.integration.server import Server, control_plane, wait_until

API = "/api/v1/pipelines"


def status(server: Server, pipeline_id: str) -> dict[str, Any]:
    return server.client.get(f"{API}/{pipeline_id}").json()


def wait_running(server: Server, pipeline_id: str, generation: int = 1) -> dict[str, Any]:
    return wait_until(
        lambda: status(server, pipeline_id),
        lambda v: v["status"]["state"] == "running" and v["generation"] == generation,
    )


def passthrough(name: str, video: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none"},
        "resources": {"num_cpus": 0.1},
        **extra,
    }


def post_ignoring_errors(server: Server, spec: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):
        server.client.post(API, json=spec)


def worker_processes() -> list[psutil.Process]:
    """The processes pipelines run in: one per pipeline, or a host per resource shape."""
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith(("ray::PipelineWorker", "ray::PipelineHost")):
            found.append(proc)
    return sorted(found, key=lambda p: p.info["create_time"])


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


def overrides(tmp_path: Path, video: Path) -> list[str]:
    return [
        f"pipelines.data_dir={tmp_path / 'data'}",
        f"pipelines.sources.file_roots=[{video.parent}]",
        "pipelines.reconcile_interval=0.5",
    ]


# The lower two thirds of vtest's frame: the plaza people walk across.
PLAZA_EVENTS = {
    "zones": [{"name": "plaza", "polygon": [[0, 0.33], [1, 0.33], [1, 1], [0, 1]]}],
    "events": {"clip": True, "pre_capture": 1, "post_capture": 1, "end_after_seconds": 0.5},
}


def check_object_events(server: Server, pipeline_id: str, tmp_path: Path) -> None:
    """People on the plaza become object events with a snapshot and a playable clip."""

    def ready() -> list[dict[str, Any]]:
        page = server.client.get("/api/v1/events", params={"pipeline_id": pipeline_id}).json()
        return [e for e in page["events"] if e["clip"] == "ready"]

    event = wait_until(ready, bool)[0]
    assert event["label"] == "person" and "plaza" in event["zones"] and event["has_snapshot"]
    snapshot = server.client.get(f"/api/v1/events/{event['id']}/snapshot.jpg")
    assert snapshot.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (576, 768, 3)
    clip = server.client.get(f"/api/v1/events/{event['id']}/clip.mp4")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    (tmp_path / "clip.mp4").write_bytes(clip.content)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        duration = container.duration / av.time_base
        frames = sum(1 for _ in container.decode(video=0))
    # From the keyframe before start - pre_capture to end + post_capture (1 s each).
    longest = event["end"] - event["start"] + 2 + 1
    assert 1.0 <= duration <= longest and frames >= 5, (duration, event)


def check_client_and_reload(server: Server, pipeline_id: str, workdir: Path) -> None:
    """The Python client on the real server: a hot PATCH reaches the Ray worker in place,
    a stale If-Match is a 412; SIGHUP makes the server read its descriptor again."""
    with CoralClient(server.url) as coral:
        view = coral.pipeline(pipeline_id)
        change = coral.update(pipeline_id, {"source": {"max_fps": 5}}, if_match=view.revision)
        assert (change.applied, change.changed) == ("hot", ["source.max_fps"])
        assert change.pipeline.generation == view.generation
        with pytest.raises(CoralAPIError) as stale:
            coral.update(pipeline_id, {"labels": {"a": "b"}}, if_match=view.revision)
        assert stale.value.status == 412
        assert coral.status(pipeline_id).generation == view.generation  # the same worker
    server.process.send_signal(signal.SIGHUP)
    wait_until(lambda: read_log(workdir), lambda log: "reloaded:" in log)


@pytest.mark.parametrize("isolation", ["process", "shared"])
def test_nanodet_through_the_whole_stack_and_restart_policies(
    tmp_path: Path, video: Path, isolation: str
) -> None:
    """The same behaviour whether each pipeline is its own process or shares a host with
    the pipelines of its resource shape (a host left with none stops)."""
    model = shared_file("models", "nanodet-g-416.onnx")
    settings = [*overrides(tmp_path, video), f"pipelines.isolation={isolation}"]
    with control_plane(tmp_path, settings) as server:
        spec = {
            "name": "plaza",
            "source": {"uri": str(video), "loop": True},
            "model": {"path": str(model), "decoder": "nanodet", "threads": 1},
            "resources": {"num_cpus": 0.5},
            "analytics": PLAZA_EVENTS,
        }
        created = server.client.post(API, json=spec)
        assert created.status_code == 201, created.text
        plaza = created.json()["id"]
        wait_running(server, plaza)
        results: list[dict[str, Any]] = []

        def collect() -> int:
            results.extend(server.client.get(f"{API}/{plaza}/results").json())
            return len(results)

        wait_until(collect, lambda n: n >= 5)
        for result in results:
            persons = [d for d in result["detections"] if d["class"] == "person"]
            assert len(persons) >= 2, result
        check_object_events(server, plaza, tmp_path)
        assert server.client.get(f"{API}/missing").status_code == 404
        # deploy=local: the ingress replica listens itself, so no Serve proxy answers /-/.
        assert server.client.get("/-/routes").json()["error"] == "not_found"
        assert server.client.delete(f"{API}/{plaza}").status_code == 204
        wait_until(worker_processes, lambda procs: not procs)

        # A worker killed with SIGKILL comes back under on-failure...
        restartable = server.client.post(API, json=passthrough("cam-a", video)).json()["id"]
        # Reads come from the ingress' snapshot, and each write is in the very next read.
        assert [view["id"] for view in server.client.get(API).json()] == [restartable]
        wait_running(server, restartable)
        assert server.client.post(f"{API}/{restartable}/pause").status_code == 200
        assert server.client.get(f"{API}/{restartable}/status").json()["state"] == "paused"
        assert server.client.post(f"{API}/{restartable}/resume").status_code == 200
        assert status(server, restartable)["desired_state"] == "running"
        wait_running(server, restartable)
        (process,) = worker_processes()
        kind = "ray::PipelineHost" if isolation == "shared" else "ray::PipelineWorker"
        assert process.info["cmdline"][0].startswith(kind)
        # pipelines.host_malloc_arenas reaches a host; a per-process worker keeps glibc's.
        arenas = process.environ().get("MALLOC_ARENA_MAX")
        assert arenas == ("2" if isolation == "shared" else None)
        process.send_signal(signal.SIGKILL)
        restarted = wait_running(server, restartable, generation=2)
        assert restarted["status"]["restarts"] == 1
        check_client_and_reload(server, restartable, tmp_path)

        # ...and stays down under never, with the reason, while the other keeps running
        # (its own resource shape: its own host when shared).
        fixed_spec = passthrough("cam-b", video, restart_policy="never")
        fixed_spec["resources"] = {"num_cpus": 0.2}
        fixed = server.client.post(API, json=fixed_spec)
        fixed_id = fixed.json()["id"]
        wait_running(server, fixed_id)
        worker_processes()[-1].send_signal(signal.SIGKILL)
        failed = wait_until(
            lambda: status(server, fixed_id), lambda v: v["status"]["state"] == "failed"
        )
        assert failed["status"]["reason"] == "worker process died"
        assert status(server, restartable)["status"]["state"] == "running"
        assert server.client.delete(f"{API}/{fixed_id}").status_code == 204
        assert [view["id"] for view in server.client.get(API).json()] == [restartable]


def listening(port: int) -> bool:
    """Whether something still accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def open_events(server: Server, pipeline_id: str) -> list[dict[str, Any]]:
    page = server.client.get("/api/v1/events", params={"pipeline_id": pipeline_id}).json()
    return [event for event in page["events"] if event["end"] is None]


def test_pipelines_are_restored_after_sigkill_of_the_serving_process(
    tmp_path: Path, video: Path
) -> None:
    """...and an object event under way when everything is killed is kept: ended by the
    store once the new worker reports, its snapshot served, its clip a 404 saying why."""
    settings = overrides(tmp_path, video)
    # A clip cut 30 s after its event ends: none can be finished before the kill.
    events = {**PLAZA_EVENTS["events"], "post_capture": 30}
    plaza = passthrough("cam-0", video, analytics={**PLAZA_EVENTS, "events": events})
    plaza["model"] = {
        "path": str(shared_file("models", "nanodet-g-416.onnx")),
        "decoder": "nanodet",
        "threads": 1,
    }
    with control_plane(tmp_path, settings) as server:
        specs = [plaza, passthrough("cam-1", video), passthrough("cam-2", video)]
        ids = [server.client.post(API, json=spec).json()["id"] for spec in specs]
        for pipeline_id in ids:
            wait_running(server, pipeline_id)
        under_way = wait_until(lambda: open_events(server, ids[0]), bool)[0]
        port = int(server.url.rsplit(":", 1)[1])
        # A create in flight when the process dies either happened entirely or not at all.
        in_flight = threading.Thread(
            target=post_ignoring_errors, args=(server, passthrough("cam-late", video)), daemon=True
        )
        in_flight.start()
        time.sleep(0.05)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(30)
        wait_until(worker_processes, lambda procs: not procs, timeout=60)
        # Ray's reaper stops the old ingress replica too; only then is the port free again.
        wait_until(lambda: listening(port), lambda used: not used, timeout=60)

    with control_plane(tmp_path, settings, port=port) as server:
        listed = wait_until(
            lambda: server.client.get(API).json(),
            lambda views: views and all(v["status"]["state"] == "running" for v in views),
        )
        assert [view["id"] for view in listed][:3] == ids
        assert [view["name"] for view in listed][3:] in ([], ["cam-late"])
        kinds = [event["kind"] for event in server.client.get(f"{API}/{ids[0]}/events").json()]
        assert kinds == ["created", "started", "started"]
        kept = wait_until(
            lambda: server.client.get(f"/api/v1/events/{under_way['id']}").json(),
            lambda event: event["end"] is not None and event["clip"] != "pending",
        )
        assert (kept["start"], kept["label"]) == (under_way["start"], under_way["label"])
        snapshot = server.client.get(f"/api/v1/events/{under_way['id']}/snapshot.jpg")
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        clip = server.client.get(f"/api/v1/events/{under_way['id']}/clip.mp4")
        assert clip.status_code == 404
        # The store ends it once the new worker reports; when Ray let the old worker stop
        # first, that worker ended the event itself, and its reason says why it has no clip.
        reasons = ("worker stopped before the clip was finished", "no video of the event")
        assert any(reason in clip.json()["detail"] for reason in reasons), clip.json()
