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
from coral_serve.plugins.discovery import discover_plugins

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
    """Notifiers by unique name: the configured `name`, else the type (`webhook-2`, ...)."""
    built: list[BuiltNotifier] = []
    for config in configs:
        base = config.name or config.type
        names = {b.name for b in built}
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        built.append(BuiltNotifier(name, config, _build(config, plugins, check_url)))
    return built


def _build(config: NotifierConfig, plugins: PluginsConfig, check_url: OutboundCheck) -> Notifier:
    if isinstance(config, MqttNotifierConfig):
        return MqttNotifier(config)
    if isinstance(config, PluginNotifierConfig):
        return _plugin(config, plugins)
    return WebhookNotifier(config, check_url)


def _plugin(config: PluginNotifierConfig, plugins: PluginsConfig) -> Notifier:
    found = [
        p
        for p in discover_plugins(plugins)
        if p.info.group == EVENT_SINK_GROUP and p.info.name == config.plugin
    ]
    if not found:
        return _unavailable(
            config.plugin, f"no {EVENT_SINK_GROUP} entry point named {config.plugin!r}"
        )
    plugin = found[0]
    if not plugin.info.loaded:
        return _unavailable(config.plugin, plugin.info.reason)
    try:
        spec = plugin.obj if isinstance(plugin.obj, EventSinkSpec) else plugin.obj()
        if not isinstance(spec, EventSinkSpec):
            return _unavailable(
                config.plugin, f"entry point gave {type(spec).__name__}, not an EventSinkSpec"
            )
        return spec.factory(dict(config.options))
    except Exception as exc:  # third-party code: report it, never stop the dispatcher
        return _unavailable(config.plugin, f"could not create it: {type(exc).__name__}: {exc}")


def _unavailable(name: str, reason: str) -> Notifier:
    log.error("event sink plugin %s is unavailable: %s", name, reason)
    return UnavailableNotifier(f"plugin unavailable: {reason}")
