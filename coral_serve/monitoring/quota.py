"""The recordings disk quota as a service: reports, one enforcement pass at a time, its
readiness checks, and recordings usage as points for the sinks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.monitoring.disk import RecordingsQuota, tree_bytes
from coral_serve.schema.checks import CheckResult
from coral_serve.schema.disk import CleanupReport, DiskReport
from coral_serve.sinks.points import Point, recordings_point

__all__ = ["QuotaKeeper"]

_MIB = 1024 * 1024


class QuotaKeeper:
    """Filesystem work runs in a thread so the event loop never waits on the disk."""

    def __init__(self, root: Path, disk: DiskQuotaConfig, downloads: Path | None = None) -> None:
        """`downloads`: the downloaded sources beside the recordings, reported with them."""
        self._disk = disk
        self._downloads = downloads
        self._quota = RecordingsQuota(root, disk)
        self._lock = asyncio.Lock()
        self._directories: set[str] = set()  # recordings directories last reported

    async def report(self) -> DiskReport:
        report = await asyncio.to_thread(self._quota.report, time.time())
        if self._downloads is not None:
            report.downloads_bytes = await asyncio.to_thread(tree_bytes, self._downloads)
        return report

    async def used_bytes(self) -> int:
        """Bytes the recordings use now: the disk quota leaves event media the rest."""
        inventory = await asyncio.to_thread(self._quota.inventory, time.time())
        return inventory.used_bytes

    async def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Enforce the quota now (or only say what it would delete)."""
        async with self._lock:
            return await asyncio.to_thread(self._quota.enforce, dry_run, time.time())

    async def usage_points(self) -> list[Point]:
        """Bytes and segments per recordings directory, and a final point for each directory
        that is gone since the previous call."""
        now = time.time()
        inventory = await asyncio.to_thread(self._quota.inventory, now)
        usage = inventory.by_pipeline()
        points = [recordings_point(d, size, count, now) for d, (size, count) in usage.items()]
        points += [
            recordings_point(d, 0, 0, now, final=True) for d in self._directories - usage.keys()
        ]
        self._directories = set(usage)
        return points

    async def check_disk(self) -> CheckResult:
        """Readiness: the recordings filesystem keeps its minimum share of free space."""
        usage = await asyncio.to_thread(self._quota.filesystem)
        free_percent = 100.0 * usage.free / usage.total if usage.total else 0.0
        floor = self._disk.min_free_percent
        return CheckResult(
            name="disk",
            ok=free_percent >= floor,
            detail=f"{free_percent:.1f}% free on {self._quota.root} (minimum {floor:g}%)",
        )

    async def check_quota(self) -> CheckResult:
        """Warning: recordings use more than warn_percent of their byte quota."""
        report = await self.report()
        if report.quota_percent is None or report.max_bytes is None:
            return CheckResult(name="disk_quota", ok=True, detail="no byte quota set")
        return CheckResult(
            name="disk_quota",
            ok=report.quota_percent <= report.warn_percent,
            detail=f"recordings use {report.used_bytes / _MIB:.1f} MiB, "
            f"{report.quota_percent:.1f}% of {report.max_bytes / _MIB:.1f} MiB "
            f"(warning above {report.warn_percent:g}%)",
        )
