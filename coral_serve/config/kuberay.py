"""`kuberay`: how `coral-runtime deploy kuberay` sizes the cluster it writes.

Only the manifest generator reads it; a running graph ignores it. The defaults are one head,
one CPU worker that may grow to four, and one RK3588 board (three NPU cores) that may grow
to eight.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = ["KubeRayConfig", "NpuGroup", "PodSize", "WorkerGroup"]

# A Kubernetes memory quantity: "4Gi", "512Mi", "8G", or plain bytes.
_MEMORY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"


class PodSize(CoralBaseModel):
    cpu: float = Field(default=2, gt=0, le=1024, description="CPU cores requested and limited.")
    memory: str = Field(
        default="4Gi",
        pattern=_MEMORY_PATTERN,
        description="Memory requested and limited, as a Kubernetes quantity (4Gi, 512Mi).",
    )


class WorkerGroup(PodSize):
    replicas: int = Field(default=1, ge=0, le=1000, description="Pods at first.")
    min_replicas: int = Field(default=1, ge=0, le=1000, description="Fewest pods.")
    max_replicas: int = Field(default=4, ge=0, le=1000, description="Most pods.")

    @model_validator(mode="after")
    def _ordered(self) -> WorkerGroup:
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError("needs min_replicas <= replicas <= max_replicas")
        return self


class NpuGroup(WorkerGroup):
    cpu: float = Field(default=4, gt=0, le=1024, description="CPU cores requested and limited.")
    memory: str = Field(
        default="8Gi",
        pattern=_MEMORY_PATTERN,
        description="Memory requested and limited, as a Kubernetes quantity (4Gi, 512Mi).",
    )
    min_replicas: int = Field(default=0, ge=0, le=1000, description="Fewest pods.")
    max_replicas: int = Field(default=8, ge=0, le=1000, description="Most pods.")
    npu_per_node: int = Field(
        default=3,
        ge=1,
        le=64,
        description="NPU resources each pod advertises: one per NPU core (an RK3588 has 3), "
        "one pipeline asking for {NPU: 1} per core.",
    )


class KubeRayConfig(CoralBaseModel):
    head: PodSize = Field(
        default_factory=PodSize, description="The head pod: the stores and the Serve proxy."
    )
    cpu_workers: WorkerGroup = Field(
        default_factory=WorkerGroup,
        description="Worker group `cpu`: ingress and stream replicas, CPU pipelines.",
    )
    npu_workers: NpuGroup = Field(
        default_factory=NpuGroup,
        description="Worker group `npu`: Rockchip boards that run `{NPU: 1}` pipelines.",
    )
    media_claim: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$",
        description="An existing ReadWriteMany PersistentVolumeClaim that every pod mounts "
        "for recordings, event media and downloads; required by `streams.media.shared`, "
        "unused without it.",
    )
