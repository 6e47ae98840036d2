"""The notifications section (Hydra group, errors naming the key, masked secrets) and a
notifier that is down as a readiness warning and in metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from coral_serve.config import ConfigError, ConfigSources, load_config
from coral_serve.monitoring.service_metrics import CallbackCollector
from coral_serve.notify.metrics import notifier_families
from coral_serve.services.health import HealthService
from tests.integration.processes import free_port
from tests.unit.notify.helpers import (
    SECRET,
    enqueue_all,
    notifications,
    now,
    revisions,
    running_dispatcher,
)
from tests.unit.waiting import eventually

MQTT_PASSWORD = "broker-password-never-shown"


def load(*sets: str):
    return load_config(ConfigSources(sets=["demo=none", *sets], environ={}))


def test_the_hydra_group_picks_a_notifier_and_none_is_the_default() -> None:
    assert load().notifications.notifiers == []
    [mqtt] = load("notifications=mqtt").notifications.notifiers
    assert (mqtt.type, mqtt.host, mqtt.port, mqtt.discovery) == ("mqtt", "127.0.0.1", 1883, True)


@pytest.mark.parametrize(
    ("sets", "key", "fragment"),
    [
        (["notifications=webhook"], "notifications.notifiers.0.secret", "Field required"),
        (
            ["notifications.notifiers=[{type: webhook, url: 'https://h.example', secret: short}]"],
            "notifications.notifiers.0.secret",
            "at least 16 characters",
        ),
        (
            ["notifications.notifiers=[{type: mqtt, host: b, qos: 3}]"],
            "notifications.notifiers.0.qos",
            "Input should be 0, 1 or 2",
        ),
        (
            ["notifications.notifiers=[{type: mqtt, host: b, topic_prefix: 'a/#'}]"],
            "notifications.notifiers.0.topic_prefix",
            "should match pattern",
        ),
    ],
)
def test_a_bad_notifier_names_its_dotted_key(sets: list[str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(*sets)
    lines = [str(problem) for problem in caught.value.problems]
    assert any(line.startswith(f"{key}:") and fragment in line for line in lines), lines
    assert not any("short" in line for line in lines)  # a rejected secret is not echoed


def test_notifier_secrets_are_masked_in_the_public_descriptor() -> None:
    config = load(
        "notifications.notifiers=["
        f"{{type: webhook, url: 'https://h.example/x', secret: {SECRET}}},"
        f"{{type: mqtt, host: b, username: cam, password: {MQTT_PASSWORD}}}]"
    )
    shown = json.dumps(config.public_dump())
    assert SECRET not in shown and MQTT_PASSWORD not in shown
    webhook, mqtt = config.public_dump()["notifications"]["notifiers"]
    assert webhook["secret"] == mqtt["password"] == "**********"


class _Events:
    """Stands in for EventService: it answers the check from its dispatcher."""

    def __init__(self, dispatcher) -> None:
        self.dispatcher = dispatcher

    async def check_notifications(self):
        return self.dispatcher.check()


async def test_a_notifier_down_is_a_readiness_warning_and_counted_in_metrics(
    tmp_path: Path,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    hook = {"type": "webhook", "url": down, "secret": SECRET, "name": "crm"}
    config = load(f"pipelines.data_dir={tmp_path}", "health.checks=[notifications]")
    async with running_dispatcher(tmp_path / "events.db", notifications(hook)) as (
        dispatcher,
        db,
    ):
        await enqueue_all(dispatcher, db, revisions(2))
        await eventually(lambda: now(dispatcher.check()), lambda check: "2 queued" in check.detail)
        readiness = await HealthService(config, None, None, events=_Events(dispatcher)).readiness()
        registry = CollectorRegistry()
        registry.register(CallbackCollector(lambda: notifier_families(dispatcher.statuses())))
        text = generate_latest(registry).decode()
    [check] = readiness.checks
    assert readiness.ready is True  # a warning: the box stays in service
    assert (check.name, check.ok, check.required) == ("notifications", False, False)
    assert check.detail.startswith("crm down") and "All connection attempts failed" in check.detail
    assert 'coral_notifier_up{notifier="crm",type="webhook"} 0.0' in text
    assert 'coral_notifier_queued_messages{notifier="crm",type="webhook"} 2.0' in text
    assert 'coral_notifier_delivered_messages_total{notifier="crm",type="webhook"} 0.0' in text
    assert 'coral_notifier_failed_deliveries_total{notifier="crm",type="webhook"}' in text


async def test_readiness_without_an_event_service_passes_the_notifications_check(
    tmp_path: Path,
) -> None:
    config = load(f"pipelines.data_dir={tmp_path}", "health.checks=[notifications]")
    readiness = await HealthService(config, None, None).readiness()
    assert readiness.ready and readiness.checks[0].detail == "no event service"
