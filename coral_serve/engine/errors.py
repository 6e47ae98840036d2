"""Errors of the pipeline engine, typed so callers can map each to the right answer."""

from __future__ import annotations

from coral_serve.errors import CoralError, InvalidRequestError

__all__ = ["EngineError", "InferenceError", "ModelLoadError", "SourceError"]


class EngineError(CoralError):
    """Base of every expected failure inside a pipeline; it ends up as a pipeline's `reason`."""

    error = "engine_error"


class ModelLoadError(InvalidRequestError, EngineError):
    """The model file is missing, unreadable or does not fit its decoder (the API answers 422)."""

    error = "invalid_model"


class InferenceError(EngineError):
    """A loaded model failed while running a frame."""

    error = "inference_failed"


class SourceError(EngineError):
    """The video source could not be opened or stopped delivering frames."""

    error = "source_failed"
