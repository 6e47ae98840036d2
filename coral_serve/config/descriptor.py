"""`CoralConfig`: the whole runtime descriptor, one field per section."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from coral_serve.config.deployments import DeploymentsConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.health import HealthConfig
from coral_serve.config.http import AuthMode, HttpConfig, Listener, Role
from coral_serve.config.kuberay import KubeRayConfig
from coral_serve.config.monitoring import MonitoringConfig
from coral_serve.config.notifications import NotificationsConfig
from coral_serve.config.object_events import ObjectEventsConfig
from coral_serve.config.pipelines import PipelinesConfig
from coral_serve.config.plugins import PluginsConfig
from coral_serve.config.runtime import RuntimeConfig
from coral_serve.config.streams import StreamsConfig
from coral_serve.config.ui import UiConfig
from coral_serve.schema.base import CoralBaseModel

__all__ = ["CoralConfig"]


class CoralConfig(CoralBaseModel):
    """The runtime descriptor that `build_app` turns into a Ray Serve application."""

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig, description="Ray runtime.")
    http: HttpConfig = Field(default_factory=HttpConfig, description="HTTP ingress.")
    pipelines: PipelinesConfig = Field(
        default_factory=PipelinesConfig, description="Pipeline store and sources."
    )
    streams: StreamsConfig = Field(
        default_factory=StreamsConfig, description="Live view and recordings."
    )
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig, description="Metrics and disk quota."
    )
    object_events: ObjectEventsConfig = Field(
        default_factory=ObjectEventsConfig,
        description="Object events of tracked objects: store, polling, retention.",
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Object events out: MQTT, webhooks."
    )
    health: HealthConfig = Field(default_factory=HealthConfig, description="Health probes.")
    ui: UiConfig = Field(default_factory=UiConfig, description="Web UI.")
    plugins: PluginsConfig = Field(default_factory=PluginsConfig, description="Plugins.")
    deployments: DeploymentsConfig = Field(
        default_factory=DeploymentsConfig, description="Serve deployment options."
    )
    kuberay: KubeRayConfig = Field(
        default_factory=KubeRayConfig,
        description="Pod sizes and group replicas of `coral-runtime deploy kuberay`.",
    )

    @model_validator(mode="after")
    def _derive_paths(self) -> CoralConfig:
        """Anchor relative paths at the process that loads the descriptor, because Ray
        workers run in other directories, and place the store and recordings under the data
        dir unless set explicitly."""
        data_dir = Path(self.pipelines.data_dir).expanduser().absolute()
        self.pipelines.data_dir = str(data_dir)
        if self.pipelines.store_path is None:
            self.pipelines.store_path = str(data_dir / "coral.db")
        if self.streams.recordings.directory is None:
            self.streams.recordings.directory = str(data_dir / "recordings")
        if self.object_events.store_path is None:
            self.object_events.store_path = str(data_dir / "object_events.db")
        return self

    def check_startable(self) -> None:
        """Problems that only matter when serving: an open door in production."""
        problems: list[ConfigProblem] = []
        auth = self.http.auth
        if auth.mode is AuthMode.token and not any(t.role is Role.admin for t in auth.tokens):
            problems.append(
                ConfigProblem(
                    "http.auth.tokens",
                    "token authentication needs at least one admin token, e.g. "
                    "CORAL_HTTP__AUTH__TOKENS='[{name: ops, role: admin, token: <32+ random "
                    "characters>}]'",
                )
            )
        if self.http.listener is Listener.ingress and not self.deployments.ingress.single:
            problems.append(
                ConfigProblem(
                    "http.listener",
                    "the ingress replica listens on http.port itself, so there must be exactly "
                    "one (deployments.ingress); set http.listener=proxy to scale it",
                )
            )
        if problems:
            raise ConfigError(problems)

    def public_dump(self) -> dict:
        """The descriptor as JSON-ready data with every secret masked, including
        credentials inside declared pipelines' and templates' source URIs."""
        data = self.model_dump(mode="json")
        data["pipelines"]["declared"] = [spec.public_dict() for spec in self.pipelines.declared]
        data["pipelines"]["templates"] = self.pipelines.public_templates()
        return data
