"""MQTT notifier (aiomqtt): events, retained zone counts, availability with a last will, and
Home Assistant discovery, republished on every connect because a restarted broker may have
lost its retained messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import aiomqtt

from coral_serve.config.notifications import MqttNotifierConfig
from coral_serve.notify.base import Message, Notifier, NotifierError, ZoneCounts
from coral_serve.notify.discovery import (
    OFFLINE,
    ONLINE,
    availability_topic,
    count_topic,
    discovery_messages,
    events_topic,
)

__all__ = ["MqttNotifier"]

log = logging.getLogger(__name__)

_TIMEOUT = 10.0


class MqttNotifier(Notifier):
    """One kept connection, opened on first use and again after any failure."""

    def __init__(self, config: MqttNotifierConfig) -> None:
        self._config = config
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()
        self._counts: dict[str, dict[tuple[str, str], int]] = {}
        self._announced: set[tuple[str, str, str]] = set()

    async def deliver(self, message: Message) -> None:
        async with self._lock:
            client = await self._connected()
            topic = events_topic(self._config, message.pipeline_id)
            await self._publish(client, topic, message.body, qos=self._config.qos)

    async def zone_counts(self, pipeline_id: str, counts: ZoneCounts) -> None:
        """Publish the pipeline's counts (retained); a class that left a zone counts 0. While
        the broker is down only the newest counts are kept, published on the next connect."""
        known = self._counts.setdefault(pipeline_id, {})
        for entity in known:
            known[entity] = 0
        for zone, labels in counts.items():
            for label, n in labels.items():
                known[(zone, label)] = n
        async with self._lock:
            try:
                client = await self._connected()
                await self._publish_counts(client, pipeline_id)
            except NotifierError as exc:
                log.debug("zone counts of %s not published: %s", pipeline_id, exc)

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self._client.publish(
                        availability_topic(self._config), OFFLINE, qos=1, retain=True
                    )
                await self._disconnect()

    async def _connected(self) -> aiomqtt.Client:
        if self._client is not None:
            return self._client
        config = self._config
        status = availability_topic(config)
        client = aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            identifier=config.client_id or f"coral-{config.node_id}",
            will=aiomqtt.Will(status, OFFLINE, qos=1, retain=True),
            keepalive=config.keepalive,
            timeout=_TIMEOUT,
            tls_params=(
                aiomqtt.TLSParameters(
                    ca_certs=config.tls.ca_file,
                    certfile=config.tls.cert_file,
                    keyfile=config.tls.key_file,
                )
                if config.tls.enabled
                else None
            ),
            tls_insecure=config.tls.insecure if config.tls.enabled else None,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise NotifierError(f"cannot connect to {config.host}:{config.port}: {exc}") from None
        self._client = client
        self._announced.clear()
        await self._publish(client, status, ONLINE, qos=1, retain=True)
        for pipeline_id in self._counts:
            await self._publish_counts(client, pipeline_id)
        return client

    async def _publish_counts(self, client: aiomqtt.Client, pipeline_id: str) -> None:
        for (zone, label), n in self._counts[pipeline_id].items():
            if self._config.discovery and (pipeline_id, zone, label) not in self._announced:
                for topic, payload in discovery_messages(self._config, pipeline_id, zone, label):
                    await self._publish(client, topic, json.dumps(payload), qos=1, retain=True)
                self._announced.add((pipeline_id, zone, label))
            topic = count_topic(self._config, pipeline_id, zone, label)
            await self._publish(client, topic, str(n), qos=1, retain=True)

    async def _publish(
        self,
        client: aiomqtt.Client,
        topic: str,
        payload: str | bytes,
        *,
        qos: int,
        retain: bool = False,
    ) -> None:
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=_TIMEOUT)
        except aiomqtt.MqttError as exc:
            await self._disconnect()
            raise NotifierError(f"publish to {topic} failed: {exc}") from None

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        # The connection may be gone already; and aiomqtt waits for the broker's
        # acknowledgement without a timeout, which a half-dead broker never sends.
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await asyncio.wait_for(client.__aexit__(None, None, None), _TIMEOUT)
