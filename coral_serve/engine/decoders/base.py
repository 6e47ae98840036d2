"""Detections, the input↔frame coordinate mapping and the decoder contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = [
    "Decoder",
    "DecoderMismatchError",
    "Detection",
    "Transform",
    "letterbox",
    "stretch",
]


class DecoderMismatchError(ValueError):
    """The model's outputs do not have the layout the chosen decoder reads."""


@dataclass(frozen=True, slots=True)
class Detection:
    class_id: int
    class_name: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original frame pixels

    def as_dict(self) -> dict[str, Any]:
        """The result-record form: JSON-ready, rounded so records stay small."""
        return {
            "class": self.class_name,
            "class_id": self.class_id,
            "score": round(self.score, 4),
            "box": [round(v, 2) for v in self.box],
        }


@dataclass(frozen=True, slots=True)
class Transform:
    """Maps model-input coordinates to frame pixels: x_frame = (x - pad_x) / scale_x."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """[N, 4] x1,y1,x2,y2 in input space → frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float64)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0, self.width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.height, out=out[:, 1::2])
        return out


def letterbox(
    frame: np.ndarray, size: tuple[int, int], value: int = 114
) -> tuple[np.ndarray, Transform]:
    """Ultralytics letterbox: keep the aspect ratio, pad the rest centred with `value`."""
    width, height = size
    frame_h, frame_w = frame.shape[:2]
    gain = min(width / frame_w, height / frame_h)
    new_w, new_h = round(frame_w * gain), round(frame_h * gain)
    pad_w, pad_h = (width - new_w) / 2, (height - new_h) / 2
    left, top = round(pad_w - 0.1), round(pad_h - 0.1)
    right, bottom = width - new_w - left, height - new_h - top
    resized = frame
    if (new_w, new_h) != (frame_w, frame_h):
        resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    image = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(value, value, value)
    )
    return image, Transform(gain, gain, left, top, frame_w, frame_h)


def stretch(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Transform]:
    """Plain resize to `size`, aspect ratio not kept."""
    width, height = size
    frame_h, frame_w = frame.shape[:2]
    image = frame
    if (width, height) != (frame_w, frame_h):
        image = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    return image, Transform(width / frame_w, height / frame_h, 0.0, 0.0, frame_w, frame_h)


class Decoder(ABC):
    """Pre- and post-processing of one model family; stateless after construction."""

    name: str = ""

    def __init__(
        self,
        classes: Sequence[str],
        input_size: tuple[int, int],
        confidence: float = 0.35,
        iou: float = 0.45,
        max_detections: int = 100,
    ) -> None:
        self.classes = list(classes)
        self.input_size = input_size
        self.confidence = confidence
        self.iou = iou
        self.max_detections = max_detections

    @abstractmethod
    def prepare(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, Transform]:
        """Frame → uint8 HWC image at the input size, in the model's channel order."""

    @abstractmethod
    def normalize(self, image: np.ndarray) -> np.ndarray:
        """Prepared image → float32 NCHW batch of one, normalised the family's way."""

    @abstractmethod
    def decode(self, outputs: Sequence[np.ndarray], transform: Transform) -> list[Detection]:
        """Raw outputs → detections in frame pixels, best first."""

    def class_name(self, class_id: int) -> str:
        if 0 <= class_id < len(self.classes):
            return self.classes[class_id]
        return f"class {class_id}"

    def _detections(
        self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, transform: Transform
    ) -> list[Detection]:
        if len(boxes) == 0:
            return []
        frame_boxes = transform.to_frame(boxes)
        return [
            Detection(int(c), self.class_name(int(c)), float(s), tuple(map(float, b)))  # type: ignore[arg-type]
            for b, s, c in zip(frame_boxes, scores, class_ids, strict=True)
        ]
