"""The recordings quota on real MP4 segments: oldest first, never what is being written."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.monitoring.disk import RecordingsQuota, Usage
from tests.conftest import shared_file
from tests.unit.monitor.segments import segment_name, write_segment
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

MINUTE = 60.0


def fill(root: Path, pipeline: str, ages_minutes: list[float]) -> list[Path]:
    """Finished segments of one pipeline, oldest first."""
    ages = sorted(ages_minutes, reverse=True)
    return [
        write_segment(root / pipeline / segment_name(age * MINUTE), age_seconds=age * MINUTE)
        for age in ages
    ]


def being_written(root: Path, pipeline: str) -> tuple[Path, Path]:
    """The recorder's temporary file, plus a final-named newest segment still changing."""
    temp = write_segment(root / pipeline / ".recording-1795871078252-1a2b3c4d.part")
    fresh = write_segment(root / pipeline / segment_name(1.0))
    return temp, fresh


def files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def wait_first_pass(client: httpx.AsyncClient) -> None:
    """The quota runs once at start; the test's files come after that pass."""
    await eventually(
        lambda: client.get("/api/v1/monitor/disk"),
        lambda r: r.json()["last_cleanup"] is not None,
    )


async def test_cleanup_deletes_oldest_first_keeps_segments_being_written(tmp_path: Path) -> None:
    config = make_config(tmp_path, "monitoring.disk.check_interval=3600")
    root = Path(str(config.streams.recordings.directory))
    async with running_app(config) as (client, _):
        await wait_first_pass(client)
        cam_a = fill(root, "cam-a", [50, 40, 30, 20, 10])
        cam_b = fill(root, "cam-b", [45, 35, 25])
        in_progress = being_written(root, "cam-a")
        size = cam_a[0].stat().st_size
        total = sum(p.stat().st_size for p in files(root))
        # Room for everything but about four of the finished segments.
        quota = total - 4 * size + size // 2
        config.monitoring.disk.max_bytes = quota

        before = files(root)
        dry = await client.post("/api/v1/monitor/cleanup", json={"dry_run": True})
        assert dry.status_code == 200, dry.text
        assert files(root) == before
        planned = [d["path"] for d in dry.json()["deleted"]]
        oldest_four = [cam_a[0], cam_b[0], cam_a[1], cam_b[1]]  # 50, 45, 40, 35 minutes old
        assert planned == [p.relative_to(root).as_posix() for p in oldest_four]
        assert {d["reason"] for d in dry.json()["deleted"]} == {"quota"}

        done = await client.post("/api/v1/monitor/cleanup", json={})
        assert done.status_code == 200
        assert done.json()["dry_run"] is False
        assert [d["path"] for d in done.json()["deleted"]] == planned
        assert done.json()["kept_in_progress"] == 2
        assert files(root) == before - set(oldest_four)
        assert all(p.exists() for p in in_progress)

        disk = (await client.get("/api/v1/monitor/disk")).json()
        assert disk["used_bytes"] <= quota
        assert disk["oldest"]["path"] == cam_a[2].relative_to(root).as_posix()  # 30 minutes old
        assert disk["newest"]["path"] == in_progress[1].relative_to(root).as_posix()
        assert disk["in_progress"] == 2


async def test_segments_past_max_age_are_deleted_by_the_periodic_pass(tmp_path: Path) -> None:
    config = make_config(tmp_path, "monitoring.disk.max_age_hours=0.5")
    root = Path(str(config.streams.recordings.directory))
    old = fill(root, "cam", [90, 40])
    young = fill(root, "cam", [20, 5])
    async with running_app(config) as (client, _):
        disk = await eventually(
            lambda: client.get("/api/v1/monitor/disk"), lambda r: r.json()["last_cleanup"]
        )
    assert disk.json()["last_cleanup_deleted"] == 2
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in young)


async def test_above_the_warning_share_readiness_warns_but_stays_ready(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    root = Path(str(config.streams.recordings.directory))
    fill(root, "cam", [30, 20, 10])
    used = sum(p.stat().st_size for p in files(root))
    config.monitoring.disk.max_bytes = int(used / 0.9)  # 90 % used, warning above 85 %
    async with running_app(config) as (client, _):
        response = await client.get("/readyz")
        disk = (await client.get("/api/v1/monitor/disk")).json()
    assert response.status_code == 200
    quota = next(c for c in response.json()["checks"] if c["name"] == "disk_quota")
    assert quota["ok"] is False and quota["required"] is False
    assert 85 < disk["quota_percent"] < 100
    assert disk["segments"] == 3  # under quota: nothing deleted


def test_nearly_full_filesystem_frees_space_even_under_quota(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    segments = fill(root, "cam", [50, 40, 30, 20, 10])
    temp, fresh = being_written(root, "cam")
    size = segments[0].stat().st_size
    total = 100 * size
    # 3 % free with a 5 % floor: two segments' worth must go, whatever the quota says.
    usage = Usage(total=total, used=total - 3 * size, free=3 * size)
    quota = RecordingsQuota(
        root, DiskQuotaConfig(max_bytes=None, max_age_hours=None), disk_usage=lambda _: usage
    )

    report = quota.enforce(dry_run=False, now=time.time())

    assert [d["reason"] for d in report.model_dump()["deleted"]] == ["emergency", "emergency"]
    assert [p.exists() for p in segments] == [False, False, True, True, True]
    assert temp.exists() and fresh.exists()


async def test_quota_holds_while_the_recorder_keeps_writing(tmp_path: Path) -> None:
    """The real recorder writes 1 s segments; the quota pass runs every 0.5 s with room for
    about two. Recording goes on without a single error: its open file is never touched."""
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(
        tmp_path,
        f"pipelines.sources.file_roots=[{video.parent}]",
        "monitoring.disk.check_interval=0.5",
        "monitoring.disk.max_bytes=250000",
    )
    root = Path(str(config.streams.recordings.directory))
    spec = {
        "name": "dock",
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none"},
        "outputs": {"record": True, "segment_seconds": 1},
    }
    async with running_app(config) as (client, _):
        pipeline_id = (await client.post("/api/v1/pipelines", json=spec)).json()["id"]
        status_url = f"/api/v1/pipelines/{pipeline_id}/status"
        status = await eventually(
            lambda: client.get(status_url),
            lambda r: r.json().get("recording", {}).get("segments", 0) >= 8,
            timeout=60,
        )
        disk = (await client.get("/api/v1/monitor/disk")).json()
        await client.delete(f"/api/v1/pipelines/{pipeline_id}")
    recording = status.json()["recording"]
    assert recording["errors"] == 0
    on_disk = list((root / pipeline_id).glob("*.mp4"))
    assert 1 <= len(on_disk) < recording["segments"]  # older ones went, newer ones stayed
    assert disk["newest"]["pipeline"] == pipeline_id
