"""A synthetic scene: coloured boxes on scripted paths, rendered to frames, and a test
decoder that finds them again (so analytics get real pixels, not hand-made detections)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from coral_serve.engine.decoders.base import Detection

__all__ = ["FPS", "HEIGHT", "WIDTH", "Walker", "detect", "frames"]

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
