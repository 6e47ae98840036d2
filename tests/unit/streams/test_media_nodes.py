"""Media on several nodes' disks, without Ray: StreamService asks every node's agent (here two
real `MediaAgent`s, each over its own data dir) and merges, locates, reads and deletes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from coral_serve.config import ConfigSources, CoralConfig, load_config
from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.config.streams import NODE_DATA_DIR_ENV, node_path
from coral_serve.errors import NotFoundError
from coral_serve.services.media_agent import MediaAgent
from coral_serve.services.stream import StreamService
from coral_serve.streams.errors import BadPathError
from coral_serve.workers.local import LocalWorkerPool
from tests.unit.monitor.segments import segment_name, write_segment
from tests.unit.waiting import eventually

MINUTE = 60.0
EVENT_ID = "0123456789abcdef0123456789abcdef"


class Nodes:
    """Some nodes' agents; `kept` is set once asked to keep their quota running."""

    def __init__(self, agents: dict[str, Any]) -> None:
        self.agents_by_node = agents
        self.kept = asyncio.Event()

    async def agents(self, in_process: bool = True) -> Mapping[str, Any]:
        return self.agents_by_node

    async def keep_quota(self) -> None:
        self.kept.set()


class Hung:
    async def segments(self, *_: Any) -> list[Any]:
        await asyncio.Event().wait()
        return []


def config_for(tmp_path: Path, *sets: str) -> CoralConfig:
    sets = (f"pipelines.data_dir={tmp_path / 'head'}", "demo=none", *sets)
    return load_config(ConfigSources(sets=list(sets), environ={}))


def node_agent(tmp_path: Path, node: str, disk: DiskQuotaConfig | None = None) -> MediaAgent:
    data_dir = tmp_path / node
    return MediaAgent(str(data_dir / "recordings"), str(data_dir), disk or DiskQuotaConfig())


def recorded(tmp_path: Path, node: str, pipeline: str, ages_minutes: list[float]) -> list[Path]:
    """Real MP4 segments of one pipeline on one node's disk, oldest first."""
    root = tmp_path / node / "recordings" / pipeline
    ages = sorted(ages_minutes, reverse=True)
    return [
        write_segment(root / segment_name(age * MINUTE), age_seconds=age * MINUTE) for age in ages
    ]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Nodes:
    return Nodes({"npu": node_agent(tmp_path, "npu"), "cpu": node_agent(tmp_path, "cpu")})


def service(tmp_path: Path, nodes: Nodes, *sets: str) -> StreamService:
    return StreamService(config_for(tmp_path, *sets), LocalWorkerPool(), media=nodes)


async def test_segments_of_every_node_are_listed_played_and_deleted(tmp_path, two_nodes) -> None:
    on_npu = recorded(tmp_path, "npu", "p-npu", [5, 3])
    on_cpu = recorded(tmp_path, "cpu", "p-cpu", [4, 2])
    streams = service(tmp_path, two_nodes)

    listed = await streams.recordings(None, None, None)
    assert [s.segment for s in listed] == [p.name for p in (on_npu[0], on_cpu[0], on_npu[1])] + [
        on_cpu[1].name
    ]
    assert {s.pipeline_id for s in listed} == {"p-npu", "p-cpu"}
    assert [s.segment for s in await streams.recordings("p-cpu", None, None)] == [
        p.name for p in on_cpu
    ]

    target = on_cpu[1]
    file = await streams.recording_file("p-cpu", target.name)
    assert file.size == target.stat().st_size
    chunks, offset = [], 0
    while offset < file.size:  # as the ingress reads it, in small chunks
        chunk = await streams.read_recording("p-cpu", target.name, offset, 1000)
        chunks.append(chunk)
        offset += len(chunk)
    assert b"".join(chunks) == target.read_bytes()

    await streams.delete_recording("p-cpu", target.name)
    assert not target.exists() and all(p.exists() for p in (*on_npu, on_cpu[0]))
    assert target.name not in [s.segment for s in await streams.recordings(None, None, None)]
    with pytest.raises(NotFoundError, match="no recording"):
        await streams.delete_recording("p-cpu", target.name)
    with pytest.raises(NotFoundError):
        await streams.read_recording("p-cpu", target.name, 0, 10)


async def test_event_media_is_reached_on_its_node(tmp_path, two_nodes) -> None:
    snapshot = tmp_path / "npu" / "events" / "p-npu" / f"{EVENT_ID}.jpg"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"\xff\xd8 a jpeg \xff\xd9")
    streams = service(tmp_path, two_nodes)

    file = await streams.media_file("events", "p-npu", snapshot.name)
    assert file.size == snapshot.stat().st_size
    assert await streams.read_media("events", "p-npu", snapshot.name, 3, 6) == b"a jpeg"
    await streams.delete_media("events", "p-npu", snapshot.name)
    assert not snapshot.exists()


async def test_malformed_names_are_refused_before_any_node_is_asked(tmp_path) -> None:
    streams = service(tmp_path, Nodes({"hung": Hung()}))
    for root, pipeline, name in [
        ("recordings", "..", "0000000000000-0000000001000.mp4"),
        ("recordings", "p", "../../etc/passwd"),
        ("events", "p", "0000000000000-0000000001000.mp4"),
        ("downloads", "p", "x.mp4"),
    ]:
        with pytest.raises(BadPathError):
            await streams.media_file(root, pipeline, name)
    with pytest.raises(BadPathError):
        await streams.recordings("../x", None, None)


async def test_a_node_that_does_not_answer_is_left_out_of_the_listing(tmp_path) -> None:
    kept = recorded(tmp_path, "cpu", "p-cpu", [2])
    nodes = Nodes({"cpu": node_agent(tmp_path, "cpu"), "gone": Hung()})
    streams = service(tmp_path, nodes, "streams.media.agent_timeout=0.2")
    assert [s.segment for s in await streams.recordings(None, None, None)] == [kept[0].name]


async def test_each_node_keeps_its_own_disk_within_the_quota(tmp_path) -> None:
    """A quota of two segments' bytes, enforced by each node's agent on its own files."""
    npu = recorded(tmp_path, "npu", "p-npu", [30, 20, 10])
    cpu = recorded(tmp_path, "cpu", "p-cpu", [25, 15])
    disk = DiskQuotaConfig(
        max_bytes=npu[1].stat().st_size + npu[2].stat().st_size,
        max_age_hours=None,
        min_free_percent=0,
        check_interval=0.05,
    )
    agents = [node_agent(tmp_path, "npu", disk), node_agent(tmp_path, "cpu", disk)]
    try:
        for agent in agents:
            await agent.keep_quota()
            await agent.keep_quota()  # idempotent: one loop
        await eventually(lambda: asyncio.sleep(0, not npu[0].exists()), bool, timeout=10)
    finally:
        for agent in agents:
            await agent.stop()
    assert [p.exists() for p in npu] == [False, True, True]
    assert [p.exists() for p in cpu] == [True, True]  # within the quota on its own disk
    report = await agents[0].disk_report()
    assert report.segments == 2 and report.last_cleanup_deleted == 0


async def test_a_started_replica_keeps_every_node_s_quota_running(tmp_path, two_nodes) -> None:
    """Nobody needs to list recordings for the agents (and their quota loops) to exist."""
    streams = service(tmp_path, two_nodes)
    await streams.start()
    try:
        await asyncio.wait_for(two_nodes.kept.wait(), 10)
    finally:
        await streams.stop()


def test_a_node_with_its_own_data_volume_maps_paths_under_the_data_dir(monkeypatch) -> None:
    monkeypatch.delenv(NODE_DATA_DIR_ENV, raising=False)
    assert node_path("/data/recordings", "/data") == Path("/data/recordings")
    monkeypatch.setenv(NODE_DATA_DIR_ENV, "/mnt/node-a")
    assert node_path("/data/recordings", "/data") == Path("/mnt/node-a/recordings")
    assert node_path("/elsewhere/recordings", "/data") == Path("/elsewhere/recordings")
    assert node_path("/data/recordings", None) == Path("/data/recordings")
