"""Benchmark: the Events page's list with many stored object events.

    .venv/bin/python bench/events.py [--events N] [--requests N]

Stores N object events (default 10,000: 4 pipelines, 3 labels, half of them in one of
2 zones) in a real EventService store, then times GET /api/v1/events through the real
FastAPI app (ASGI, in-process) for the queries the page makes: the first page, a page
filtered by pipeline, by label, by zone, and the page after a cursor. Prints p50/p95 per
query and overall, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coral_serve.config import ConfigSources, load_config  # noqa: E402
from coral_serve.schema.events import EventPhase, ObjectEvent  # noqa: E402
from coral_serve.services.events import EventService  # noqa: E402
from coral_serve.web import Services, create_web_app  # noqa: E402
from coral_serve.workers.local import LocalWorkerPool  # noqa: E402

LABELS = ("person", "car", "bicycle")
PIPELINES = [f"cam-{n}" for n in range(4)]


def _event(index: int, now: float) -> ObjectEvent:
    zone = [f"zone-{index % 2}"] if index % 4 < 2 else []
    return ObjectEvent(
        id=uuid.uuid4().hex,
        pipeline_id=PIPELINES[index % len(PIPELINES)],
        track_id=index,
        label=LABELS[index % len(LABELS)],
        phase=EventPhase.end,
        revision=1,
        start=now - index * 7.0,
        end=now - index * 7.0 + 5,
        best_score=0.8,
        best_frame_id=index,
        zones=zone,
        box=[10.0, 20.0, 110.0, 220.0],
        has_snapshot=True,
    )


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


async def main(events: int, requests: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data_dir:
        config = load_config(
            ConfigSources(
                sets=[
                    f"pipelines.data_dir={data_dir}",
                    "demo=none",
                    "http.admission.enabled=false",
                ],
                environ={},
            )
        )
        service = EventService(config, LocalWorkerPool())
        await service.open()
        now = time.time()
        batch = [_event(i, now) for i in range(events)]
        began = time.perf_counter()
        for first in range(0, events, 500):
            await service.store.store("bench", 1, batch[first : first + 500])
        store_seconds = time.perf_counter() - began
        app = create_web_app(
            config,
            Services.wrap(pipelines=None, streams=None, monitor=None, health=None, events=service),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            first_page = (await client.get("/api/v1/events", params={"limit": 25})).json()
            queries = {
                "newest": {},
                "pipeline": {"pipeline_id": "cam-2"},
                "label": {"label": "bicycle"},
                "zone": {"zone": "zone-1"},
                "next_page": {"cursor": first_page["next_cursor"]},
            }
            timings: dict[str, list[float]] = {name: [] for name in queries}
            for round_ in range(requests):
                for name, params in queries.items():
                    started = time.perf_counter()
                    answer = await client.get("/api/v1/events", params={"limit": 25, **params})
                    timings[name].append(time.perf_counter() - started)
                    assert answer.status_code == 200 and len(answer.json()["events"]) == 25, (
                        name,
                        round_,
                        answer.text[:200],
                    )
        await service.stop()
    every = [t for samples in timings.values() for t in samples]
    return {
        "stored_events": events,
        "store_events_per_second": round(events / store_seconds),
        "list_ms": {name: {"p50": _p(s, 0.5), "p95": _p(s, 0.95)} for name, s in timings.items()},
        "overall_ms": {
            "p50": _p(every, 0.5),
            "p95": _p(every, 0.95),
            "mean": round(statistics.mean(every) * 1000, 2),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100, help="Requests per query kind.")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.events, args.requests)), indent=2))
