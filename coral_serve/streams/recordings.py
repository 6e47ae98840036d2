"""Recorded segments on disk: list, describe, read and delete, never outside the root.

A request names a pipeline id and a segment file name, nothing else: both must match their
exact forms (anything else is a 400), and the resolved file, symlinks followed, must still
lie inside the recordings root (anything else is a 404). Temporary files of segments still
being written never match the segment form, so they are neither listed nor served.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from coral_serve.config.streams import RecordingsConfig
from coral_serve.engine.recorder import RecordingSettings, parse_segment_name
from coral_serve.errors import NotFoundError
from coral_serve.schema.records import PIPELINE_ID_PATTERN
from coral_serve.schema.streams import RecordingFile, RecordingSegment
from coral_serve.streams.errors import BadPathError

__all__ = ["RecordingStore", "recording_settings"]

_PIPELINE_ID = re.compile(PIPELINE_ID_PATTERN)


def recording_settings(config: RecordingsConfig) -> RecordingSettings:
    """What workers need to record, from the descriptor (its directory is always derived)."""
    return RecordingSettings(
        directory=str(config.directory), segment_seconds=config.segment_seconds
    )


class RecordingStore:
    """Blocking file operations; StreamService runs them off the event loop."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def segments(
        self, pipeline_id: str | None, start: float | None, end: float | None
    ) -> list[RecordingSegment]:
        """Finished segments overlapping [start, end], oldest first."""
        if pipeline_id is not None:
            self._check_id(pipeline_id)
        root = self._real_root()
        if root is None:
            return []
        ids = [pipeline_id] if pipeline_id is not None else sorted(os.listdir(root))
        found = []
        for pid in ids:
            directory = root / pid
            if not _PIPELINE_ID.fullmatch(pid) or not self._inside(directory, root):
                continue
            if not directory.is_dir():
                continue
            for name in os.listdir(directory):
                times = parse_segment_name(name)
                if times is None or (start is not None and times.end < start):
                    continue
                if end is not None and times.start > end:
                    continue
                path = directory / name
                if not self._inside(path, root) or not path.is_file():
                    continue
                found.append(
                    RecordingSegment(
                        pipeline_id=pid,
                        segment=name,
                        start=times.start,
                        end=times.end,
                        duration=round(times.end - times.start, 3),
                        bytes=path.stat().st_size,
                    )
                )
        return sorted(found, key=lambda s: (s.start, s.pipeline_id))

    def describe(self, pipeline_id: str, segment: str) -> RecordingFile:
        stat = self._path(pipeline_id, segment).stat()
        return RecordingFile(
            size=stat.st_size,
            etag=f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"',
            modified=stat.st_mtime,
        )

    def read(self, pipeline_id: str, segment: str, offset: int, length: int) -> bytes:
        with self._path(pipeline_id, segment).open("rb") as file:
            file.seek(offset)
            return file.read(length)

    def delete(self, pipeline_id: str, segment: str) -> None:
        path = self._path(pipeline_id, segment)
        try:
            path.unlink()
        except FileNotFoundError:
            raise self._missing(pipeline_id, segment) from None

    def _path(self, pipeline_id: str, segment: str) -> Path:
        """The real file a request names; 400 for malformed names, 404 for all else."""
        self._check_id(pipeline_id)
        if parse_segment_name(segment) is None:
            raise BadPathError("a segment is named <start-ms>-<end-ms>.mp4, nothing else")
        root = self._real_root()
        if root is None:
            raise self._missing(pipeline_id, segment)
        path = Path(os.path.realpath(root / pipeline_id / segment))
        if root not in path.parents or not path.is_file():
            raise self._missing(pipeline_id, segment)
        return path

    def _real_root(self) -> Path | None:
        root = Path(os.path.realpath(self._root))
        return root if root.is_dir() else None

    @staticmethod
    def _inside(path: Path, root: Path) -> bool:
        return root in Path(os.path.realpath(path)).parents

    @staticmethod
    def _check_id(pipeline_id: str) -> None:
        if not _PIPELINE_ID.fullmatch(pipeline_id):
            raise BadPathError("a pipeline id has only letters, digits, '-' and '_'")

    @staticmethod
    def _missing(pipeline_id: str, segment: str) -> NotFoundError:
        return NotFoundError(f"no recording {segment!r} of pipeline {pipeline_id!r}")
