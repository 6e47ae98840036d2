"""A backend and its decoder loaded together, checked against each other before use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coral_serve.engine.backends import (
    LAYOUT_NCHW_FLOAT,
    LAYOUT_NHWC_UINT8,
    Backend,
    create_backend,
    get_backend,
)
from coral_serve.engine.classes import resolve_classes
from coral_serve.engine.decoders import (
    Decoder,
    DecoderMismatchError,
    Detection,
    Transform,
    make_decoder,
)
from coral_serve.engine.errors import InferenceError, ModelLoadError
from coral_serve.engine.model_files import ModelFiles, confine_model_paths
from coral_serve.paths import PathRefusedError, check_regular_file
from coral_serve.schema.spec import ModelSpec, PipelineSpec

if TYPE_CHECKING:
    from coral_serve.engine.sessions import SharedSessions

__all__ = [
    "Model",
    "check_model",
    "confine_model_files",
    "load_model",
    "validate_model",
]


def confine_model_files(spec: ModelSpec, files: ModelFiles) -> ModelSpec:
    """`confine_model_paths`, then the model file checked on this node before anything opens
    it (a bounded regular file, for backends that read one file). Blocking (realpath, stat)."""
    spec = confine_model_paths(spec, files)
    reads_one_file = getattr(get_backend(spec.backend).factory, "reads_one_file", False)
    if spec.path is not None and not spec.passthrough and reads_one_file:
        try:
            check_regular_file(Path(spec.path), files.max_bytes)
        except PathRefusedError as exc:
            raise ModelLoadError(f"model.path {spec.path} {exc}") from None
    return spec


@dataclass
class Model:
    """Frame in, detections out, split in three so the engine can overlap the parts."""

    spec: ModelSpec
    backend: Backend
    decoder: Decoder | None  # None: passthrough, no model
    layout: str

    @property
    def passthrough(self) -> bool:
        return self.decoder is None

    def prepare(self, frame_bgr: np.ndarray) -> tuple[np.ndarray | None, Transform | None]:
        """The input tensor in the backend's layout, and how to map boxes back to the frame."""
        if self.decoder is None:
            return None, None
        image, transform = self.decoder.prepare(frame_bgr)
        if self.layout == LAYOUT_NHWC_UINT8:
            return np.ascontiguousarray(image[np.newaxis]), transform
        return self.decoder.normalize(image), transform

    def infer(self, tensor: np.ndarray | None) -> list[np.ndarray]:
        if tensor is None:
            return []
        return self.backend.infer(tensor)

    def decode(self, outputs: Sequence[np.ndarray], transform: Transform | None) -> list[Detection]:
        if self.decoder is None or transform is None:
            return []
        try:
            return self.decoder.decode(outputs, transform)
        except DecoderMismatchError as exc:
            raise InferenceError(str(exc)) from exc

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """All three steps in sequence (validation, benchmarks, simple callers)."""
        tensor, transform = self.prepare(frame_bgr)
        return self.decode(self.infer(tensor), transform)

    def close(self) -> None:
        self.backend.close()


def load_model(
    spec: ModelSpec, files: ModelFiles | None = None, sessions: SharedSessions | None = None
) -> Model:
    """Check the files, load the backend (or take the one `sessions` shares), build the
    decoder and run one blank frame through both. The decoder is always the caller's own: its
    thresholds are per pipeline."""
    spec = confine_model_files(spec, files or ModelFiles())
    backend = sessions.acquire(spec) if sessions is not None else create_backend(spec)
    try:
        layout = getattr(backend, "layout", LAYOUT_NCHW_FLOAT)
        if spec.passthrough:
            return Model(spec, backend, None, layout)
        size = spec.input_size or _size_from_shape(backend.input_shape, layout)
        classes = resolve_classes(spec.classes, getattr(backend, "metadata", None))
        try:
            decoder = make_decoder(
                spec.decoder.value,
                classes,
                size,
                confidence=spec.confidence,
                iou=spec.iou,
                max_detections=spec.max_detections,
            )
        except (ValueError, DecoderMismatchError) as exc:
            raise ModelLoadError(str(exc)) from exc
        model = Model(spec, backend, decoder, layout)
        _check_outputs(model, size)
        return model
    except BaseException:
        backend.close()
        raise


def validate_model(spec: ModelSpec, files: ModelFiles | None = None) -> list[str]:
    """Load and close the model now; raises ModelLoadError with the reason it is unusable.
    Returns the class names its decoder reports (none without a model), so that what a spec
    counts can be checked against them."""
    model = load_model(spec, files)
    model.close()
    return list(model.decoder.classes) if model.decoder is not None else []


def check_model(spec: PipelineSpec, files: ModelFiles | None = None) -> str | None:
    """Why `spec` cannot run with its model here, or None: the one place where a pipeline is
    checked against its model (the file loads and fits its decoder; zones and lines count
    classes the model reports). Worker pools run it on a node that would run the pipeline;
    the reason is returned as text, so it crosses process boundaries as it is."""
    try:
        classes = validate_model(spec.model, files)
    except ModelLoadError as exc:
        return f"model: {exc.detail}"
    if classes:  # none without a model: it reports nothing, zones count nothing anyway
        try:
            spec.analytics.check_classes(classes)
        except ValueError as exc:
            return str(exc)
    return None


def _size_from_shape(shape: tuple[int, ...] | None, layout: str) -> tuple[int, int]:
    if shape is None or len(shape) != 4:
        raise ModelLoadError(
            f"the model's input shape {shape} is not a 4-D image; set model.input_size"
        )
    height, width = (shape[1], shape[2]) if layout == LAYOUT_NHWC_UINT8 else (shape[2], shape[3])
    if height <= 0 or width <= 0:
        raise ModelLoadError("the model's input size is dynamic; set model.input_size")
    return width, height


def _check_outputs(model: Model, size: tuple[int, int]) -> None:
    """A model whose outputs its decoder cannot read must fail now, not on the first frame."""
    blank = np.full((size[1], size[0], 3), 114, dtype=np.uint8)
    tensor, transform = model.prepare(blank)
    if model.decoder is None or transform is None:
        return
    try:
        model.decoder.decode(model.infer(tensor), transform)
    except DecoderMismatchError as exc:
        raise ModelLoadError(
            f"model outputs do not fit decoder {model.spec.decoder.value!r}: {exc}"
        ) from exc
    except InferenceError as exc:
        raise ModelLoadError(f"the model failed on a test frame: {exc}") from exc
