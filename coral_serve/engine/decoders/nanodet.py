"""NanoDet: BGR, per-channel mean/std, plain resize; three strides, distribution-focal boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from coral_serve.engine.decoders.base import (
    Decoder,
    DecoderMismatchError,
    Detection,
    Transform,
    stretch,
)
from coral_serve.engine.decoders.nms import nms

__all__ = ["NanoDetDecoder"]

_MEAN = (103.53, 116.28, 123.675)
_INV_STD = (1 / np.array([57.375, 57.12, 58.395], dtype=np.float32)).reshape(1, 3, 1, 1)


class NanoDetDecoder(Decoder):
    """Outputs are matched to strides by their cell count, never by name or order."""

    name = "nanodet"
    strides: tuple[int, ...] = (8, 16, 32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes `Decoder`'s arguments; precomputes each stride's cell centres."""
        super().__init__(*args, **kwargs)
        width, height = self.input_size
        self._centres: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        for stride in self.strides:
            cols, rows = math.ceil(width / stride), math.ceil(height / stride)
            row, col = np.divmod(np.arange(rows * cols), cols)
            self._centres[rows * cols] = (stride, (col + 0.5) * stride, (row + 0.5) * stride)
        if len(self._centres) != len(self.strides):
            raise DecoderMismatchError(f"input size {self.input_size} is too small for nanodet")

    def prepare(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, Transform]:
        return stretch(frame_bgr, self.input_size)

    def normalize(self, image: np.ndarray) -> np.ndarray:
        blob = cv2.dnn.blobFromImage(image, scalefactor=1.0, mean=_MEAN)
        blob *= _INV_STD
        return blob

    def decode(self, outputs: Sequence[np.ndarray], transform: Transform) -> list[Detection]:
        all_boxes, all_scores, all_ids = [], [], []
        for cells, (scores, dists) in self._pairs(outputs).items():
            stride, cx, cy = self._centres[cells]
            best = scores.max(axis=1)
            picked = np.flatnonzero(best >= self.confidence)
            if picked.size == 0:
                continue
            bins = dists.shape[1] // 4
            logits = dists[picked].reshape(-1, 4, bins).astype(np.float64)
            logits -= logits.max(axis=2, keepdims=True)
            weights = np.exp(logits)
            weights /= weights.sum(axis=2, keepdims=True)
            # Expected bin index per side (left, top, right, bottom), in pixels.
            side = (weights @ np.arange(bins, dtype=np.float64)) * stride
            px, py = cx[picked], cy[picked]
            all_boxes.append(
                np.stack(
                    [px - side[:, 0], py - side[:, 1], px + side[:, 2], py + side[:, 3]], axis=1
                )
            )
            all_scores.append(best[picked].astype(np.float64))
            all_ids.append(scores[picked].argmax(axis=1))
        if not all_boxes:
            return []
        boxes, scores_, ids = (np.concatenate(a) for a in (all_boxes, all_scores, all_ids))
        keep = nms(boxes, scores_, self.iou, ids, self.max_detections)
        return self._detections(boxes[keep], scores_[keep], ids[keep], transform)

    def _pairs(self, outputs: Sequence[np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """{cells: (scores [cells, nc], distributions [cells, 4*bins])} for every stride."""
        nc = len(self.classes)
        by_cells: dict[int, list[np.ndarray]] = {cells: [] for cells in self._centres}
        for output in outputs:
            array = np.asarray(output)
            if array.ndim == 3 and array.shape[0] == 1:
                array = array[0]
            if array.ndim == 2 and array.shape[0] in by_cells:
                by_cells[array.shape[0]].append(array)
        pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for cells, arrays in by_cells.items():
            scores = [a for a in arrays if a.shape[1] == nc]
            dists = [a for a in arrays if a.shape[1] != nc and a.shape[1] % 4 == 0]
            if len(scores) != 1 or len(dists) != 1:
                shapes = [list(np.shape(o)) for o in outputs]
                raise DecoderMismatchError(
                    f"nanodet expects, for stride {self._centres[cells][0]}, one score tensor "
                    f"[1, {cells}, {nc}] and one box distribution [1, {cells}, 4*bins]; "
                    f"outputs are {shapes}"
                )
            pairs[cells] = (scores[0], dists[0])
        return pairs
