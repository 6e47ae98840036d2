"""Where a worker keeps its files (`RecordingSettings`) and how recording segments are named.

Light: imported by control-plane replicas, which must not load OpenCV or PyAV.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coral_serve.config.pipelines import DownloadConfig

__all__ = ["RecordingSettings", "SegmentTimes", "parse_segment_name", "segment_name"]

_SEGMENT = re.compile(r"^(\d{13})-(\d{13})\.mp4$")


@dataclass(frozen=True)
class RecordingSettings:
    """Where a worker keeps files on its node, resolved from the descriptor: its recordings
    and how long their segments run, and (with `downloads`) its downloaded source."""

    directory: str
    segment_seconds: float
    data_dir: str | None = None  # the descriptor's, which `directory` may lie under
    downloads: DownloadConfig | None = None  # None: every source is opened where it is


@dataclass(frozen=True)
class SegmentTimes:
    start: float
    end: float


def segment_name(start: float, end: float) -> str:
    return f"{round(start * 1000):013d}-{round(end * 1000):013d}.mp4"


def parse_segment_name(name: str) -> SegmentTimes | None:
    """The times in a finished segment's name; None for anything else (temp files too)."""
    match = _SEGMENT.fullmatch(name)
    if match is None:
        return None
    start, end = (int(group) / 1000 for group in match.groups())
    return SegmentTimes(start, end) if end >= start else None
