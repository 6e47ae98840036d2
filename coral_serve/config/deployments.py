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

    @property
    def single(self) -> bool:
        """Exactly one replica, never scaled."""
        return self.autoscaling is None and self.num_replicas == 1

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

    combine: bool = Field(
        default=False,
        description="Run every service that has one replica inside the one ingress replica "
        "(each saves a Serve replica: ~85 MiB PSS and a start on a small box); a scaled "
        "service, and what it calls, keep deployments of their own. deploy=local turns it "
        "on. The ingress replica then reserves their CPUs, GPUs, memory and resources too, "
        "keeps its own max_ongoing_requests, and must run one replica.",
    )

    def each(self) -> Iterator[tuple[str, DeploymentOptions]]:
        """Every deployment's options, by key (the switches left out)."""
        for name, value in self:
            if isinstance(value, DeploymentOptions):
                yield name, value

    def of(self, service: str) -> DeploymentOptions:
        """The options of a service by its short name (`pipelines`, `streams`, ...)."""
        return getattr(self, _SERVICE_KEYS[service])

    def combined(self, services: set[str]) -> DeploymentOptions:
        """The options of the ingress replica when `combine` runs `services` in it."""
        parts = [self.ingress, *(self.of(name) for name in sorted(services))]
        actors = [part.ray_actor_options for part in parts]
        memory = [actor.memory for actor in actors if actor.memory is not None]
        resources: dict[str, float] = {}
        for actor in actors:
            for name, amount in actor.resources.items():
                resources[name] = resources.get(name, 0.0) + amount
        return DeploymentOptions(
            max_ongoing_requests=self.ingress.max_ongoing_requests,
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
            if not options.single:
                raise ValueError(f"{name} owns shared state and must run exactly one replica")
        if self.combine and not self.ingress.single:
            raise ValueError(
                "deployments.ingress must run exactly one replica while deployments.combine "
                "runs the services inside it; set deployments.combine=false to scale it"
            )
        return self


_SERVICE_KEYS = {
    "pipelines": "pipeline_service",
    "monitor": "monitor_service",
    "events": "event_service",
    "streams": "stream_service",
    "health": "health_service",
}
