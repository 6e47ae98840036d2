"""`runtime`: where Ray runs and how this process joins it."""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = [
    "CONTROL_PLANE_NICE_ENV",
    "WORKER_NICE_ENV",
    "Platform",
    "RuntimeConfig",
    "ServeTuning",
]

WORKER_NICE_ENV = "CORAL_WORKER_NICE"
CONTROL_PLANE_NICE_ENV = "CORAL_CONTROLPLANE_NICE"
"""How the niceness settings reach Ray's processes, which inherit the environment of the
process that starts Ray (one word after `CORAL_`, so neither is read as a config key)."""


class Platform(str, Enum):
    """Hardware family the box runs on; selects sensible backend defaults."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    jetson = "jetson"
    rockchip = "rockchip"


class ServeTuning(CoralBaseModel):
    """Ray Serve's own performance switches (`ray/serve/_private/constants.py`), set in the
    environment before Ray starts: Serve reads them once, when it is imported."""

    throughput_optimized: bool = Field(
        default=True,
        description="RAY_SERVE_THROUGHPUT_OPTIMIZED: gRPC between replicas, user code and "
        "router on the replica's own event loop, buffered request logs, GC frozen after start.",
    )
    direct_ingress: bool = Field(
        default=False,
        description="RAY_SERVE_ENABLE_DIRECT_INGRESS: the ingress replica also listens on a "
        "port of its own (30000-31000, on http.host) and the proxy runs on the head only.",
    )
    haproxy: bool = Field(
        default=False,
        description="RAY_SERVE_ENABLE_HA_PROXY: HAProxy instead of Serve's proxy (the Debian "
        "package must be installed); binds the replicas' ports to all interfaces.",
    )

    def environment(self) -> dict[str, str]:
        """The variables for Ray's processes; explicit zeros, so a mode's defaults are undone."""
        return {
            "RAY_SERVE_THROUGHPUT_OPTIMIZED": _flag(self.throughput_optimized),
            "RAY_SERVE_ENABLE_DIRECT_INGRESS": _flag(self.direct_ingress or self.haproxy),
            "RAY_SERVE_ENABLE_HA_PROXY": _flag(self.haproxy),
        }


def _flag(value: bool) -> str:
    return "1" if value else "0"


class RuntimeConfig(CoralBaseModel):
    address: str | None = Field(
        default=None,
        description="Ray cluster address to join (`auto`, `ray://host:10001`, `host:6379`); "
        "null starts a local Ray for this box.",
    )
    namespace: str = Field(
        default="coral",
        min_length=1,
        description="Ray namespace for the Serve app and the named pipeline actors.",
    )
    app_name: str = Field(
        default="coral", min_length=1, description="Name of the Ray Serve application."
    )
    platform: Platform = Field(
        default=Platform.auto, description="Hardware platform: auto, cpu, cuda, jetson, rockchip."
    )
    num_cpus: float | None = Field(
        default=None,
        ge=0,
        description="CPUs a locally started Ray advertises; null lets Ray count them.",
    )
    log_format: str = Field(
        default="text", pattern="^(text|json)$", description="Log line format: text or json."
    )
    log_level: str = Field(
        default="INFO",
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
        description="Log level of coral_serve's own loggers.",
    )
    serve: ServeTuning = Field(
        default_factory=ServeTuning, description="Ray Serve's performance switches."
    )
    warm_workers: int | None = Field(
        default=0,
        ge=0,
        description="Idle Ray worker processes a locally started Ray keeps for the next "
        "pipeline or model check (each ~100 MiB; a cold one adds ~1 s to a create); null: "
        "Ray's default, one per CPU. A joined cluster keeps its own.",
    )
    ray_dashboard: bool = Field(
        default=False,
        description="A locally started Ray also runs its dashboard (with its state and job "
        "APIs: `ray list actors`, `ray job submit`) on 127.0.0.1:8265; false starts no Ray "
        "API server process at all (~75 MiB). A joined cluster keeps its own.",
    )
    ray_autoscaler_monitor: bool = Field(
        default=False,
        description="A locally started Ray also runs its autoscaler monitor, which nothing on "
        "a single box uses but `ray status` (~50 MiB). A joined cluster keeps its own.",
    )
    control_plane_nice: int | None = Field(
        default=None,
        ge=-20,
        le=19,
        description="Niceness each Serve replica of the graph sets for itself at start; "
        "null keeps Ray's (15). Above worker_nice gives the cameras precedence over the API.",
    )
    worker_nice: int | None = Field(
        default=None,
        ge=-20,
        le=19,
        description="Niceness each pipeline worker sets for itself at start; null keeps "
        "Ray's (15). Below 15 needs root or CAP_SYS_NICE.",
    )

    def local_ray_system_config(self) -> dict[str, int]:
        """Ray's `_system_config` for a Ray this process starts itself."""
        if self.warm_workers is None:
            return {}
        return {"num_workers_soft_limit": self.warm_workers}

    def ray_environment(self) -> dict[str, str]:
        """What the runner (and a cluster's pod spec) exports before Ray starts."""
        environment = self.serve.environment()
        for name, niceness in (
            (CONTROL_PLANE_NICE_ENV, self.control_plane_nice),
            (WORKER_NICE_ENV, self.worker_nice),
        ):
            if niceness is not None:
                environment[name] = str(niceness)
        return environment
