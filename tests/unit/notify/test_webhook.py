"""Webhooks against a real HTTP receiver on 127.0.0.1 that verifies every signature."""

from __future__ import annotations

import json
from pathlib import Path

from coral_serve.config.pipelines import OutboundPolicy
from coral_serve.notify.outbox import idempotency_key
from coral_serve.services.outbound import check_outbound
from tests.integration.processes import free_port
from tests.unit.notify.helpers import (
    SECRET,
    enqueue_all,
    notifications,
    now,
    revisions,
    running_dispatcher,
)
from tests.unit.notify.servers import Receiver, receiving
from tests.unit.waiting import eventually


def webhook(url: str, **settings: object) -> dict:
    return {"type": "webhook", "url": url, "secret": SECRET, **settings}


async def test_a_receiver_answering_500_then_200_gets_every_event_signed_in_order(
    tmp_path: Path,
) -> None:
    events = revisions(4)
    async with (
        receiving(Receiver(SECRET, fail_first=3)) as receiver,
        running_dispatcher(tmp_path / "events.db", notifications(webhook(receiver.url))) as (
            dispatcher,
            db,
        ),
    ):
        await enqueue_all(dispatcher, db, events)
        await receiver.wait_for(lambda: len(receiver.accepted) == len(events))
        status = await eventually(
            lambda: now(dispatcher.statuses()[0]), lambda status: status.queued == 0
        )
    assert receiver.keys() == [idempotency_key(e) for e in events]
    assert [body["event"] for _, body in receiver.accepted] == [
        e.model_dump(mode="json") for e in events
    ]
    assert receiver.bad_signatures == 0 and receiver.answered_500 == 3
    assert (status.delivered, status.failed, status.queued, status.up) == (4, 3, 0, True)


async def test_a_dispatcher_restarted_mid_backlog_delivers_everything_after(
    tmp_path: Path,
) -> None:
    store = tmp_path / "events.db"
    events = revisions(3) + revisions(2, label="car")
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    async with running_dispatcher(store, notifications(webhook(down, name="hook"))) as (
        dispatcher,
        db,
    ):
        await enqueue_all(dispatcher, db, events)
        check = await eventually(
            lambda: now(dispatcher.check()), lambda result: "5 queued" in result.detail
        )
    assert not check.ok and check.detail.startswith("hook down")
    async with (
        receiving(Receiver(SECRET)) as receiver,
        running_dispatcher(store, notifications(webhook(receiver.url, name="hook"))),
    ):
        await receiver.wait_for(lambda: len(receiver.accepted) == len(events))
    assert receiver.keys() == [idempotency_key(e) for e in events]


async def test_filters_send_each_receiver_only_its_pipelines_classes_and_zones(
    tmp_path: Path,
) -> None:
    people = revisions(2, label="person", zones=("dock",))
    cars = revisions(2, label="car", zones=("gate",))
    elsewhere = revisions(2, pipeline_id="yard", label="person")
    async with (
        receiving(Receiver(SECRET)) as by_label,
        receiving(Receiver(SECRET)) as by_zone,
        receiving(Receiver(SECRET)) as by_pipeline,
    ):
        config = notifications(
            webhook(by_label.url, labels=["car"]),
            webhook(by_zone.url, zones=["dock"]),
            webhook(by_pipeline.url, pipelines=["yard"]),
        )
        async with running_dispatcher(tmp_path / "events.db", config) as (dispatcher, db):
            await enqueue_all(dispatcher, db, people + cars + elsewhere)
            for receiver in (by_label, by_zone, by_pipeline):
                await receiver.wait_for(lambda r=receiver: len(r.accepted) == 2)
            names = [s.name for s in dispatcher.statuses()]
    assert by_label.keys() == [idempotency_key(e) for e in cars]
    assert by_zone.keys() == [idempotency_key(e) for e in people]
    assert by_pipeline.keys() == [idempotency_key(e) for e in elsewhere]
    assert names == ["webhook", "webhook-2", "webhook-3"]


async def test_the_outbound_policy_holds_back_a_loopback_receiver_and_says_why(
    tmp_path: Path,
) -> None:
    def refuse_loopback(url: str):
        return check_outbound(url, OutboundPolicy())

    async with (
        receiving(Receiver(SECRET)) as receiver,
        running_dispatcher(
            tmp_path / "events.db", notifications(webhook(receiver.url)), refuse_loopback
        ) as (dispatcher, db),
    ):
        await enqueue_all(dispatcher, db, revisions(1))
        check = await eventually(lambda: now(dispatcher.check()), lambda r: not r.ok)
    assert "pipelines.outbound.allow_loopback" in check.detail
    assert receiver.accepted == []


async def test_a_full_outbox_drops_the_oldest_counts_them_and_delivers_the_rest(
    tmp_path: Path,
) -> None:
    events = revisions(15)
    async with receiving(Receiver(SECRET, fail_first=10**6)) as receiver:
        config = notifications(webhook(receiver.url), outbox_max_messages=10)
        async with running_dispatcher(tmp_path / "events.db", config) as (dispatcher, db):
            await enqueue_all(dispatcher, db, events)
            await eventually(
                lambda: now(dispatcher.statuses()[0]), lambda status: status.dropped == 5
            )
            receiver.fail_first = 0
            await receiver.wait_for(lambda: len(receiver.accepted) == 10)
    assert receiver.keys() == [idempotency_key(e) for e in events[5:]]


async def test_an_event_whose_transaction_rolls_back_is_never_sent(tmp_path: Path) -> None:
    rolled_back, committed = revisions(1), revisions(1)
    async with (
        receiving(Receiver(SECRET)) as receiver,
        running_dispatcher(tmp_path / "events.db", notifications(webhook(receiver.url))) as (
            dispatcher,
            db,
        ),
    ):
        outbox = dispatcher.outbox(db)
        await db.execute("BEGIN IMMEDIATE")
        await outbox.enqueue(rolled_back[0], commit=False)
        await db.execute("ROLLBACK")
        await db.execute("BEGIN IMMEDIATE")
        await outbox.enqueue(committed[0], commit=False)
        await outbox.enqueue(committed[0], commit=False)  # a revision read twice
        await db.execute("COMMIT")
        outbox.wake()
        await receiver.wait_for(lambda: len(receiver.accepted) == 1)
    assert receiver.keys() == [idempotency_key(committed[0])]
    assert json.loads(json.dumps(receiver.accepted[0][1]))["idempotency_key"] == receiver.keys()[0]
