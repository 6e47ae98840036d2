"""What a model runtime must offer the engine, and how a plugin describes one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from coral_serve.schema.spec import ModelSpec

__all__ = ["LAYOUT_NCHW_FLOAT", "LAYOUT_NHWC_UINT8", "Backend", "BackendSpec"]

# Optional attribute `layout` of a backend: which tensor `infer` takes. Float NCHW is
# normalised by the decoder (ONNX exports); uint8 NHWC is the raw resized image, for runtimes
# whose models carry their own normalisation (RKNN). Absent means float NCHW.
LAYOUT_NCHW_FLOAT = "nchw-float32"
LAYOUT_NHWC_UINT8 = "nhwc-uint8"
# Optional class attribute `shares_session = True`: `infer` may run from several threads at
# once, so the pipelines of one process may share one loaded model (engine/sessions.py).


@runtime_checkable
class Backend(Protocol):
    """A loaded model. Optional extras read with getattr: `layout` and `metadata` (str→str)."""

    def load(self, spec: ModelSpec) -> None:
        """Load `spec.path`; raise ModelLoadError with a reason a user can act on."""

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Input tensor shape in the backend's layout (-1 for dynamic dims); None if unknown."""

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run one batch; raise InferenceError on failure."""

    def close(self) -> None:
        """Free the runtime; safe to call twice."""


@dataclass(frozen=True)
class BackendSpec:
    """What the `coral_serve.backends` entry point returns: a name and a zero-arg factory."""

    name: str
    factory: Callable[[], Backend]
    description: str = ""
