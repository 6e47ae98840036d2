"""`PipelineSpec`: what one pipeline reads, which model it runs and what it publishes."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from coral_serve.schema.analytics import AnalyticsSpec
from coral_serve.schema.base import CoralBaseModel
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.uri import SourceUriText

__all__ = [
    "NAME_PATTERN",
    "BatchingSpec",
    "DecoderName",
    "ModelSpec",
    "OutputSpec",
    "Pacing",
    "PipelineSpec",
    "ReconnectSpec",
    "ResourcesSpec",
    "RestartPolicy",
    "SourceSpec",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""Pipeline and backend names: letters, digits, `.`, `_`, `-`, not starting with a symbol."""

Dimension = Annotated[int, Field(ge=1, le=16384)]

# A change to a field marked so reaches the running worker without a restart; every other
# field is cold (see schema/changes.py).
HOT: dict[str, Any] = {"x-apply": "hot"}


class RestartPolicy(str, Enum):
    """What the reconciler does when a pipeline's worker fails or its source ends."""

    always = "always"
    on_failure = "on-failure"
    never = "never"


class Pacing(str, Enum):
    auto = "auto"
    realtime = "realtime"
    unpaced = "unpaced"


class DecoderName(str, Enum):
    yolo = "yolo"
    yolo_nms = "yolo-nms"
    nanodet = "nanodet"


class ReconnectSpec(CoralBaseModel):
    initial_delay: float = Field(
        default=1.0, gt=0, le=3600, description="Seconds before the first reconnect attempt."
    )
    max_delay: float = Field(
        default=30.0, gt=0, le=3600, description="Longest wait between attempts (doubling)."
    )
    max_attempts: int | None = Field(
        default=None,
        ge=0,
        description="Reconnect attempts before the pipeline fails; null retries forever.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectSpec:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must not be shorter than initial_delay")
        return self


class SourceSpec(CoralBaseModel):
    uri: SourceUriText = Field(
        min_length=1,
        max_length=4096,
        description="rtsp://, rtsps://, http(s):// stream or file, file:// or a local path, "
        "or a camera index (`0` or `device://0`). Credentials in it are never shown.",
    )
    max_fps: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Most frames per second taken from the source.",
        json_schema_extra=HOT,
    )
    resize: tuple[Dimension, Dimension] | None = Field(
        default=None, description="Resize every frame to [width, height] before processing."
    )
    reconnect: ReconnectSpec = Field(
        default_factory=ReconnectSpec, description="Backoff used when a source is lost."
    )
    loop: bool = Field(default=False, description="Start a file again when it ends.")
    pacing: Pacing = Field(
        default=Pacing.auto,
        description="auto: live sources keep only the newest frame, files play at their own "
        "fps without losing frames; realtime: every source follows the wall clock and stale "
        "frames are dropped; unpaced: as fast as possible, no frame lost.",
    )
    timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds allowed to open or read the source."
    )
    download: bool = Field(
        default=False, description="Fetch an http(s) file once and play the local copy."
    )

    @property
    def masked_uri(self) -> str:
        return masked_uri(self.uri)


class BatchingSpec(CoralBaseModel):
    """Micro-batching of the pipelines sharing this model's session (`pipelines.isolation:
    shared`): part of the session's identity, so pipelines batch together only when they
    agree on it."""

    max_batch: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Most inputs of different pipelines run as one batch; 1: off. Worth it on "
        "a GPU (a batch of N costs far less than N runs); on a CPU it halved throughput "
        "(docs/operations.md, Isolation). Needs a dynamic batch dimension (or a fixed one, "
        "padded); a model with a fixed batch of 1 runs its inputs one after another. "
        "Ignored in `process` isolation.",
    )
    max_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="Longest an input waits for other pipelines' inputs to join its batch; a "
        "batch runs at once when every pipeline sharing the session has an input in.",
    )


class ModelSpec(CoralBaseModel):
    # The JSON schema states the rule `_path_unless_passthrough` enforces, for clients that
    # validate before sending: path is required unless backend is none (the default needs it).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"backend": {"not": {"const": "none"}}}},
            "then": {"required": ["path"]},
        }
    )

    backend: str = Field(
        default="onnxruntime",
        pattern=NAME_PATTERN,
        description="Model runtime: onnxruntime, rknn, none (passthrough) or a plugin's name.",
    )
    path: str | None = Field(
        default=None, min_length=1, description="Model file; required unless backend is none."
    )
    decoder: DecoderName = Field(
        default=DecoderName.yolo,
        description="Output layout: yolo (Ultralytics [1,4+nc,N]), yolo-nms ([1,N,6]) or "
        "nanodet (six stride tensors).",
    )
    classes: list[str] | str | None = Field(
        default=None,
        description="Class names, or a file with one name per line; null: the model's own "
        "names when it carries them, else COCO-80.",
    )
    confidence: float = Field(
        default=0.35, ge=0, le=1, description="Lowest score reported.", json_schema_extra=HOT
    )
    iou: float = Field(
        default=0.45,
        ge=0,
        le=1,
        description="IoU above which NMS suppresses.",
        json_schema_extra=HOT,
    )
    max_detections: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Most detections kept per frame.",
        json_schema_extra=HOT,
    )
    input_size: tuple[Dimension, Dimension] | None = Field(
        default=None, description="Model input [width, height]; null: read from the model."
    )
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description="ONNX Runtime execution providers in order of preference; ones this "
        "machine lacks are skipped (CPU is always the last resort).",
    )
    threads: int = Field(default=1, ge=1, le=256, description="Intra-op threads of the runtime.")
    batching: BatchingSpec = Field(
        default_factory=BatchingSpec,
        description="Inputs of the pipelines sharing this model's session run as one batch.",
    )

    @field_validator("classes")
    @classmethod
    def _classes_not_empty(cls, classes: list[str] | str | None) -> list[str] | str | None:
        if isinstance(classes, list) and not classes:
            raise ValueError("classes must name at least one class")
        if isinstance(classes, str) and not classes.strip():
            raise ValueError("classes must be a list of names or a file path")
        return classes

    @model_validator(mode="after")
    def _path_unless_passthrough(self) -> ModelSpec:
        if self.backend != "none" and self.path is None:
            raise ValueError(f"path is required for backend {self.backend!r}")
        return self

    @property
    def passthrough(self) -> bool:
        return self.backend == "none"


class OutputSpec(CoralBaseModel):
    annotate: bool = Field(
        default=True, description="Draw boxes and labels on live frames.", json_schema_extra=HOT
    )
    results_buffer: int = Field(
        default=256, ge=1, le=100_000, description="Result records kept until consumed."
    )
    record: bool = Field(
        default=False, description="Record annotated video segments.", json_schema_extra=HOT
    )
    segment_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="Length of a recorded segment; null: streams.recordings.segment_seconds.",
    )
    stream_fps: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="Most live JPEG frames per second; null: all.",
        json_schema_extra=HOT,
    )
    jpeg_quality: int = Field(
        default=80, ge=1, le=100, description="JPEG quality of live frames.", json_schema_extra=HOT
    )


# Ray's own resource names: asking for them under `custom` makes Ray refuse the actor.
_RESERVED_RESOURCES = frozenset({"CPU", "GPU", "memory", "object_store_memory"})
_RESERVED_PREFIXES = ("node:", "accelerator_type:")
# Far above any node, yet small enough that Ray and JSON carry the number exactly.
_MAX_RESOURCE_AMOUNT = 1_000_000


class ResourcesSpec(CoralBaseModel):
    num_cpus: float = Field(
        default=0.25, ge=0, le=1024, description="CPUs reserved for the pipeline."
    )
    num_gpus: float = Field(
        default=0.0, ge=0, le=256, description="GPUs reserved for the pipeline."
    )
    custom: dict[str, Annotated[float, Field(ge=0, le=_MAX_RESOURCE_AMOUNT)]] = Field(
        default_factory=dict, description="Custom Ray resources, e.g. {NPU: 1}."
    )

    @field_validator("custom")
    @classmethod
    def _not_reserved(cls, custom: dict[str, float]) -> dict[str, float]:
        for key in custom:
            if key in _RESERVED_RESOURCES or key.startswith(_RESERVED_PREFIXES):
                raise ValueError(
                    f"{key!r} is reserved by Ray and cannot be a custom resource; "
                    "use num_cpus or num_gpus"
                )
        return custom


class PipelineSpec(CoralBaseModel):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Unique pipeline name: letters, digits, `.`, `_`, `-`.",
    )
    source: SourceSpec = Field(description="Where frames come from.")
    model: ModelSpec = Field(description="What runs on each frame.")
    outputs: OutputSpec = Field(
        default_factory=OutputSpec, description="What the pipeline publishes."
    )
    restart_policy: RestartPolicy | None = Field(
        default=None,
        description="always, on-failure or never; null: pipelines.default_restart_policy.",
        json_schema_extra=HOT,
    )
    resources: ResourcesSpec = Field(
        default_factory=ResourcesSpec, description="Ray resources the pipeline's actor needs."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Free-form labels.", json_schema_extra=HOT
    )
    analytics: AnalyticsSpec = Field(
        default_factory=AnalyticsSpec,
        description="Tracking, zones, lines and object events (default: tracked, no zones).",
    )

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready form with the source's credentials masked, for responses and logs."""
        data = self.model_dump(mode="json")
        data["source"]["uri"] = masked_uri(self.source.uri)
        return data
