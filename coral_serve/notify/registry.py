"""Build the configured notifiers: MQTT, webhooks and `coral_serve.event_sinks` plugins."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from coral_serve.config.notifications import (
    MqttNotifierConfig,
    NotifierConfig,
    PluginNotifierConfig,
)
from coral_serve.config.plugins import PluginsConfig
from coral_serve.notify.base import EventSinkSpec, Message, Notifier, NotifierError
from coral_serve.notify.mqtt import MqttNotifier
from coral_serve.notify.webhook import OutboundCheck, WebhookNotifier
from coral_serve.plugins.factories import PluginUnavailable, create_from_plugin, unique_name

__all__ = ["EVENT_SINK_GROUP", "BuiltNotifier", "UnavailableNotifier", "build_notifiers"]

log = logging.getLogger(__name__)

EVENT_SINK_GROUP = "coral_serve.event_sinks"


@dataclass(frozen=True)
class BuiltNotifier:
    name: str
    config: NotifierConfig
    notifier: Notifier


class UnavailableNotifier(Notifier):
    """Stands in for a plugin that could not be created, so the problem shows as a notifier
    that is down (in /readyz and metrics) and its events wait in the outbox for a fix."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def deliver(self, message: Message) -> None:
        raise NotifierError(self.reason)


def build_notifiers(
    configs: Sequence[NotifierConfig], plugins: PluginsConfig, check_url: OutboundCheck
) -> list[BuiltNotifier]:
    """Notifiers by unique name: the configured `name`, else the plugin's entry point name
    or the type (`webhook`, `webhook-2`, ...)."""
    built: list[BuiltNotifier] = []
    for config in configs:
        plugin = config.plugin if isinstance(config, PluginNotifierConfig) else None
        name = unique_name(config.name or plugin or config.type, {b.name for b in built})
        built.append(BuiltNotifier(name, config, _build(config, plugins, check_url)))
    return built


def _build(config: NotifierConfig, plugins: PluginsConfig, check_url: OutboundCheck) -> Notifier:
    if isinstance(config, MqttNotifierConfig):
        return MqttNotifier(config)
    if not isinstance(config, PluginNotifierConfig):
        return WebhookNotifier(config, check_url)
    try:
        notifier: Notifier = create_from_plugin(
            EVENT_SINK_GROUP, config.plugin, EventSinkSpec, config.options, plugins
        )
    except PluginUnavailable as exc:  # down in /readyz; its events wait in the outbox
        log.error("event sink plugin %s is unavailable: %s", config.plugin, exc.reason)
        return UnavailableNotifier(f"plugin unavailable: {exc.reason}")
    return notifier
