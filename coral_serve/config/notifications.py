"""`notifications`: where object events go (MQTT, webhooks, event-sink plugins) and how the
outbox that delivers them at least once is bounded and retried."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from coral_serve.schema.base import CoralBaseModel

__all__ = [
    "NOTIFIER_TYPES",
    "EventFilter",
    "MqttNotifierConfig",
    "MqttTlsConfig",
    "NotificationsConfig",
    "NotifierConfig",
    "PluginNotifierConfig",
    "WebhookNotifierConfig",
]

TopicWord = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class EventFilter(CoralBaseModel):
    """Which events a notifier receives; an empty list lets everything through."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][\w.-]*$",
        description="Name in metrics and /readyz; default: the plugin or the type (`webhook-2`).",
    )
    pipelines: list[str] = Field(default_factory=list, description="Only these pipeline ids.")
    labels: list[str] = Field(default_factory=list, description="Only these classes.")
    zones: list[str] = Field(
        default_factory=list, description="Only events that visited one of these zones."
    )


class MqttTlsConfig(CoralBaseModel):
    enabled: bool = Field(default=False, description="Connect with TLS.")
    ca_file: str | None = Field(
        default=None, description="CA bundle that signs the broker; null: the system's."
    )
    cert_file: str | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: str | None = Field(default=None, description="Client key (mutual TLS).")
    insecure: bool = Field(
        default=False, description="Skip the broker's host name check (testing only)."
    )


class MqttNotifierConfig(EventFilter):
    type: Literal["mqtt"] = Field(default="mqtt", description="An MQTT broker.")
    host: str = Field(min_length=1, description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
    username: str | None = Field(default=None, description="User name; null: anonymous.")
    password: SecretStr | None = Field(default=None, description="Password (a secret).")
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig, description="Transport security.")
    client_id: str | None = Field(
        default=None, max_length=64, description="MQTT client id; null: `coral-<node_id>`."
    )
    topic_prefix: TopicWord = Field(
        default="coral",
        description="Events on <prefix>/<pipeline>/events, zone counts on "
        "<prefix>/<pipeline>/<zone>/<class>, availability on <prefix>/<node_id>/status.",
    )
    qos: Literal[0, 1, 2] = Field(
        default=1, description="QoS of events; 1 or 2 confirm delivery to the broker."
    )
    keepalive: int = Field(default=30, ge=5, le=3600, description="Keepalive in seconds.")
    discovery: bool = Field(default=True, description="Publish Home Assistant MQTT discovery.")
    discovery_prefix: TopicWord = Field(
        default="homeassistant", description="Home Assistant's discovery prefix."
    )
    node_id: TopicWord = Field(
        default="coral", description="This server in discovery topics and unique ids."
    )


class WebhookNotifierConfig(EventFilter):
    type: Literal["webhook"] = Field(default="webhook", description="HTTP POST per event.")
    url: str = Field(
        pattern=r"^https?://",
        description="Receiver URL; it passes pipelines.outbound like any outbound address.",
    )
    secret: SecretStr = Field(
        description="HMAC-SHA256 key of X-Coral-Signature (a secret, 16+ characters)."
    )
    timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds per request.")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 16:
            raise ValueError("secret must be at least 16 characters")
        return secret


class PluginNotifierConfig(EventFilter):
    type: Literal["plugin"] = Field(
        default="plugin", description="A notifier from the coral_serve.event_sinks entry point."
    )
    plugin: str = Field(min_length=1, description="Entry point name of the event sink.")
    options: dict[str, object] = Field(default_factory=dict, description="Passed to the sink.")


NotifierConfig = Annotated[
    MqttNotifierConfig | WebhookNotifierConfig | PluginNotifierConfig,
    Field(discriminator="type"),
]
NOTIFIER_TYPES = frozenset({"mqtt", "webhook", "plugin"})


class NotificationsConfig(CoralBaseModel):
    enabled: bool = Field(default=True, description="Deliver events to the notifiers.")
    notifiers: list[NotifierConfig] = Field(
        default_factory=list, description="Where object events go."
    )
    outbox_max_messages: int = Field(
        default=100_000,
        ge=10,
        description="Messages kept per notifier while it is down; beyond, the oldest are "
        "dropped and counted.",
    )
    retry_initial: float = Field(
        default=1.0, gt=0, le=60, description="First wait in seconds after a failed delivery."
    )
    retry_max_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest wait between retries (doubling from retry_initial, with jitter).",
    )
    poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between outbox scans when no enqueue wakes the dispatcher.",
    )
