"""MQTT against a real Mosquitto broker on 127.0.0.1 and a real subscriber."""

from __future__ import annotations

import json
from pathlib import Path

from coral_serve.notify.outbox import idempotency_key
from tests.unit.notify.helpers import (
    enqueue_all,
    notifications,
    now,
    revisions,
    running_dispatcher,
)
from tests.unit.notify.servers import Mosquitto, subscribed
from tests.unit.waiting import eventually


def mqtt(broker: Mosquitto, **settings: object) -> dict:
    return {"type": "mqtt", "host": "127.0.0.1", "port": broker.port, **settings}


async def test_events_counts_and_home_assistant_discovery_reach_a_subscriber(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    await broker.start()
    events = revisions(3, zones=("dock",))
    try:
        async with subscribed(broker.port) as live:
            config = notifications(mqtt(broker, topic_prefix="site", node_id="box1"))
            async with running_dispatcher(tmp_path / "events.db", config) as (dispatcher, db):
                await enqueue_all(dispatcher, db, events)
                await dispatcher.zone_counts("dock-cam", {"dock": {"person": 2}})
                await live.wait_for(lambda: len(live.on("site/dock-cam/events")) == 3)
                await live.wait_for(lambda: live.on("site/dock-cam/dock/person")[-1:] == [b"2"])
                await dispatcher.zone_counts("dock-cam", {"dock": {}})  # the person left
                await live.wait_for(lambda: live.on("site/dock-cam/dock/person")[-1:] == [b"0"])
                async with subscribed(broker.port, "late-subscriber") as late:
                    await late.wait_for(
                        lambda: (
                            {t for t, _, retained in late.messages if retained}
                            >= {
                                "homeassistant/sensor/box1/dock-cam_dock_person_count/config",
                                "homeassistant/binary_sensor/box1/dock-cam_dock_person_occupancy/config",
                                "site/box1/status",
                                "site/dock-cam/dock/person",
                            }
                        )
                    )
            await live.wait_for(lambda: live.on("site/box1/status")[-1:] == [b"offline"])
    finally:
        await broker.stop()
    bodies = [json.loads(p) for p in live.on("site/dock-cam/events")]
    assert [b["idempotency_key"] for b in bodies] == [idempotency_key(e) for e in events]
    assert [b["event"] for b in bodies] == [e.model_dump(mode="json") for e in events]
    [occupancy] = late.on("homeassistant/binary_sensor/box1/dock-cam_dock_person_occupancy/config")
    sensor = json.loads(occupancy)
    assert sensor["device_class"] == "occupancy"
    assert sensor["state_topic"] == "site/dock-cam/dock/person"
    assert sensor["availability_topic"] == "site/box1/status"
    assert sensor["device"]["identifiers"] == ["box1_dock-cam"]
    [count] = late.on("homeassistant/sensor/box1/dock-cam_dock_person_count/config")
    assert json.loads(count)["unique_id"] == "box1_dock-cam_dock_person_count"
    assert late.on("site/box1/status") == [b"online"]


async def test_a_broker_stopped_and_restarted_gets_every_event_none_twice(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    await broker.start()
    before, during = revisions(2), revisions(4, label="car")
    try:
        async with subscribed(broker.port) as live:
            config = notifications(mqtt(broker))
            async with running_dispatcher(tmp_path / "events.db", config) as (dispatcher, db):
                await enqueue_all(dispatcher, db, before)
                await live.wait_for(lambda: len(live.on("coral/dock-cam/events")) == 2)
                await broker.stop()
                await enqueue_all(dispatcher, db, during)
                down = await eventually(
                    lambda: now(dispatcher.statuses()[0]),
                    lambda status: not status.up and status.queued == 4,
                )
                warning = dispatcher.check()
                await broker.start()
                await live.wait_for(lambda: len(set(live.event_keys("coral/dock-cam/events"))) == 6)
    finally:
        await broker.stop()
    keys = live.event_keys("coral/dock-cam/events")
    assert list(dict.fromkeys(keys)) == [idempotency_key(e) for e in before + during]
    assert down.failed >= 1 and "cannot connect" in (down.last_error or "")
    assert not warning.ok and warning.detail.startswith("mqtt down")
