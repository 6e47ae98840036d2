"""Media files on disk (recorded segments, event snapshots and clips): list, describe, read
and delete, never outside their root.

A request names a media root, a pipeline id and a file name, nothing else: each must match
its exact form (anything else is a 400), and the resolved file, symlinks followed, must still
lie inside its root (anything else is a 404). Temporary files of segments still being written
never match the segment form, so they are neither listed nor served.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from coral_serve.config.pipelines import DownloadConfig
from coral_serve.config.streams import RecordingsConfig
from coral_serve.engine.recording_files import RecordingSettings, parse_segment_name
from coral_serve.errors import NotFoundError
from coral_serve.schema.records import PIPELINE_ID_PATTERN
from coral_serve.schema.streams import RecordingFile, RecordingSegment
from coral_serve.streams.errors import BadPathError

__all__ = [
    "EVENTS",
    "MEDIA_ROOTS",
    "RECORDINGS",
    "MediaStore",
    "RecordingStore",
    "check_media_name",
    "check_pipeline_id",
    "event_media_store",
    "missing_media",
    "recording_settings",
]

_PIPELINE_ID = re.compile(PIPELINE_ID_PATTERN)
# Media roots by name: recorded segments, and the snapshots and clips of object events.
RECORDINGS = "recordings"
EVENTS = "events"
_EVENT_MEDIA = re.compile(r"^[0-9a-f]{32}(?:\.jpg|-crop\.jpg|\.mp4)$")
_NAME_FORMS: dict[str, tuple[Callable[[str], bool], str]] = {
    RECORDINGS: (
        lambda name: parse_segment_name(name) is not None,
        "a segment is named <start-ms>-<end-ms>.mp4, nothing else",
    ),
    EVENTS: (
        lambda name: _EVENT_MEDIA.fullmatch(name) is not None,
        "event media is named <event-id>.jpg, <event-id>-crop.jpg or <event-id>.mp4",
    ),
}
MEDIA_ROOTS = frozenset(_NAME_FORMS)


def check_media_name(root: str, pipeline_id: str, name: str) -> None:
    """400 unless `root` is a media root and the pipeline id and file name have its forms."""
    if root not in _NAME_FORMS:
        raise BadPathError(f"no media root {root!r}; one of {sorted(MEDIA_ROOTS)}")
    check_pipeline_id(pipeline_id)
    matches, form = _NAME_FORMS[root]
    if not matches(name):
        raise BadPathError(form)


def check_pipeline_id(pipeline_id: str) -> None:
    if not _PIPELINE_ID.fullmatch(pipeline_id):
        raise BadPathError("a pipeline id has only letters, digits, '-' and '_'")


def missing_media(root: str, pipeline_id: str, name: str) -> NotFoundError:
    """The 404 of a well-formed name that no node holds."""
    what = "recording" if root == RECORDINGS else f"{root} file"
    return NotFoundError(f"no {what} {name!r} of pipeline {pipeline_id!r}")


def recording_settings(
    config: RecordingsConfig, data_dir: str, downloads: DownloadConfig | None = None
) -> RecordingSettings:
    """What workers need to record (and to download their source), from the descriptor (its
    directory is always derived; the data dir lets a worker find it on its own node's volume)."""
    return RecordingSettings(
        directory=str(config.directory),
        segment_seconds=config.segment_seconds,
        data_dir=data_dir,
        downloads=downloads,
    )


class MediaStore:
    """One media root's files, `<root>/<pipeline_id>/<name>`; blocking file operations, run
    off the event loop by their callers."""

    def __init__(self, root: Path, kind: str = RECORDINGS) -> None:
        self._root = root
        self._kind = kind

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
            raise missing_media(self._kind, pipeline_id, segment) from None

    def _path(self, pipeline_id: str, segment: str) -> Path:
        """The real file a request names; 400 for malformed names, 404 for all else."""
        check_media_name(self._kind, pipeline_id, segment)
        root = self._real_root()
        if root is None:
            raise missing_media(self._kind, pipeline_id, segment)
        path = Path(os.path.realpath(root / pipeline_id / segment))
        if root not in path.parents or not path.is_file():
            raise missing_media(self._kind, pipeline_id, segment)
        return path

    def _real_root(self) -> Path | None:
        root = Path(os.path.realpath(self._root))
        return root if root.is_dir() else None


def event_media_store(root: Path) -> MediaStore:
    """Object-event snapshots, crops and clips: `<root>/<pipeline_id>/<event_id>...`."""
    return MediaStore(root, EVENTS)


class RecordingStore(MediaStore):
    """Recorded segments, which can also be listed by pipeline and time window."""

    def segments(
        self, pipeline_id: str | None, start: float | None, end: float | None
    ) -> list[RecordingSegment]:
        """Finished segments overlapping [start, end], oldest first."""
        if pipeline_id is not None:
            check_pipeline_id(pipeline_id)
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

    @staticmethod
    def _inside(path: Path, root: Path) -> bool:
        return root in Path(os.path.realpath(path)).parents
