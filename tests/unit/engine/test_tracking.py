"""ByteTrack in the real engine: NanoDet on the street-scene clip, every detection tracked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from coral_serve.engine.engine import PipelineEngine
from coral_serve.schema.events import ObjectEvent
from coral_serve.schema.spec import PipelineSpec
from tests.conftest import shared_file
from tests.unit.engine.support import wait_until

FPS = 10.0  # the clip's frame rate: frame ids measure its time


@dataclass
class KeptMedia:
    """An EventMedia that notes what it is given and marks every start as snapshotted."""

    frames: int = 0
    revisions: list[ObjectEvent] = field(default_factory=list)
    stopped: list[ObjectEvent] = field(default_factory=list)

    def on_frame(
        self, image: np.ndarray, timestamp: float, revisions: list[ObjectEvent]
    ) -> list[ObjectEvent]:
        assert image.ndim == 3
        self.frames += 1
        self.revisions += revisions
        return [r.model_copy(update={"has_snapshot": r.phase.value == "start"}) for r in revisions]

    def on_stop(self, revisions: list[ObjectEvent]) -> list[ObjectEvent]:
        self.stopped += revisions
        return revisions


@dataclass
class Run:
    records: list[dict[str, Any]]
    events: list[dict[str, Any]]
    status: dict[str, Any]
    media: KeptMedia


@pytest.fixture(scope="module")
def street() -> Iterator[Run]:
    """The 10 s clip once through NanoDet with a zone on the lower half and a line across."""
    spec = PipelineSpec.model_validate(
        {
            "name": "street",
            "source": {"uri": str(shared_file("media", "vtest-10s.mp4")), "pacing": "unpaced"},
            "model": {
                "path": str(shared_file("models", "nanodet-g-416.onnx")),
                "decoder": "nanodet",
                "threads": 1,
            },
            "analytics": {
                "zones": [{"name": "plaza", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}],
                "lines": [{"name": "middle", "points": [[0.5, 1], [0.5, 0]]}],
            },
        }
    )
    media = KeptMedia()
    engine = PipelineEngine(spec, event_media=media, pipeline_id="p1")
    engine.start()
    try:
        assert wait_until(lambda: engine.state == "finished", timeout=300), engine.status()
        yield Run(
            engine.read_results(0, 1000),
            engine.read_object_events(0, 10_000),
            engine.status(),
            media,
        )
    finally:
        engine.stop()


def test_people_keep_their_track_ids(street: Run) -> None:
    seen: dict[int, list[int]] = {}
    for record in street.records:
        ids = [d["track_id"] for d in record["detections"] if d["track_id"] is not None]
        assert len(ids) == len(set(ids)), record  # one object per id in a frame
        for detection in record["detections"]:
            if detection["class"] == "person" and detection["track_id"] is not None:
                seen.setdefault(detection["track_id"], []).append(record["frame_id"])
    lasting = [(max(frames) - min(frames)) / FPS for frames in seen.values()]
    assert len(lasting) >= 5
    assert sum(seconds > 2 for seconds in lasting) > len(lasting) / 2, sorted(lasting)


def test_every_record_says_where_its_detections_are(street: Run) -> None:
    assert len(street.records) == 100
    for record in street.records:
        assert isinstance(record["crossings"], list)
        for detection in record["detections"]:
            assert detection["zones"] in ([], ["plaza"])
            lower = detection["box"][3] / street.status["height"] > 0.5
            assert (detection["zones"] == ["plaza"]) == (
                lower and detection["track_id"] is not None
            )


def test_the_end_of_the_file_ends_every_event(street: Run) -> None:
    phases: dict[str, list[str]] = {}
    for revision in street.events:
        assert revision["pipeline_id"] == "p1"
        phases.setdefault(revision["id"], []).append(revision["phase"])
    assert phases and all(p[0] == "start" and p[-1] == "end" for p in phases.values())
    assert all(p.count("end") == 1 for p in phases.values())
    # The ones still open when the file ended went through on_stop, the others on_frame.
    assert street.media.frames == 100
    assert {r.phase.value for r in street.media.stopped} == {"end"}
    assert len(street.media.revisions) + len(street.media.stopped) == len(street.events)
    starts = [r for r in street.events if r["phase"] == "start"]
    assert all(r["has_snapshot"] for r in starts)  # kept as the media hook returned them


def test_status_counts_objects_zones_and_lines(street: Run) -> None:
    analytics = street.status["analytics"]
    assert set(analytics) == {"objects", "zones", "lines"}
    last = Counter(d["class"] for d in street.records[-1]["detections"])
    assert analytics["objects"] == last  # what the newest frame holds
    assert set(analytics["zones"]) == {"plaza"}
    crossed = sum(len(r["crossings"]) for r in street.records)
    totals = analytics["lines"]["middle"]
    assert sum(totals["in"].values()) + sum(totals["out"].values()) == crossed > 0
