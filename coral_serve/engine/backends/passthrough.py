"""Backend `none`: no model, frames pass through unannotated by detections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coral_serve.engine.backends.base import BackendSpec

if TYPE_CHECKING:
    import numpy as np

    from coral_serve.schema.spec import ModelSpec

__all__ = ["SPEC", "PassthroughBackend"]


class PassthroughBackend:
    """Lets a pipeline serve live video and recordings without running any model."""

    layout = "none"

    def load(self, spec: ModelSpec) -> None:
        return None

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return None

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        return []

    def close(self) -> None:
        return None


SPEC = BackendSpec("none", PassthroughBackend, "No model: video only (passthrough).")
