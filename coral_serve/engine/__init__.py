"""What runs inside a pipeline worker: source, model backend, decoder, annotator, outputs.

Nothing here imports Ray. Names are exported lazily, so importing `coral_serve.engine.spec`
(which the configuration schema does) does not pull in OpenCV or ONNX Runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The config schema imports engine.spec, and engine.spec imports config.base: importing the
# config package first makes that cycle resolve whichever module a caller imports first.
import coral_serve.config  # noqa: F401

if TYPE_CHECKING:  # for type checkers and IDEs; runtime access goes through __getattr__
    from coral_serve.engine.backends import Backend, BackendSpec, available_backends
    from coral_serve.engine.decoders import Detection
    from coral_serve.engine.engine import EngineState, PipelineEngine, Recorder
    from coral_serve.engine.errors import EngineError, InferenceError, ModelLoadError, SourceError
    from coral_serve.engine.model import Model, load_model, validate_model
    from coral_serve.engine.redact import masked_text, masked_uri
    from coral_serve.engine.spec import (
        DecoderName,
        ModelSpec,
        OutputSpec,
        Pacing,
        PipelineSpec,
        ReconnectSpec,
        ResourcesSpec,
        RestartPolicy,
        SourceSpec,
    )

_EXPORTS = {
    "Backend": "backends",
    "BackendSpec": "backends",
    "available_backends": "backends",
    "Detection": "decoders",
    "EngineState": "engine",
    "PipelineEngine": "engine",
    "Recorder": "engine",
    "EngineError": "errors",
    "InferenceError": "errors",
    "ModelLoadError": "errors",
    "SourceError": "errors",
    "Model": "model",
    "load_model": "model",
    "validate_model": "model",
    "masked_text": "redact",
    "masked_uri": "redact",
    "DecoderName": "spec",
    "ModelSpec": "spec",
    "OutputSpec": "spec",
    "Pacing": "spec",
    "PipelineSpec": "spec",
    "ReconnectSpec": "spec",
    "ResourcesSpec": "spec",
    "RestartPolicy": "spec",
    "SourceSpec": "spec",
}

__all__ = [
    "Backend",
    "BackendSpec",
    "DecoderName",
    "Detection",
    "EngineError",
    "EngineState",
    "InferenceError",
    "Model",
    "ModelLoadError",
    "ModelSpec",
    "OutputSpec",
    "Pacing",
    "PipelineEngine",
    "PipelineSpec",
    "ReconnectSpec",
    "Recorder",
    "ResourcesSpec",
    "RestartPolicy",
    "SourceError",
    "SourceSpec",
    "available_backends",
    "load_model",
    "masked_text",
    "masked_uri",
    "validate_model",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
