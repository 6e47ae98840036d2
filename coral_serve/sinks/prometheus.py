"""`prometheus`: keeps the latest value of every series for `GET /metrics`.

Prometheus pulls, so "writing" here means updating in-memory state that the exposition
renders. MonitorService owns the only instance (one replica), which is why every ingress
replica serves the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from coral_serve.schema.state import PipelineState
from coral_serve.sinks.base import MetricsSink
from coral_serve.sinks.histogram import Histogram
from coral_serve.sinks.points import (
    GONE,
    LINE,
    PIPELINE,
    RECORDINGS,
    UNRESPONSIVE,
    ZONE,
    FieldValue,
    Point,
)

__all__ = ["PrometheusSink"]

INFERENCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Every state a polled pipeline can report (a broken row is never polled).
STATES = (
    *(state.value for state in PipelineState if state is not PipelineState.broken),
    UNRESPONSIVE,
)
_LABELS = ["pipeline", "name"]
_LATENCY_STATS = ("last", "mean", "p95")

# point field -> (family name, gauge or counter, help)
_SIMPLE: tuple[tuple[str, str, type[Metric], str], ...] = (
    ("fps", "coral_pipeline_fps", GaugeMetricFamily, "Frames processed per second, recently."),
    ("up", "coral_pipeline_up", GaugeMetricFamily, "1 while the pipeline's worker answers."),
    ("frames_processed", "coral_pipeline_frames", CounterMetricFamily, "Frames processed."),
    ("frames_read", "coral_pipeline_frames_read", CounterMetricFamily, "Frames read."),
    (
        "frames_dropped",
        "coral_pipeline_dropped_frames",
        CounterMetricFamily,
        "Frames skipped to stay live.",
    ),
    (
        "reconnects",
        "coral_pipeline_reconnects",
        CounterMetricFamily,
        "Times the source was reopened.",
    ),
    ("viewers", "coral_stream_viewers", GaugeMetricFamily, "Live viewers of the pipeline."),
)


@dataclass
class _Series:
    name: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    inference: Histogram = field(default_factory=lambda: Histogram(INFERENCE_BUCKETS))
    processed: int = 0


class PrometheusSink(MetricsSink):
    def __init__(self) -> None:
        self._pipelines: dict[str, _Series] = {}
        self._recordings: dict[str, dict[str, FieldValue]] = {}
        # pipeline -> (zone, class) -> objects now; pipeline -> (line, direction, class) -> total
        self._zones: dict[str, dict[tuple[str, str], int]] = {}
        self._lines: dict[str, dict[tuple[str, str, str], int]] = {}

    async def write(self, points: Sequence[Point]) -> None:
        for point in points:
            if point.measurement == PIPELINE:
                self._pipeline(point)
            elif point.measurement == RECORDINGS:
                self._recording(point)
            elif point.measurement == ZONE:
                tags = point.tags
                key = (tags["zone"], tags["class"])
                self._zones.setdefault(tags["pipeline"], {})[key] = int(point.fields["objects"])
            elif point.measurement == LINE:
                tags = point.tags
                key = (tags["line"], tags["direction"], tags["class"])
                self._lines.setdefault(tags["pipeline"], {})[key] = int(point.fields["crossings"])

    def _pipeline(self, point: Point) -> None:
        pipeline_id = point.tags["pipeline"]
        if point.final:
            self._pipelines.pop(pipeline_id, None)
            self._zones.pop(pipeline_id, None)
            self._lines.pop(pipeline_id, None)
            return
        series = self._pipelines.setdefault(pipeline_id, _Series(point.tags["name"]))
        series.name = point.tags["name"]
        # A worker that did not answer reports no counters: the last known ones stay.
        answered = point.fields["up"] == 1
        series.fields = dict(point.fields) if answered else {**series.fields, **point.fields}
        processed = point.fields.get("frames_processed")
        mean = point.fields.get("inference_mean_seconds")
        if isinstance(processed, int):
            # Counters restart with a restarted worker; everything it counted is new.
            new = processed - series.processed if processed >= series.processed else processed
            series.processed = processed
            if isinstance(mean, float) and new > 0:
                series.inference.observe(mean, new)

    def _recording(self, point: Point) -> None:
        directory = point.tags["pipeline"]
        if point.final:
            self._recordings.pop(directory, None)
        else:
            self._recordings[directory] = dict(point.fields)

    def collect(self) -> Iterator[Metric]:
        """Called by the registry on every scrape (prometheus_client's collector protocol)."""
        yield from self._simple_families()
        yield self._states()
        yield self._inference()
        yield self._end_to_end()
        yield from self._recording_families()
        yield from self._region_families()

    def _simple_families(self) -> Iterator[Metric]:
        for key, name, kind, help_text in _SIMPLE:
            family = kind(name, help_text, labels=_LABELS)
            for pipeline_id, series in sorted(self._pipelines.items()):
                value = series.fields.get(key)
                if isinstance(value, int | float):
                    family.add_metric([pipeline_id, series.name], value)
            yield family

    def _states(self) -> Metric:
        family = GaugeMetricFamily(
            "coral_pipeline_state",
            "1 for the pipeline's current state, 0 for the others.",
            labels=[*_LABELS, "state"],
        )
        for pipeline_id, series in sorted(self._pipelines.items()):
            current = str(series.fields.get("state", GONE))
            states = STATES if current in STATES else (*STATES, current)
            for state in states:
                family.add_metric([pipeline_id, series.name, state], float(state == current))
        return family

    def _inference(self) -> Metric:
        family = HistogramMetricFamily(
            "coral_pipeline_inference_seconds",
            "Model time per frame. Each poll adds its new frames at the window's mean time, "
            "so buckets are approximate; sum and count are exact up to that mean.",
            labels=_LABELS,
        )
        for pipeline_id, series in sorted(self._pipelines.items()):
            histogram = series.inference
            family.add_metric([pipeline_id, series.name], histogram.cumulative(), histogram.sum)
        return family

    def _end_to_end(self) -> Metric:
        family = GaugeMetricFamily(
            "coral_pipeline_e2e_latency_seconds",
            "Capture to published frame over the worker's recent window (last, mean, p95).",
            labels=[*_LABELS, "stat"],
        )
        for pipeline_id, series in sorted(self._pipelines.items()):
            for stat in _LATENCY_STATS:
                value = series.fields.get(f"e2e_latency_{stat}_seconds")
                if isinstance(value, float):
                    family.add_metric([pipeline_id, series.name, stat], value)
        return family

    def _recording_families(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "coral_recordings_bytes",
            "Bytes of recordings on disk, by pipeline directory.",
            labels=["pipeline"],
        )
        segments = GaugeMetricFamily(
            "coral_recordings_segments",
            "Recorded segments on disk, by pipeline directory.",
            labels=["pipeline"],
        )
        for directory, fields in sorted(self._recordings.items()):
            size.add_metric([directory], float(fields["bytes"]))
            segments.add_metric([directory], float(fields["segments"]))
        yield size
        yield segments

    def _region_families(self) -> Iterator[Metric]:
        zones = GaugeMetricFamily(
            "coral_zone_objects",
            "Tracked objects in the zone now, by class.",
            labels=["pipeline", "zone", "class"],
        )
        for pipeline_id, counts in sorted(self._zones.items()):
            for (zone, label), count in sorted(counts.items()):
                zones.add_metric([pipeline_id, zone, label], float(count))
        lines = CounterMetricFamily(
            "coral_line_crossings",
            "Line crossings by direction and class, across the pipeline's workers.",
            labels=["pipeline", "line", "direction", "class"],
        )
        for pipeline_id, totals in sorted(self._lines.items()):
            for (line, direction, label), total in sorted(totals.items()):
                lines.add_metric([pipeline_id, line, direction, label], float(total))
        yield zones
        yield lines
