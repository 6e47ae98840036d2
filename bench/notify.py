"""Benchmark: object event → MQTT message and → webhook, from enqueue to receipt.

    .venv/bin/python bench/notify.py [--events N] [--rate PER_SECOND]

Starts a real Mosquitto broker and a real HTTP receiver on 127.0.0.1, a Dispatcher with one
MQTT and one webhook notifier over a real SQLite store, then enqueues N revisions (default
200) at RATE per second (default 20) the way the event service does (in a transaction,
then a wake-up). Each receiver stamps the arrival of each idempotency key; prints p50/p95/
max latency per notifier in milliseconds, as JSON. Goal: p95 < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coral_serve.notify.outbox import idempotency_key  # noqa: E402
from tests.unit.notify.helpers import (  # noqa: E402
    SECRET,
    notifications,
    revisions,
    running_dispatcher,
)
from tests.unit.notify.servers import Mosquitto, Receiver, receiving, subscribed  # noqa: E402

TOPIC = "coral/dock-cam/events"


def _summary(sent: dict[str, float], arrived: dict[str, float]) -> dict[str, float]:
    latencies = sorted((arrived[key] - sent[key]) * 1000 for key in sent if key in arrived)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "received": len(latencies),
        "p50_ms": round(quantiles[49], 2),
        "p95_ms": round(quantiles[94], 2),
        "max_ms": round(latencies[-1], 2),
    }


async def main(count: int, rate: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir / "broker")
        await broker.start()
        try:
            async with receiving(Receiver(SECRET)) as receiver, subscribed(broker.port) as live:
                config = notifications(
                    {"type": "mqtt", "host": "127.0.0.1", "port": broker.port},
                    {"type": "webhook", "url": receiver.url, "secret": SECRET},
                )
                sent: dict[str, float] = {}
                async with running_dispatcher(workdir / "events.db", config) as (dispatcher, db):
                    outbox = dispatcher.outbox(db)
                    for _ in range(count):
                        [event] = revisions(1)
                        sent[idempotency_key(event)] = time.perf_counter()
                        await db.execute("BEGIN IMMEDIATE")
                        await outbox.enqueue(event, commit=False)
                        await db.execute("COMMIT")
                        outbox.wake()
                        await asyncio.sleep(1 / rate)
                    await receiver.wait_for(lambda: len(receiver.accepted) == count)
                    await live.wait_for(lambda: len(live.on(TOPIC)) >= count)
                published: dict[str, float] = {}
                for (topic, payload, _), at in zip(live.messages, live.arrivals, strict=True):
                    if topic == TOPIC:
                        published.setdefault(json.loads(payload)["idempotency_key"], at)
                return {
                    "events": count,
                    "rate_per_second": rate,
                    "mqtt": _summary(sent, published),
                    "webhook": _summary(sent, receiver.arrivals),
                }
        finally:
            await broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.events, args.rate)), indent=2))
