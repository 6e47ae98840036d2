"""`Point`: one timestamped measurement, the unit every sink receives and history keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coral_serve.schema.metrics import FieldValue
from coral_serve.schema.views import LatencySummary, PipelineStatus

__all__ = [
    "GONE",
    "LINE",
    "PIPELINE",
    "RECORDINGS",
    "UNRESPONSIVE",
    "ZONE",
    "FieldValue",
    "Point",
    "gone_point",
    "line_points",
    "pipeline_point",
    "recordings_point",
    "unresponsive_point",
    "zone_points",
]


PIPELINE = "coral_pipeline"
RECORDINGS = "coral_recordings"
ZONE = "coral_zone"  # objects in a zone now, per class
LINE = "coral_line"  # line crossings since the pipeline was made, per direction and class
# States the monitor reports on its own: the worker did not answer in time, or has no worker.
UNRESPONSIVE = "unresponsive"
GONE = "gone"


@dataclass(frozen=True)
class Point:
    """Fields keep one type each (counters int, rates and seconds float) because InfluxDB
    rejects a field whose type changes. `final` marks the last point of a series (its
    pipeline or directory is gone), so pull sinks can stop exposing it."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time: float
    final: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "measurement": self.measurement,
            "time": self.time,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
        }
        if self.final:
            data["final"] = True
        return data


def _pipeline_tags(pipeline_id: str, name: str) -> dict[str, str]:
    return {"pipeline": pipeline_id, "name": name}


def _latency_fields(prefix: str, summary: LatencySummary) -> dict[str, float]:
    values = {"last": summary.last, "mean": summary.mean, "p95": summary.p95}
    return {f"{prefix}_{stat}_seconds": float(v) for stat, v in values.items() if v is not None}


def pipeline_point(pipeline_id: str, status: PipelineStatus, viewers: int, now: float) -> Point:
    counters = status.counters
    fields: dict[str, FieldValue] = {
        "up": 1,
        "state": status.state,
        "fps": float(status.fps),
        "frames_read": counters.frames_read,
        "frames_processed": counters.frames_processed,
        "frames_dropped": counters.frames_dropped,
        "reconnects": counters.reconnects,
        "viewers": viewers,
        **_latency_fields("inference", status.latency.inference),
        **_latency_fields("e2e_latency", status.latency.end_to_end),
    }
    name = str(getattr(status, "name", None) or pipeline_id)
    return Point(PIPELINE, _pipeline_tags(pipeline_id, name), fields, now)


def unresponsive_point(pipeline_id: str, name: str, viewers: int, now: float) -> Point:
    """The worker exists but did not answer: its counters are unknown, its rate is not."""
    fields: dict[str, FieldValue] = {
        "up": 0,
        "state": UNRESPONSIVE,
        "fps": 0.0,
        "viewers": viewers,
    }
    return Point(PIPELINE, _pipeline_tags(pipeline_id, name), fields, now)


def gone_point(pipeline_id: str, name: str, now: float) -> Point:
    fields: dict[str, FieldValue] = {"up": 0, "state": GONE, "fps": 0.0, "viewers": 0}
    return Point(PIPELINE, _pipeline_tags(pipeline_id, name), fields, now, final=True)


def recordings_point(
    directory: str, size: int, segments: int, now: float, final: bool = False
) -> Point:
    fields: dict[str, FieldValue] = {"bytes": size, "segments": segments}
    return Point(RECORDINGS, {"pipeline": directory}, fields, now, final=final)


def zone_points(
    pipeline_id: str, zones: Mapping[str, Mapping[str, int]], now: float
) -> list[Point]:
    """One point per zone and class the worker reports (`analytics.zones`)."""
    return [
        Point(ZONE, {"pipeline": pipeline_id, "zone": zone, "class": label}, {"objects": n}, now)
        for zone, labels in sorted(zones.items())
        for label, n in sorted(labels.items())
    ]


def line_points(
    pipeline_id: str, totals: Mapping[tuple[str, str, str], int], now: float
) -> list[Point]:
    """One point per line, direction and class, with the total across workers."""
    return [
        Point(
            LINE,
            {"pipeline": pipeline_id, "line": line, "direction": direction, "class": label},
            {"crossings": n},
            now,
        )
        for (line, direction, label), n in sorted(totals.items())
    ]
