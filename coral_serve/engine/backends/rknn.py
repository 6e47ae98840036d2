"""Backend `rknn`: Rockchip NPUs through rknn-toolkit-lite2's RKNNLite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from coral_serve.engine.backends.base import LAYOUT_NHWC_UINT8, BackendSpec
from coral_serve.engine.errors import InferenceError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from coral_serve.schema.spec import ModelSpec

__all__ = ["SPEC", "RknnBackend"]


def _rknnlite_class() -> Any:
    try:
        from rknnlite.api import RKNNLite
    except ImportError as exc:
        raise ModelLoadError(
            "backend rknn needs rknn-toolkit-lite2 (pip install rknn-toolkit-lite2; wheels "
            f"exist for aarch64 Linux with a Rockchip NPU only): {exc}"
        ) from exc
    return RKNNLite


def _core_mask(rknnlite: Any, providers: list[str]) -> int:
    """Providers naming RKNNLite core constants (NPU_CORE_0, NPU_CORE_0_1_2) pick the cores."""
    mask = 0
    for name in providers:
        value = getattr(rknnlite, name.upper(), None)
        if name.upper().startswith("NPU_CORE") and isinstance(value, int):
            mask |= value
    return mask if mask else int(getattr(rknnlite, "NPU_CORE_AUTO", 0))


class RknnBackend:
    """RKNNLite reports failure as -1/None; this turns each into a clear exception."""

    layout = LAYOUT_NHWC_UINT8
    reads_one_file = True  # load_model refuses a path that is not a bounded regular file

    def __init__(self) -> None:
        self._rknn: Any = None
        self._input_shape: tuple[int, ...] | None = None

    def load(self, spec: ModelSpec) -> None:
        rknnlite = _rknnlite_class()
        path = Path(str(spec.path))
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        if spec.input_size is None:
            raise ModelLoadError(
                "backend rknn needs model.input_size [width, height]: .rknn files do not "
                "expose it to RKNNLite"
            )
        width, height = spec.input_size
        rknn = rknnlite()
        if rknn.load_rknn(str(path)) != 0:
            rknn.release()
            raise ModelLoadError(f"{path} is not a valid RKNN model (load_rknn failed)")
        if rknn.init_runtime(core_mask=_core_mask(rknnlite, spec.providers)) != 0:
            rknn.release()
            raise ModelLoadError(
                f"RKNN runtime did not start for {path} (init_runtime failed): no NPU here, or "
                "the model was built for another platform"
            )
        self._rknn = rknn
        self._input_shape = (1, height, width, 3)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self._input_shape

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        # Imported here: the registry imports this module in control-plane replicas, which
        # must not load NumPy (`confine_model_paths` checks the backend's name there).
        import numpy as np

        if self._rknn is None:
            raise InferenceError("rknn backend is not loaded")
        outputs = self._rknn.inference(inputs=[np.ascontiguousarray(batch, dtype=np.uint8)])
        if outputs is None:
            raise InferenceError("RKNN inference returned no outputs")
        return [np.asarray(output) for output in outputs]

    def close(self) -> None:
        rknn, self._rknn = self._rknn, None
        if rknn is not None:
            rknn.release()


SPEC = BackendSpec("rknn", RknnBackend, "Rockchip NPU through rknn-toolkit-lite2 (RKNNLite).")
