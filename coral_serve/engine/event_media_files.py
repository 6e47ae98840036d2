"""Where event media live on a node (`event_media_path`) and listing what is there.

Light: imported by control-plane replicas, which must not load OpenCV or PyAV.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Literal, NamedTuple

from coral_serve.schema.records import PIPELINE_ID_PATTERN

__all__ = [
    "MEDIA_KINDS",
    "EventMediaFile",
    "MediaKind",
    "event_media_dir",
    "event_media_files",
    "event_media_path",
]

MediaKind = Literal["snapshot", "crop", "clip"]
MEDIA_KINDS: dict[MediaKind, str] = {"snapshot": ".jpg", "crop": "-crop.jpg", "clip": ".mp4"}
_PIPELINE_ID = re.compile(PIPELINE_ID_PATTERN)
_EVENT_ID_LENGTH = 32
_EVENT_ID = re.compile(rf"^[0-9a-f]{{{_EVENT_ID_LENGTH}}}$")


def event_media_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The root of every pipeline's event media on a node."""
    return Path(data_dir) / "events"


class EventMediaFile(NamedTuple):
    event_id: str
    pipeline_id: str
    size: int
    modified: float


def event_media_files(root: Path) -> list[EventMediaFile]:
    """Every finished media file under `root` (an `event_media_dir`), temporary ones aside."""
    found: list[EventMediaFile] = []
    if not root.is_dir():
        return found
    for pipeline in os.scandir(root):
        if not pipeline.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(pipeline.path):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                stat = entry.stat(follow_symlinks=False)
                event_id = entry.name[:_EVENT_ID_LENGTH]
                found.append(EventMediaFile(event_id, pipeline.name, stat.st_size, stat.st_mtime))
    return found


def event_media_path(
    data_dir: str | os.PathLike[str], pipeline_id: str, event_id: str, kind: MediaKind
) -> Path:
    """Where one medium of one event lives; the only place that rule is written. Ids of any
    other form are refused, so a path built here stays under `event_media_dir`."""
    if not _PIPELINE_ID.fullmatch(pipeline_id) or not _EVENT_ID.fullmatch(event_id):
        raise ValueError("not a pipeline id and an event id")
    return event_media_dir(data_dir) / pipeline_id / f"{event_id}{MEDIA_KINDS[kind]}"
