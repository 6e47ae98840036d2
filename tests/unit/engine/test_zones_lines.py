"""Zones and lines on a rendered scene: who is where, who crossed what, exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from coral_serve.engine.analytics.geometry import crossed
from coral_serve.engine.analytics.stage import AnalyticsStage
from coral_serve.schema.analytics import AnalyticsSpec
from tests.conftest import shared_file
from tests.unit.engine.scenes import HEIGHT, SCENE, WIDTH, run_scene, shared_scene
from tests.unit.webapp import make_config, running_app


@pytest.fixture
def scene() -> tuple[AnalyticsStage, list[dict]]:
    return shared_scene(100)


@pytest.fixture
def parked() -> tuple[AnalyticsStage, list[dict]]:
    """The scene up to frame 45: the car is parked in the dock."""
    return shared_scene(45)


def of(record: dict, label: str) -> dict | None:
    return next((d for d in record["detections"] if d["class"] == label), None)


def test_line_crossings_are_counted_once_each_with_their_direction(scene) -> None:
    stage, records = scene
    crossings = [c for record in records for c in record["crossings"]]
    assert Counter((c["line"], c["direction"], c["label"]) for c in crossings) == Counter(
        {("gate", "in", "person"): 1, ("gate", "in", "car"): 1, ("gate", "out", "person"): 1,
         ("road", "in", "car"): 1}
    )  # fmt: skip
    assert stage.counts()["lines"] == {
        "gate": {"in": {"person": 1, "car": 1}, "out": {"person": 1}},
        "road": {"in": {"car": 1}, "out": {}},
    }
    gate_out = next(c for c in crossings if c["direction"] == "out")
    assert 59 <= gate_out["frame_id"] <= 60  # where the person's path meets x = 0.5
    person_ids = {of(r, "person")["track_id"] for r in records if of(r, "person")} - {None}
    assert len(person_ids) == 1 and gate_out["track_id"] in person_ids


def test_zone_membership_follows_min_frames_loiter_seconds_and_classes(scene) -> None:
    _, records = scene
    for record in records:
        car, person = of(record, "car"), of(record, "person")
        if person is not None:
            assert person["zones"] == [], record["frame"]
        if car is None:
            continue
        frame = record["frame"]
        expected = []
        if 25 + 2 <= frame < 65:  # inside from 25; the third frame inside counts
            expected.append("dock")
        if 25 + 15 <= frame < 65:  # 1.5 s inside at 10 fps
            expected.append("bay")
        assert car["zones"] == expected, frame


def test_zone_occupancy_is_the_count_now(parked, scene) -> None:
    assert parked[0].counts()["zones"] == {"dock": {"car": 1}, "bay": {"car": 1}}
    assert parked[0].counts()["objects"] == Counter(d["class"] for d in parked[1][-1]["detections"])
    assert scene[0].counts()["zones"] == {"dock": {}, "bay": {}}  # everyone has left


def test_without_a_tracker_zones_count_at_once_and_nothing_crosses() -> None:
    stage, records = run_scene({**SCENE, "tracker": {"type": "none"}}, count=26)
    assert all(d["track_id"] is None for r in records for d in r["detections"])
    assert not any(r["crossings"] for r in records)
    assert stage.read_events(0, 100) == []
    # min_frames and loiter_seconds need an identity: inside is in at once
    assert of(records[24], "car")["zones"] == []
    assert of(records[25], "car")["zones"] == ["dock", "bay"]


def test_a_redrawn_line_keeps_its_totals() -> None:
    spec = AnalyticsSpec.model_validate(SCENE)
    stage, _ = run_scene(SCENE, count=25)  # both have crossed the gate
    moved = spec.model_copy(update={"lines": [spec.lines[0]], "zones": []})
    stage.process([], 25, 2.5, (WIDTH, HEIGHT), moved)
    assert stage.counts() == {
        "objects": {},  # the frame just processed had nothing in it
        "zones": {},
        "lines": {"gate": {"in": {"person": 1, "car": 1}, "out": {}}},
    }


def test_passing_beyond_the_end_of_a_line_is_no_crossing() -> None:
    start, end = (0.5, 0.6), (1.0, 0.6)
    assert crossed(start, end, (0.7, 0.7), (0.7, 0.5)) != 0
    assert crossed(start, end, (0.3, 0.7), (0.3, 0.5)) == 0
    assert crossed(start, end, (0.7, 0.7), (0.8, 0.65)) == 0  # same side


# -- the API refuses regions that cannot work, naming the field ---------------------------


@pytest.fixture
async def api(tmp_path: Path):
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with running_app(config) as (client, _):
        yield client, video


def nanodet_spec(video: Path, analytics: dict[str, Any]) -> dict[str, Any]:
    model = shared_file("models", "nanodet-g-416.onnx")
    return {
        "name": "zones",
        "source": {"uri": str(video)},
        "model": {"path": str(model), "decoder": "nanodet", "threads": 1},
        "analytics": analytics,
    }


ZONE = {"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}
POLYGON, POINTS = "analytics.zones.0.polygon", "analytics.lines.0.points"


MALFORMED = [
    ({"zones": [{**ZONE, "polygon": [[0, 0], [1, 1]]}]}, POLYGON, "3"),
    ({"zones": [{**ZONE, "polygon": [[0, 0], [1.2, 0], [1, 1]]}]}, POLYGON, "1"),
    ({"zones": [{**ZONE, "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}]}, POLYGON, "no area"),
    ({"zones": [ZONE, ZONE]}, "analytics.zones", "repeated: z"),
    ({"lines": [{"name": "l", "points": [[0.5, 0.5], [0.5, 0.5]]}]}, POINTS, "same"),
    ({"lines": [{"name": "l", "points": [[0, -0.1], [1, 1]]}]}, POINTS, "0"),
    ({"zones": [{**ZONE, "min_frames": 0}]}, "analytics.zones.0.min_frames", "1"),
    ({"tracker": {"activation_threshold": 2}}, "analytics.tracker.activation_threshold", "1"),
]


async def test_malformed_regions_are_422_naming_the_field(api) -> None:
    client, video = api
    for analytics, field, words in MALFORMED:  # one app for all: each is refused alone
        response = await client.post("/api/v1/pipelines", json=nanodet_spec(video, analytics))
        assert response.status_code == 422, analytics
        body = response.json()
        assert body["error"] == "invalid_request"
        named = [item for item in body["detail"] if item["field"].startswith(field)]
        assert named and words in named[0]["message"], body


async def test_a_zone_counting_a_class_the_model_never_reports_is_422(api) -> None:
    client, video = api
    analytics = {
        "zones": [{**ZONE, "classes": ["person"]}, {**ZONE, "name": "y", "classes": ["forklift"]}]
    }
    response = await client.post("/api/v1/pipelines", json=nanodet_spec(video, analytics))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "analytics.zones[1].classes" in detail and "'forklift'" in detail
    assert (await client.get("/api/v1/pipelines")).json() == []
