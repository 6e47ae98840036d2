"""Object events: one per tracked object, start to end, as revisions read by cursor."""

from __future__ import annotations

import pytest

from coral_serve.engine.analytics.lifecycle import EventLifecycle, Sighting
from coral_serve.engine.analytics.stage import AnalyticsStage
from coral_serve.engine.decoders.base import Detection
from coral_serve.schema.analytics import AnalyticsSpec
from coral_serve.schema.events import ObjectEvent
from tests.unit.engine.scenes import SCENE, run_scene, shared_scene


@pytest.fixture
def scene() -> tuple[AnalyticsStage, list[dict]]:
    return shared_scene(100)


def events_of(stage: AnalyticsStage) -> dict[str, list[dict]]:
    """Revisions by event id, in the order read."""
    events: dict[str, list[dict]] = {}
    for revision in stage.read_events(0, 10_000):
        events.setdefault(revision["id"], []).append(revision)
    return events


def by_label(stage: AnalyticsStage) -> dict[str, list[dict]]:
    events = events_of(stage)
    assert len(events) == 2, events  # one person, one car: one event each
    return {revisions[0]["label"]: revisions for revisions in events.values()}


def test_each_object_is_one_event_from_start_to_end(scene) -> None:
    stage, _ = scene
    for revisions in events_of(stage).values():
        wire = {k: v for k, v in revisions[-1].items() if k != "seq"}
        assert ObjectEvent.model_validate(wire).model_dump(mode="json") == wire
        assert [r["phase"] for r in revisions] == (
            ["start"] + ["update"] * (len(revisions) - 2) + ["end"]
        )
        assert [r["revision"] for r in revisions] == list(range(1, len(revisions) + 1))
        seqs = [r["seq"] for r in revisions]
        assert seqs == sorted(seqs)
        assert len({r["id"] for r in revisions}) == 1 and len(revisions[0]["id"]) == 32


def test_an_event_carries_the_zones_and_crossings_of_its_object(scene) -> None:
    events = by_label(scene[0])
    person, car = events["person"][-1], events["car"][-1]
    assert [(c["line"], c["direction"]) for c in person["crossings"]] == [
        ("gate", "in"),
        ("gate", "out"),
    ]
    assert person["zones"] == []
    assert [(c["line"], c["direction"]) for c in car["crossings"]] == [
        ("gate", "in"),
        ("road", "in"),
    ]
    assert car["zones"] == ["dock", "bay"] and car["current_zones"] == []
    # Entering the dock, then the bay (loitering), and leaving both are updates.
    zone_changes = [r["current_zones"] for r in events["car"] if r["phase"] != "end"]
    assert [z for i, z in enumerate(zone_changes) if i == 0 or z != zone_changes[i - 1]] == [
        [],
        ["dock"],
        ["dock", "bay"],
        [],
    ]


def test_an_event_starts_when_the_track_is_confirmed_and_ends_after_end_after_seconds(
    scene,
) -> None:
    stage, records = scene
    events = by_label(stage)
    # The car appears in frame 10; ByteTrack confirms it on its second frame.
    assert events["car"][0]["start"] == pytest.approx(1.1)
    ended_in = {
        revision.label: record["frame"]
        for record in records
        for revision in record["revisions"]
        if revision.phase.value == "end"
    }
    # Last seen in frames 79 (person) and 69 (car); ended 1 s (10 frames) later.
    assert events["person"][-1]["end"] == pytest.approx(7.9)
    assert events["car"][-1]["end"] == pytest.approx(6.9)
    assert ended_in["person"] in (89, 90) and ended_in["car"] in (79, 80)
    assert stage.finish() == []  # nothing left open


def test_stopping_ends_every_open_event_once() -> None:
    stage, _ = run_scene(SCENE, count=15)  # both in view
    ended = stage.finish()
    assert sorted(r.label for r in ended) == ["car", "person"]
    assert all(r.phase.value == "end" and r.end == pytest.approx(1.4) for r in ended)
    assert stage.finish() == []


def test_events_off_makes_no_revisions_but_keeps_tracking() -> None:
    stage, records = run_scene({**SCENE, "events": {"enabled": False}}, count=30)
    assert stage.read_events(0, 100) == []
    assert any(d["track_id"] is not None for r in records for d in r["detections"])


def test_only_a_clearly_better_score_is_an_update() -> None:
    lifecycle = EventLifecycle("p", end_after_seconds=1.0)

    def seen(frame: int, score: float) -> list[ObjectEvent]:
        box = (10.0 + frame, 10.0, 50.0 + frame, 90.0)
        sighting = Sighting(7, Detection(0, "person", score, box), [])
        return lifecycle.observe([sighting], [], frame, frame / 10)

    assert [r.phase.value for r in seen(1, 0.50)] == ["start"]
    assert seen(2, 0.53) == []  # a wobble, not a better view
    (better,) = seen(3, 0.58)
    assert (better.phase.value, better.best_score, better.best_frame_id) == ("update", 0.58, 3)
    assert better.box == [13.0, 10.0, 53.0, 90.0]
    assert seen(4, 0.40) == []
    assert [r.phase.value for r in lifecycle.observe([], [], 15, 1.5)] == ["end"]


def test_revisions_are_read_by_cursor_and_a_cursor_from_an_earlier_worker_restarts() -> None:
    # 40 frames make 5 revisions: 2 starts, 2 gate crossings, the car entering the dock.
    stage, _ = run_scene({**SCENE, "events": {**SCENE["events"], "buffer": 10}}, count=40)
    assert [r["seq"] for r in stage.read_events(0, 100)] == [1, 2, 3, 4, 5]
    assert [r["seq"] for r in stage.read_events(2, 2)] == [3, 4]
    assert stage.read_events(5, 100) == []
    # A cursor beyond this buffer's numbering comes from an earlier worker of the pipeline.
    assert [r["seq"] for r in stage.read_events(60, 3)] == [1, 2, 3]
    first = {k: v for k, v in stage.read_events(0, 1)[0].items() if k != "seq"}
    stage.keep([ObjectEvent.model_validate(first)] * 10)  # bounded: the oldest revisions go
    assert [r["seq"] for r in stage.read_events(0, 100)] == list(range(6, 16))


def test_revisions_are_kept_as_the_media_hook_returned_them() -> None:
    spec = AnalyticsSpec.model_validate(SCENE)
    stage = AnalyticsStage("p", spec)
    sighting = Detection(0, "person", 0.9, (10.0, 10.0, 50.0, 90.0))
    for frame in range(3):
        out = stage.process([sighting], frame, frame / 10, (640, 480), spec)
        stage.keep([r.model_copy(update={"has_snapshot": True}) for r in out.revisions])
    (start,) = stage.read_events(0, 10)
    assert start["phase"] == "start" and start["has_snapshot"] is True
