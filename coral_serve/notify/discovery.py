"""MQTT topics and Home Assistant MQTT discovery: each pipeline is a device, each zone and
class an occupancy binary sensor and a count sensor fed by the zone-count topic."""

from __future__ import annotations

import re

from coral_serve.config.notifications import MqttNotifierConfig

__all__ = [
    "availability_topic",
    "count_topic",
    "discovery_messages",
    "events_topic",
    "topic_word",
]

ONLINE = "online"
OFFLINE = "offline"
_NOT_TOPIC_WORD = re.compile(r"[^A-Za-z0-9_-]")


def topic_word(text: str) -> str:
    """One topic level: MQTT wildcards (`+`, `#`) and `/` never come from a zone or label."""
    return _NOT_TOPIC_WORD.sub("_", text) or "_"


def availability_topic(config: MqttNotifierConfig) -> str:
    return f"{config.topic_prefix}/{config.node_id}/status"


def events_topic(config: MqttNotifierConfig, pipeline_id: str) -> str:
    return f"{config.topic_prefix}/{topic_word(pipeline_id)}/events"


def count_topic(config: MqttNotifierConfig, pipeline_id: str, zone: str, label: str) -> str:
    words = (topic_word(pipeline_id), topic_word(zone), topic_word(label))
    return f"{config.topic_prefix}/{'/'.join(words)}"


def discovery_messages(
    config: MqttNotifierConfig, pipeline_id: str, zone: str, label: str
) -> list[tuple[str, dict[str, object]]]:
    """(topic, retained config) of the two entities of one zone and class."""
    object_id = "_".join(topic_word(part) for part in (pipeline_id, zone, label))
    common: dict[str, object] = {
        "state_topic": count_topic(config, pipeline_id, zone, label),
        "availability_topic": availability_topic(config),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {
            "identifiers": [f"{config.node_id}_{topic_word(pipeline_id)}"],
            "name": f"coral {pipeline_id}",
            "manufacturer": "coral_serve",
            "model": "video pipeline",
        },
    }
    count = {
        **common,
        "name": f"{zone} {label} count",
        "unique_id": f"{config.node_id}_{object_id}_count",
        "unit_of_measurement": "objects",
        "state_class": "measurement",
    }
    occupancy = {
        **common,
        "name": f"{zone} {label} occupancy",
        "unique_id": f"{config.node_id}_{object_id}_occupancy",
        "device_class": "occupancy",
        "value_template": "{{ 'ON' if value | int > 0 else 'OFF' }}",
    }
    prefix, node = config.discovery_prefix, config.node_id
    return [
        (f"{prefix}/sensor/{node}/{object_id}_count/config", count),
        (f"{prefix}/binary_sensor/{node}/{object_id}_occupancy/config", occupancy),
    ]
