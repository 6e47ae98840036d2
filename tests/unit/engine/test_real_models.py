"""The shipped decoders on the real models and the real street-scene video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from coral_serve.engine.classes import COCO80
from coral_serve.engine.engine import PipelineEngine
from coral_serve.engine.errors import ModelLoadError
from coral_serve.engine.model import load_model
from coral_serve.schema.spec import ModelSpec, PipelineSpec
from tests.unit.engine.support import wait_until

VEHICLES = {"car", "truck", "bus"}


def test_nanodet_finds_people_and_vehicles_in_every_frame(
    nanodet_model: Path, short_video: Path
) -> None:
    spec = PipelineSpec.model_validate(
        {
            "name": "nanodet-vtest",
            "source": {"uri": str(short_video), "pacing": "unpaced"},
            "model": {"path": str(nanodet_model), "decoder": "nanodet", "threads": 1},
        }
    )
    engine = PipelineEngine(spec)
    engine.start()
    try:
        assert wait_until(lambda: engine.state == "finished", timeout=30), engine.status()
        records = engine.consume_results(max_items=1000)
        status = engine.status()
    finally:
        engine.stop()
    assert len(records) == 100
    assert status["counters"]["frames_processed"] == 100
    assert status["counters"]["frames_dropped"] == 0
    assert (status["width"], status["height"]) == (768, 576)
    assert status["latency"]["inference"]["mean"] > 0
    assert [r["frame_id"] for r in records] == list(range(100))
    for record in records:
        detections = record["detections"]
        assert all(d["score"] >= 0.35 for d in detections)
        assert all(0 <= d["box"][0] < d["box"][2] <= 768 for d in detections)
        assert all(0 <= d["box"][1] < d["box"][3] <= 576 for d in detections)
        persons = sum(d["class"] == "person" for d in detections)
        vehicles = sum(d["class"] in VEHICLES for d in detections)
        assert persons >= 2, record
        assert vehicles >= 1, record


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_yolo_pose_finds_the_near_people(
    pose_model: Path, nanodet_model: Path, long_video: Path
) -> None:
    capture = cv2.VideoCapture(str(long_video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 540)  # people walk close to the camera here
    frames: list[np.ndarray] = []
    while len(frames) < 5:
        for _ in range(20):
            ok, image = capture.read()
            assert ok
        frames.append(image)
    capture.release()
    pose = load_model(ModelSpec(path=str(pose_model), decoder="yolo", classes=["person"]))
    nanodet = load_model(ModelSpec(path=str(nanodet_model), decoder="nanodet", confidence=0.3))
    try:
        for image in frames:
            people = pose.detect(image)
            assert people, "no person found"
            reference = [d.box for d in nanodet.detect(image) if d.class_name == "person"]
            for person in people:
                assert person.class_name == "person" and person.score >= 0.35
                # letterbox undone correctly: the box matches what the other model sees
                assert max(iou(person.box, other) for other in reference) > 0.5, person
    finally:
        pose.close()
        nanodet.close()


def test_pose_model_with_the_wrong_class_count_is_rejected(pose_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="nc=80"):
        load_model(ModelSpec(path=str(pose_model), classes=list(COCO80)))
