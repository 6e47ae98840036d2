"""The recordings disk quota: by total bytes, by age, and an emergency floor of free space.

Recorded segments are MP4 files under `streams.recordings.directory`, one directory per
pipeline. The recorder writes a segment under a temporary name (dot-prefixed or ending in
`.part`/`.tmp`) and renames it when complete, so those files are never touched; the newest
segment of a directory that changed in the last few seconds counts as being written too, in
case a recorder writes in place. Everything here is blocking file work: call it in a thread.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from coral_serve.config.monitoring import DiskQuotaConfig
from coral_serve.schema.disk import (
    CleanupReport,
    DeletedSegment,
    DiskReport,
    Reason,
    SegmentInfo,
)

__all__ = [
    "ACTIVE_SECONDS",
    "Inventory",
    "RecordingsQuota",
    "tree_bytes",
]

log = logging.getLogger(__name__)

SEGMENT_SUFFIXES = frozenset({".mp4"})
PARTIAL_SUFFIXES = (".part", ".tmp")
ACTIVE_SECONDS = 10.0
ROOT_LABEL = "."


class Usage(NamedTuple):
    total: int
    used: int
    free: int


DiskUsage = Callable[[Path], Usage]


@dataclass(frozen=True)
class RecordedFile:
    path: Path
    relative: str
    pipeline: str
    size: int
    modified: float
    segment: bool
    in_progress: bool

    def info(self) -> SegmentInfo:
        return SegmentInfo(
            path=self.relative, pipeline=self.pipeline, bytes=self.size, modified=self.modified
        )


@dataclass(frozen=True)
class Inventory:
    files: list[RecordedFile]

    @property
    def used_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def segments(self) -> list[RecordedFile]:
        """Final-named segments, oldest first."""
        return sorted((f for f in self.files if f.segment), key=lambda f: f.modified)

    @property
    def deletable(self) -> list[RecordedFile]:
        return [f for f in self.segments if not f.in_progress]

    def by_pipeline(self) -> dict[str, tuple[int, int]]:
        """(bytes, segments) of each top-level directory."""
        totals: dict[str, tuple[int, int]] = {}
        for f in self.files:
            size, count = totals.get(f.pipeline, (0, 0))
            totals[f.pipeline] = (size + f.size, count + int(f.segment))
        return totals


class RecordingsQuota:
    def __init__(
        self, root: Path, quota: DiskQuotaConfig, disk_usage: DiskUsage | None = None
    ) -> None:
        self.root = root
        self._quota = quota
        self._disk_usage: DiskUsage = disk_usage or _disk_usage
        self._last_cleanup: tuple[float, int] | None = None

    def filesystem(self) -> Usage:
        """Usage of the filesystem the directory is (or will be) on."""
        path = self.root
        while not path.exists() and path != path.parent:
            path = path.parent
        return self._disk_usage(path)

    def inventory(self, now: float) -> Inventory:
        files: list[RecordedFile] = []
        for directory, _, names in os.walk(self.root):
            found = [f for name in names if (f := self._file(Path(directory) / name))]
            newest = max((f for f in found if f.segment), key=lambda f: f.modified, default=None)
            if newest is not None and now - newest.modified < ACTIVE_SECONDS:
                found = [replace(f, in_progress=True) if f is newest else f for f in found]
            files.extend(found)
        return Inventory(files)

    def report(self, now: float) -> DiskReport:
        inventory = self.inventory(now)
        fs = self.filesystem()
        segments = inventory.segments
        used = inventory.used_bytes
        quota = self._quota
        return DiskReport(
            directory=str(self.root),
            used_bytes=used,
            segments=len(segments),
            in_progress=sum(f.in_progress for f in inventory.files),
            max_bytes=quota.max_bytes,
            max_age_hours=quota.max_age_hours,
            quota_percent=100.0 * used / quota.max_bytes if quota.max_bytes else None,
            warn_percent=quota.warn_percent,
            filesystem_bytes=fs.total,
            filesystem_free_bytes=fs.free,
            filesystem_free_percent=_percent(fs.free, fs.total),
            min_free_percent=quota.min_free_percent,
            oldest=segments[0].info() if segments else None,
            newest=segments[-1].info() if segments else None,
            last_cleanup=self._last_cleanup[0] if self._last_cleanup else None,
            last_cleanup_deleted=self._last_cleanup[1] if self._last_cleanup else 0,
        )

    def enforce(self, dry_run: bool, now: float) -> CleanupReport:
        """Delete by age, then oldest first while over max_bytes, then oldest first while the
        filesystem is below its free-space floor, whatever the quota says."""
        inventory = self.inventory(now)
        plan = self._plan(inventory, self.filesystem(), now)
        deleted: list[DeletedSegment] = []
        errors: list[str] = []
        for f, reason in plan:
            if not dry_run:
                try:
                    _delete(f)
                except FileNotFoundError:  # removed meanwhile by someone else
                    continue
                except OSError as exc:
                    errors.append(f"{f.relative}: {exc.strerror or exc}")
                    continue
            deleted.append(DeletedSegment(**f.info().model_dump(), reason=reason))
        if not dry_run:
            self._last_cleanup = (now, len(deleted))
            if deleted:
                log.info("recordings cleanup deleted %d segments", len(deleted))
        return CleanupReport(
            dry_run=dry_run,
            deleted=deleted,
            freed_bytes=sum(d.bytes for d in deleted),
            kept_in_progress=sum(f.in_progress for f in inventory.files),
            errors=errors,
        )

    def _plan(
        self, inventory: Inventory, fs: Usage, now: float
    ) -> list[tuple[RecordedFile, Reason]]:
        quota = self._quota
        remaining = inventory.deletable
        plan: list[tuple[RecordedFile, Reason]] = []
        used, free = inventory.used_bytes, fs.free

        def take(reason: Reason) -> None:
            nonlocal used, free
            f = remaining.pop(0)
            plan.append((f, reason))
            used -= f.size
            free += f.size

        if quota.max_age_hours is not None:
            cutoff = now - quota.max_age_hours * 3600
            while remaining and remaining[0].modified < cutoff:
                take("age")
        if quota.max_bytes is not None:
            while remaining and used > quota.max_bytes:
                take("quota")
        floor = fs.total * quota.min_free_percent / 100
        while remaining and free < floor:
            take("emergency")
        return plan

    def _file(self, path: Path) -> RecordedFile | None:
        try:
            stat = path.lstat()
        except FileNotFoundError:  # renamed or deleted by the recorder meanwhile
            return None
        if not path.is_file() or path.is_symlink():
            return None
        relative = path.relative_to(self.root)
        partial = path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIXES)
        return RecordedFile(
            path=path,
            relative=relative.as_posix(),
            pipeline=relative.parts[0] if len(relative.parts) > 1 else ROOT_LABEL,
            size=stat.st_size,
            modified=stat.st_mtime,
            segment=not partial and path.suffix.lower() in SEGMENT_SUFFIXES,
            in_progress=partial,
        )


def _delete(f: RecordedFile) -> None:
    """Unlink unless the file changed since it was listed (then it is being written)."""
    if f.path.lstat().st_mtime != f.modified:
        raise OSError(errno.EBUSY, "modified since it was listed; kept")
    f.path.unlink()


def _disk_usage(path: Path) -> Usage:
    usage = shutil.disk_usage(path)
    return Usage(usage.total, usage.used, usage.free)


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def tree_bytes(root: Path) -> int:
    """Bytes of every file under `root` (0 if it does not exist); files that vanish while
    it counts are skipped."""
    total = 0
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                total += (Path(directory) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total
