"""`RKNNLite` with the real API shape: failures come back as -1 / None, nothing is raised.

A model file is valid when it starts with the RKNN magic; every frame yields one detection
in the `yolo-nms` layout (x1, y1, x2, y2, score, class).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAGIC = b"RKNN"


class RKNNLite:
    NPU_CORE_AUTO = 0
    NPU_CORE_0 = 1
    NPU_CORE_1 = 2
    NPU_CORE_2 = 4

    def __init__(self) -> None:
        self._loaded = False

    def load_rknn(self, path: str) -> int:
        try:
            self._loaded = Path(path).read_bytes()[: len(MAGIC)] == MAGIC
        except OSError:
            self._loaded = False
        return 0 if self._loaded else -1

    def init_runtime(self, core_mask: int = 0) -> int:
        return 0 if self._loaded else -1

    def inference(self, inputs: list[np.ndarray]) -> list[np.ndarray] | None:
        if not self._loaded:
            return None
        return [np.array([[[8, 24, 24, 40, 0.9, 1]]], np.float32)]

    def release(self) -> None:
        self._loaded = False
