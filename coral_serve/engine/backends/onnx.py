"""Backend `onnxruntime`: CPU by default, CUDA/TensorRT only when asked for and present."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coral_serve.engine.backends.base import LAYOUT_NCHW_FLOAT, BackendSpec
from coral_serve.engine.errors import InferenceError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from coral_serve.schema.spec import ModelSpec

__all__ = ["SPEC", "OnnxRuntimeBackend", "select_providers"]

log = logging.getLogger(__name__)

_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
}
# NumPy dtype names, not types: the registry imports this module in control-plane replicas,
# which must not load NumPy (`confine_model_paths` checks the backend's name there).
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(uint8)": "uint8",
}


def select_providers(requested: list[str], available: list[str]) -> list[str]:
    """Requested providers this build has, in order, always ending with the CPU one."""
    chosen: list[str] = []
    for name in requested:
        provider = _ALIASES.get(name.lower(), name)
        if provider not in available:
            log.warning("execution provider %s is not available here; skipped", provider)
        elif provider not in chosen:
            chosen.append(provider)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class OnnxRuntimeBackend:
    """One InferenceSession with a single image input."""

    layout = LAYOUT_NCHW_FLOAT
    reads_one_file = True  # load_model refuses a path that is not a bounded regular file
    shares_session = True  # InferenceSession.run is safe from several threads at once

    def __init__(self) -> None:
        self._session: Any = None
        self._input_name = ""
        self._input_shape: tuple[int, ...] | None = None
        self._dtype = "float32"
        self.metadata: dict[str, str] = {}
        self.providers: list[str] = []

    def load(self, spec: ModelSpec) -> None:
        import onnxruntime as ort

        path = Path(str(spec.path))
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = spec.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Busy-waiting worker threads steal cores from the other pipelines of an edge box.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = select_providers(spec.providers, ort.get_available_providers())
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped pybind errors
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{path} is not a loadable ONNX model: {reason}") from exc
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f"{path} has {len(inputs)} inputs; only single-image models are supported"
            )
        model_input = inputs[0]
        if model_input.type not in _DTYPES:
            raise ModelLoadError(f"{path}: input type {model_input.type} is not supported")
        self._session = session
        self._input_name = model_input.name
        self._dtype = _DTYPES[model_input.type]
        self._input_shape = tuple(d if isinstance(d, int) else -1 for d in model_input.shape)
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.providers = list(session.get_providers())

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self._input_shape

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        if self._session is None:
            raise InferenceError("onnxruntime backend is not loaded")
        if batch.dtype != self._dtype:
            batch = batch.astype(self._dtype)
        try:
            return list(self._session.run(None, {self._input_name: batch}))
        except Exception as exc:  # onnxruntime's pybind errors carry no useful type
            raise InferenceError(f"onnxruntime failed: {exc}") from exc

    def close(self) -> None:
        self._session = None


SPEC = BackendSpec(
    "onnxruntime", OnnxRuntimeBackend, "ONNX Runtime (CPU; CUDA/TensorRT when requested)."
)
