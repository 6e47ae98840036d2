"""Draw detections onto a frame for the live view and recordings."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from coral_serve.engine.decoders.base import Detection

__all__ = ["annotate", "class_color"]

# Distinct, saturated BGR colours; a class keeps its colour across frames and pipelines.
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
    (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
    (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0),
    (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255), (199, 55, 255),
)  # fmt: skip
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_color(class_id: int) -> tuple[int, int, int]:
    return _PALETTE[class_id % len(_PALETTE)]


def annotate(frame: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """Boxes and `name score` labels drawn in place; returns the same array."""
    if not detections:
        return frame
    height, width = frame.shape[:2]
    thickness = max(1, round(min(height, width) / 320))
    scale = max(0.4, min(height, width) / 1200)
    for det in detections:
        color = class_color(det.class_id)
        x1, y1, x2, y2 = (round(v) for v in det.box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), color, thickness)  # axis-aligned: no AA
        label = f"{det.class_name} {det.score:.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(label, _FONT, scale, 1)
        top = y1 - text_h - baseline - 2
        if top < 0:  # no room above the box: put the label inside it
            top = y1
        cv2.rectangle(frame, (x1, top), (x1 + text_w + 2, top + text_h + baseline + 2), color, -1)
        cv2.putText(
            frame, label, (x1 + 1, top + text_h + 1), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    return frame
