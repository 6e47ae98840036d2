"""A synthetic scene: coloured boxes on scripted paths, rendered to frames, and a test
decoder that finds them again (so analytics get real pixels, not hand-made detections).

The scene of the analytics tests: a person walks right across the gate line and back; a
car drives across it into the dock zone, parks, and leaves up across the road line."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from coral_serve.engine.analytics.stage import AnalyticsStage
from coral_serve.engine.decoders.base import Detection
from coral_serve.schema.analytics import AnalyticsSpec

__all__ = [
    "FPS",
    "HEIGHT",
    "SCENE",
    "WALKERS",
    "WIDTH",
    "Walker",
    "detect",
    "frames",
    "run_scene",
    "shared_scene",
]

WIDTH, HEIGHT, FPS = 640, 480, 10.0

# Path: frame index -> (centre x, bottom y) in 0..1 of the frame, or None when out of view.
Path = Callable[[int], tuple[float, float] | None]


@dataclass(frozen=True)
class Walker:
    label: str
    class_id: int
    colour: tuple[int, int, int]  # BGR, one channel per walker so the decoder tells them apart
    size: tuple[int, int]  # box width, height in pixels
    path: Path


def frames(walkers: list[Walker], count: int) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, capture timestamp, BGR image) for `count` frames at FPS."""
    for index in range(count):
        image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        for walker in walkers:
            where = walker.path(index)
            if where is None:
                continue
            cx, bottom = where[0] * WIDTH, where[1] * HEIGHT
            w, h = walker.size
            top_left = (round(cx - w / 2), round(bottom - h))
            cv2.rectangle(
                image, top_left, (round(cx + w / 2) - 1, round(bottom) - 1), walker.colour, -1
            )
        yield index, index / FPS, image


def detect(image: np.ndarray, walkers: list[Walker]) -> list[Detection]:
    """The test decoder: one detection per coloured blob, its box exactly the blob's."""
    found = []
    for walker in walkers:
        mask = cv2.inRange(image, np.array(walker.colour), np.array(walker.colour))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        for x, y, w, h, _area in stats[1:count]:
            box = (float(x), float(y), float(x + w), float(y + h))
            found.append(Detection(walker.class_id, walker.label, 0.9, box))
    return found


def _person(i: int) -> tuple[float, float] | None:
    """Walks right across the gate, then back left; gone after frame 79."""
    if i < 40:
        return 0.2 + 0.6 * i / 39, 0.5
    if i < 80:
        return 0.8 - 0.6 * (i - 40) / 39, 0.5
    return None


def _car(i: int) -> tuple[float, float] | None:
    """From frame 10: drives right across the gate into the dock (inside from frame 25), parks,
    drives up out of it (outside from frame 65) across the road line; gone after frame 69."""
    if 10 <= i < 40:
        return 0.3 + 0.6 * (i - 10) / 29, 0.9
    if 40 <= i < 60:
        return 0.9, 0.9
    if 60 <= i < 70:
        return 0.9, 0.9 - 0.4 * (i - 60) / 9
    return None


WALKERS = [
    Walker("person", 0, (0, 0, 255), (40, 80), _person),
    Walker("car", 2, (0, 255, 0), (60, 40), _car),
]
DOCK = [[0.6, 0.7], [1, 0.7], [1, 1], [0.6, 1]]
SCENE = {
    "zones": [
        {"name": "dock", "polygon": DOCK, "min_frames": 3},
        {"name": "bay", "polygon": DOCK, "loiter_seconds": 1.5, "classes": ["car"]},
    ],
    "lines": [
        {"name": "gate", "points": [[0.5, 1], [0.5, 0]]},
        {"name": "road", "points": [[1, 0.6], [0.5, 0.6]], "classes": ["car"]},
    ],
    "events": {"end_after_seconds": 1.0},
}


def run_scene(analytics: dict[str, Any], count: int = 100) -> tuple[AnalyticsStage, list[dict]]:
    """Every frame of the scene through the stage, as the publish stage does it; each
    record keeps its frame index and the revisions the frame made."""
    spec = AnalyticsSpec.model_validate(analytics)
    stage = AnalyticsStage("scene", spec)
    records = []
    for index, timestamp, image in frames(WALKERS, count):
        out = stage.process(detect(image, WALKERS), index, timestamp, (WIDTH, HEIGHT), spec)
        stage.keep(out.revisions)
        records.append(
            {
                "frame": index,
                "detections": out.detections,
                "crossings": out.crossings,
                "revisions": out.revisions,
            }
        )
    return stage, records


@functools.cache
def shared_scene(count: int) -> tuple[AnalyticsStage, list[dict]]:
    """SCENE's first `count` frames, run once for every test module that only reads it."""
    return run_scene(SCENE, count)
