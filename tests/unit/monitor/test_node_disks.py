"""On a cluster whose nodes keep media on their own disks, MonitorService reports, cleans up
and checks every node's disk through its media agent, and names a node that does not answer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.services.media_agent import MediaAgent
from coral_serve.services.monitor import MonitorService
from tests.unit.monitor.segments import segment_name, write_segment
from tests.unit.monitor.stub_workers import StubWorkers
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config


class SilentAgent:
    """A node whose agent is gone: every call fails, as a dead actor's does."""

    def __getattr__(self, method: str) -> Any:
        async def fail(*args: Any) -> Any:
            raise ConnectionError("actor died")

        return fail


class Nodes:
    def __init__(self, agents: Mapping[str, Any]) -> None:
        self._agents = dict(agents)

    async def agents(self, in_process: bool = True) -> Mapping[str, Any]:
        return self._agents

    async def keep_quota(self) -> None:
        """The agents' own loops are not under test here."""


def node(root: Path, full: bool = False) -> MediaAgent:
    """A node's agent with a one-byte quota; `full`: its filesystem is below its free-space
    floor (a floor of 100 %, which the descriptor would refuse, stands in for a full disk)."""
    disk = DiskQuotaConfig(max_bytes=1, max_age_hours=None)
    if full:
        disk = disk.model_copy(update={"min_free_percent": 100.0})
    return MediaAgent(str(root / "recordings"), str(root), disk)


async def test_every_node_s_disk_is_reported_cleaned_and_checked(tmp_path: Path) -> None:
    for name in ("npu", "cpu"):
        for age in (300, 200):
            write_segment(
                tmp_path / name / "recordings" / f"p-{name}" / segment_name(age), age_seconds=age
            )
    download = tmp_path / "npu" / "downloads" / "p-npu" / "clip.mp4"
    download.parent.mkdir(parents=True)
    download.write_bytes(b"x" * 1000)
    agents = {
        "npu-node": node(tmp_path / "npu"),
        "cpu-node": node(tmp_path / "cpu", full=True),
        "gone-node": SilentAgent(),
    }
    monitor = MonitorService(make_config(tmp_path / "head"), StubWorkers(), media=Nodes(agents))

    report = await monitor.disk_report()
    by_node = {n.node: n for n in report.nodes}
    assert set(by_node) == set(agents)
    for name in ("npu", "cpu"):
        disk = by_node[f"{name}-node"].disk
        assert disk is not None and disk.segments == 2
        assert disk.directory == str(tmp_path / name / "recordings")
        assert disk.downloads_bytes == (1000 if name == "npu" else 0)
    assert by_node["gone-node"].disk is None and by_node["gone-node"].error == "actor died"

    # A full disk on one node fails readiness and says which; a silent node fails nothing.
    disk_check = await monitor.check_disk()
    assert not disk_check.ok
    assert "node cpu-node: " in disk_check.detail and "(minimum 100%)" in disk_check.detail
    assert "node gone-node: no answer (actor died)" in disk_check.detail
    quota_check = await monitor.check_disk_quota()
    assert not quota_check.ok and quota_check.detail.count("recordings use") == 2

    cleaned = await monitor.cleanup()
    assert {d.pipeline for d in cleaned.deleted} == {"p-npu", "p-cpu"}
    assert cleaned.errors == ["node gone-node: actor died"]
    for name in ("npu", "cpu"):
        assert not list((tmp_path / name / "recordings").rglob("*.mp4"))


async def test_recordings_usage_of_every_node_reaches_the_metrics(tmp_path: Path) -> None:
    for name in ("npu", "cpu"):
        write_segment(tmp_path / name / "recordings" / f"p-{name}" / segment_name(300))
    agents = {f"{name}-node": node(tmp_path / name) for name in ("npu", "cpu")}
    config = make_config(
        tmp_path / "head", "monitoring=prometheus", "monitoring.flush_interval=0.2"
    )
    monitor = MonitorService(config, StubWorkers(), media=Nodes(agents))
    await monitor.start()
    try:
        text = await eventually(
            lambda: monitor.metrics_text(),
            lambda t: all(
                f'coral_recordings_bytes{{pipeline="p-{n}"}}' in t.decode() for n in ("npu", "cpu")
            ),
        )
    finally:
        await monitor.stop()
    assert b'coral_recordings_segments{pipeline="p-npu"} 1.0' in text
