"""`deployments`: replicas, autoscaling and Ray actor options of each Serve deployment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, model_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = ["ActorOptions", "AutoscalingConfig", "DeploymentOptions", "DeploymentsConfig"]


class ActorOptions(CoralBaseModel):
    num_cpus: float = Field(
        default=0.05,
        ge=0,
        description="CPUs reserved per replica; a fraction so every service fits on 2 cores.",
    )
    num_gpus: float = Field(default=0, ge=0, description="GPUs reserved per replica.")
    memory: int | None = Field(default=None, ge=0, description="Bytes of memory reserved.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom resources, e.g. {head: 0.01} to pin."
    )

    def to_ray(self) -> dict[str, Any]:
        """Ray's `ray_actor_options` dict, leaving out what is unset."""
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory is not None:
            options["memory"] = self.memory
        if self.resources:
            options["resources"] = dict(self.resources)
        return options


class AutoscalingConfig(CoralBaseModel):
    min_replicas: int = Field(default=1, ge=0, description="Fewest replicas.")
    max_replicas: int = Field(default=2, ge=1, description="Most replicas.")
    target_ongoing_requests: float = Field(
        default=5, gt=0, description="Ongoing requests per replica Serve aims for."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AutoscalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class DeploymentOptions(CoralBaseModel):
    num_replicas: int = Field(default=1, ge=1, le=64, description="Fixed replica count.")
    autoscaling: AutoscalingConfig | None = Field(
        default=None, description="Autoscaling instead of a fixed count."
    )
    max_ongoing_requests: int = Field(
        default=100, ge=1, description="Requests one replica handles at once."
    )
    ray_actor_options: ActorOptions = Field(
        default_factory=ActorOptions, description="Resources of each replica."
    )

    def to_serve(self) -> dict[str, Any]:
        """Keyword arguments for `Deployment.options()`."""
        options: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": self.ray_actor_options.to_ray(),
        }
        if self.autoscaling is not None:
            options["autoscaling_config"] = self.autoscaling.model_dump()
        else:
            options["num_replicas"] = self.num_replicas
        return options


class DeploymentsConfig(CoralBaseModel):
    ingress: DeploymentOptions = Field(
        default_factory=DeploymentOptions, description="FastAPI ingress."
    )
    pipeline_service: DeploymentOptions = Field(
        default_factory=DeploymentOptions,
        description="PipelineService (owns the store; keep at one replica).",
    )
    stream_service: DeploymentOptions = Field(
        default_factory=DeploymentOptions, description="StreamService."
    )
    monitor_service: DeploymentOptions = Field(
        default_factory=DeploymentOptions, description="MonitorService (one replica)."
    )
    health_service: DeploymentOptions = Field(
        default_factory=DeploymentOptions, description="HealthService."
    )
    event_service: DeploymentOptions = Field(
        default_factory=DeploymentOptions,
        description="EventService (owns the object-event store; keep at one replica).",
    )

    combine_singletons: bool = Field(
        default=False,
        description="Run PipelineService, MonitorService and EventService in one replica "
        "(ControlPlane): two Serve replicas less (~100 MiB PSS each and their starts) on a "
        "small box; deploy=local turns it on. The replica reserves the three services' CPUs "
        "and accepts their max_ongoing_requests together.",
    )

    def each(self) -> Iterator[tuple[str, DeploymentOptions]]:
        """Every deployment's options, by key (the switches left out)."""
        for name, value in self:
            if isinstance(value, DeploymentOptions):
                yield name, value

    def combined_singletons(self) -> DeploymentOptions:
        """The options of the one replica that `combine_singletons` runs the three in."""
        parts = [self.pipeline_service, self.monitor_service, self.event_service]
        actors = [part.ray_actor_options for part in parts]
        memory = [actor.memory for actor in actors if actor.memory is not None]
        resources: dict[str, float] = {}
        for actor in actors:
            for name, amount in actor.resources.items():
                resources[name] = resources.get(name, 0.0) + amount
        return DeploymentOptions(
            max_ongoing_requests=sum(part.max_ongoing_requests for part in parts),
            ray_actor_options=ActorOptions(
                num_cpus=sum(actor.num_cpus for actor in actors),
                num_gpus=sum(actor.num_gpus for actor in actors),
                memory=sum(memory) if memory else None,
                resources=resources,
            ),
        )

    @model_validator(mode="after")
    def _singletons(self) -> DeploymentsConfig:
        for name in ("pipeline_service", "monitor_service", "event_service"):
            options: DeploymentOptions = getattr(self, name)
            if options.autoscaling is not None or options.num_replicas != 1:
                raise ValueError(f"{name} owns shared state and must run exactly one replica")
        return self
