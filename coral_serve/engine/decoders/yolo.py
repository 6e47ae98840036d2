"""Ultralytics YOLO: raw `[1, 4+nc(+extra), N]` heads and end-to-end `[1, N, 6]` exports."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from coral_serve.engine.decoders.base import (
    Decoder,
    DecoderMismatchError,
    Detection,
    Transform,
    letterbox,
)
from coral_serve.engine.decoders.nms import nms

__all__ = ["YoloDecoder", "YoloNmsDecoder"]

_MAX_NMS_CANDIDATES = 30_000


class YoloDecoder(Decoder):
    """RGB, /255, letterboxed with 114; cx,cy,w,h then one score per class, extras ignored."""

    name = "yolo"

    def prepare(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, Transform]:
        image, transform = letterbox(frame_bgr, self.input_size)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), transform

    def normalize(self, image: np.ndarray) -> np.ndarray:
        return cv2.dnn.blobFromImage(image, scalefactor=1.0 / 255.0)

    def decode(self, outputs: Sequence[np.ndarray], transform: Transform) -> list[Detection]:
        rows = self._rows(outputs)
        nc = len(self.classes)
        scores = rows[4 : 4 + nc]
        best = scores.max(axis=0)
        candidates = np.flatnonzero(best >= self.confidence)
        if candidates.size > _MAX_NMS_CANDIDATES:
            candidates = candidates[np.argsort(-best[candidates])[:_MAX_NMS_CANDIDATES]]
        if candidates.size == 0:
            return []
        class_ids = scores[:, candidates].argmax(axis=0)
        kept_scores = best[candidates]
        cx, cy, w, h = rows[0:4, candidates].astype(np.float64)
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        keep = nms(boxes, kept_scores, self.iou, class_ids, self.max_detections)
        return self._detections(boxes[keep], kept_scores[keep], class_ids[keep], transform)

    def _rows(self, outputs: Sequence[np.ndarray]) -> np.ndarray:
        if not outputs:
            raise DecoderMismatchError("the model returned no outputs")
        head = np.asarray(outputs[0])
        if head.ndim == 3 and head.shape[0] == 1:
            head = head[0]
        nc = len(self.classes)
        if head.ndim != 2 or head.shape[0] < 4 + nc:
            raise DecoderMismatchError(
                f"yolo expects an output [1, 4+nc(+extra), N] with nc={nc} classes, got "
                f"{list(np.shape(outputs[0]))}; set model.classes to the model's class list"
            )
        return head


class YoloNmsDecoder(YoloDecoder):
    """End-to-end exports: NMS is in the graph, rows are x1,y1,x2,y2,score,class."""

    name = "yolo-nms"

    def decode(self, outputs: Sequence[np.ndarray], transform: Transform) -> list[Detection]:
        if not outputs:
            raise DecoderMismatchError("the model returned no outputs")
        rows = np.asarray(outputs[0])
        if rows.ndim == 3 and rows.shape[0] == 1:
            rows = rows[0]
        if rows.ndim != 2 or rows.shape[1] < 6:
            raise DecoderMismatchError(
                f"yolo-nms expects an output [1, N, 6] (x1,y1,x2,y2,score,class), got "
                f"{list(np.shape(outputs[0]))}"
            )
        scores = rows[:, 4].astype(np.float64)
        keep = np.flatnonzero(scores >= self.confidence)
        keep = keep[np.argsort(-scores[keep], kind="stable")][: self.max_detections]
        boxes = rows[keep, 0:4].astype(np.float64)
        class_ids = np.rint(rows[keep, 5]).astype(np.int64)
        return self._detections(boxes, scores[keep], class_ids, transform)
