"""Media on the simulated cluster, each node with its own data dir: a downloaded source is
fetched onto the node that plays it; recordings of pipelines on the NPU node and elsewhere are
listed in full by every request, play with Range through the ingress byte-identical to the
file on its node's disk, are deleted there; the disk report and readiness cover every node,
and each node's media agent keeps its own disk within the quota. WebRTC closes reach their
replica."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.serving.media_nodes import AGENT_PREFIX, RayMediaNodes
from coral_serve.streams.webrtc import pin_host_addresses
from tests.cluster.conftest import API, CoralGraph, SimulatedCluster
from tests.conftest import shared_dir
from tests.integration.server import wait_until
from tests.unit.streams.viewer import Viewer
from tests.unit.test_downloads import QuietHandler

# The cluster graph allows sources from the shared media only.
VIDEO = shared_dir() / "media" / "vtest-10s.mp4"
SEGMENTS = 3


def recording(name: str, resources: dict[str, Any], source: str = str(VIDEO)) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": source, "loop": True, "download": source.startswith("http")},
        "model": {"backend": "none"},
        "outputs": {"record": True, "segment_seconds": 1},
        "resources": resources,
    }


def on_disk(directory: Path) -> list[str]:
    """Finished segments in a node's recordings directory of one pipeline, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(
        p.name for p in directory.iterdir() if re.fullmatch(r"\d{13}-\d{13}\.mp4", p.name)
    )


@pytest.fixture(scope="module")
def remote_video() -> Iterator[str]:
    """The clip's URL on a plain HTTP server on loopback, standing in for a remote file."""
    handler = functools.partial(QuietHandler, directory=str(VIDEO.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{VIDEO.name}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def recorded(
    cluster: SimulatedCluster, coral: CoralGraph, remote_video: str
) -> Iterator[dict[str, Path]]:
    """Two recording pipelines, one on the NPU node (its source downloaded there) and one on
    another node: their recordings directories on their own nodes' disks, by pipeline id."""
    client = coral.client
    ids = []
    for name, resources, source in [
        ("rec-npu", {"num_cpus": 0, "custom": {"NPU": 1}}, remote_video),
        ("rec-cpu", {"num_cpus": 1.05}, str(VIDEO)),  # more than the head or NPU node has
    ]:
        created = client.post(f"{API}/pipelines", json=recording(name, resources, source))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    nodes = {n.node_id: n for n in (cluster.head, cluster.cpu, cluster.npu)}
    directories = {}
    for pipeline_id in ids:
        wait_until(
            lambda pid=pipeline_id: client.get(f"{API}/pipelines/{pid}").json(),
            lambda view: view["status"]["state"] == "running",
            timeout=90,
        )
        node = nodes[cluster.node_of(pipeline_id)]
        directories[pipeline_id] = cluster.data_dir(node) / "recordings" / pipeline_id
    assert nodes[cluster.node_of(ids[0])] is cluster.npu
    assert nodes[cluster.node_of(ids[1])] is cluster.cpu
    for directory in directories.values():
        wait_until(lambda d=directory: on_disk(d), lambda names: len(names) >= SEGMENTS, timeout=90)
    # The NPU node's worker fetched its source onto its own disk; the head holds no copy.
    copy = cluster.data_dir(cluster.npu) / "downloads" / ids[0] / VIDEO.name
    assert copy.read_bytes() == VIDEO.read_bytes()
    assert not (cluster.data_dir(cluster.head) / "downloads" / ids[0]).exists()
    yield directories
    for pipeline_id in ids:
        client.delete(f"{API}/pipelines/{pipeline_id}").raise_for_status()
    assert not copy.parent.exists()  # deleted with its pipeline, on its node


def test_recordings_of_every_node_are_listed_played_and_deleted(
    coral: CoralGraph, recorded: dict[str, Path]
) -> None:
    client = coral.client
    before = {pid: on_disk(d) for pid, d in recorded.items()}
    for _ in range(6):  # three StreamService replicas, two ingress replicas: any answers
        listed = client.get(f"{API}/recordings").json()
        for pipeline_id, names in before.items():
            segments = {s["segment"] for s in listed if s["pipeline_id"] == pipeline_id}
            assert set(names) <= segments, pipeline_id

    for pipeline_id, directory in recorded.items():
        name = before[pipeline_id][0]
        content = (directory / name).read_bytes()
        url = f"{API}/recordings/{pipeline_id}/{name}"
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == content
        part = client.get(url, headers={"Range": f"bytes=100-{len(content) - 2}"})
        assert part.status_code == 206 and part.content == content[100:-1]

        assert client.delete(url).status_code == 204
        assert not (directory / name).exists()
        assert client.get(url).status_code == 404
        listed = client.get(f"{API}/recordings", params={"pipeline_id": pipeline_id}).json()
        assert name not in {s["segment"] for s in listed}


def test_the_disk_report_and_readiness_cover_every_node(
    cluster: SimulatedCluster, coral: CoralGraph, recorded: dict[str, Path]
) -> None:
    """Each node's own recordings directory, reported by its agent, whose quota loop runs."""
    report = coral.client.get(f"{API}/monitor/disk").json()
    nodes = {n["node"]: n["disk"] for n in report["nodes"]}
    every = (cluster.head, cluster.cpu, cluster.npu)
    assert set(nodes) == {node.node_id for node in every}
    for node in every:
        assert nodes[node.node_id]["directory"] == str(cluster.data_dir(node) / "recordings")
    for node in every:
        assert nodes[node.node_id]["last_cleanup"] is not None
    for node in (cluster.cpu, cluster.npu):
        assert nodes[node.node_id]["segments"] >= SEGMENTS - 1  # one was deleted above
    readiness = coral.client.get("/readyz").json()
    (disk,) = [c for c in readiness["checks"] if c["name"] == "disk"]
    assert disk["ok"] and all(f"node {n.node_id[:12]}: " in disk["detail"] for n in every)


async def test_each_node_s_agent_keeps_its_own_disk_within_a_tiny_quota(
    coral: CoralGraph, recorded: dict[str, Path]
) -> None:
    """Agents with a one-byte quota on every node (their own namespace, beside the graph's):
    the oldest segments go on the NPU node and on the other one alike."""
    config = coral.config
    oldest = {pid: on_disk(d)[:2] for pid, d in recorded.items()}
    nodes = RayMediaNodes(
        "coral-quota-test",
        str(config.streams.recordings.directory),
        config.pipelines.data_dir,
        DiskQuotaConfig(max_bytes=1, max_age_hours=None, min_free_percent=0, check_interval=0.5),
    )
    await nodes.keep_quota()  # as each StreamService replica does every check_interval
    agents = await nodes.agents()
    assert len(agents) == 3
    try:
        for pipeline_id, directory in recorded.items():
            await asyncio.to_thread(
                wait_until,
                lambda d=directory, p=pipeline_id: set(on_disk(d)) & set(oldest[p]),
                lambda left: not left,
                60,
            )
    finally:
        for node in agents:
            handle = ray.get_actor(f"{AGENT_PREFIX}{node}", namespace="coral-quota-test")
            ray.kill(handle, no_restart=True)


async def test_twenty_webrtc_sessions_close_whichever_replica_holds_them(
    coral: CoralGraph, recorded: dict[str, Path]
) -> None:
    pin_host_addresses(["127.0.0.1"])
    viewers: list[Viewer] = []
    sessions: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=coral.url, timeout=60) as client:
            for index in range(20):  # ten viewers of each pipeline (its viewer limit)
                pipeline_id = list(recorded)[index % 2]
                viewer = Viewer()
                viewers.append(viewer)
                answer = await client.post(
                    f"{API}/streams/{pipeline_id}/webrtc", json=await viewer.offer()
                )
                assert answer.status_code == 201, answer.text
                await viewer.accept(answer.json())
                sessions.append(answer.json()["session_id"])
            assert len({s.partition("-")[0] for s in sessions}) > 1  # spread over replicas
            await wait_viewers(client, list(recorded), lambda n: n == 20)
            closes = [await client.delete(f"{API}/streams/sessions/{s}") for s in sessions]
            assert [c.status_code for c in closes] == [204] * 20
            await wait_viewers(client, list(recorded), lambda n: n == 0)
    finally:
        for viewer in viewers:
            await viewer.close()
        pin_host_addresses([])


async def wait_viewers(client: httpx.AsyncClient, pipeline_ids: list[str], condition: Any) -> None:
    """Until the viewers of the pipelines' newest metric samples, summed, satisfy `condition`
    (what the dashboard charts and `coral_stream_viewers` show)."""
    deadline = time.monotonic() + 60
    while True:
        total = 0
        for pipeline_id in pipeline_ids:
            history = await client.get(f"{API}/metrics/pipelines/{pipeline_id}?window=10")
            samples = history.json()["samples"]
            total += samples[-1]["values"]["viewers"] if samples else 0
        if condition(total):
            return
        assert time.monotonic() < deadline, f"viewers stayed at {total}"
        await asyncio.sleep(0.5)
