"""Benchmark: what monitoring costs a pipeline, and how fast /metrics answers.

    .venv/bin/python bench/monitor.py [--quick] [--window SECONDS] [--rounds N]

1. Pipeline fps with monitoring off and on: two unpaced passthrough pipelines on
   media/vtest-10s.mp4 (looping, as fast as the CPU allows) run in this process, and
   MonitorService polls them (at the default 2 s and at an aggressive 0.1 s) with the
   prometheus sink, a stdout sink writing to /dev/null and a scrape every second. Everything
   shares this process's GIL, so this is the worst case: in production the pipelines are
   separate Ray actors and only the status() call crosses over. Rounds alternate off/on.
2. GET /metrics latency through the real FastAPI app (ASGI, in-process) with 20 pipelines'
   worth of series and 75 HTTP route/status series.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CORAL_SHARED_DIR", ROOT.parent / "shared"))
VIDEO = SHARED / "media" / "vtest-10s.mp4"

from coral_serve.config import ConfigSources, CoralConfig, load_config  # noqa: E402
from coral_serve.schema.spec import PipelineSpec  # noqa: E402
from coral_serve.services.monitor import MonitorService  # noqa: E402
from coral_serve.sinks.stdout import StdoutSink  # noqa: E402
from coral_serve.workers.local import LocalWorkerPool  # noqa: E402
from coral_serve.workers.pool import WorkerGone  # noqa: E402

PIPELINES = 2
SERIES_PIPELINES = 20


def _config(data_dir: str, *sets: str) -> CoralConfig:
    base = [f"pipelines.data_dir={data_dir}", "monitoring=prometheus"]
    return load_config(ConfigSources(sets=[*base, *sets], environ={}))


async def _processed(pool: LocalWorkerPool, ids: list[str]) -> int:
    statuses = await asyncio.gather(*(pool.call(pid, "status") for pid in ids))
    return sum(status["counters"]["frames_processed"] for status in statuses)


async def _scrape_forever(monitor: MonitorService) -> None:
    while True:
        await monitor.metrics_text()
        await asyncio.sleep(1.0)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@asynccontextmanager
async def _monitored(config: CoralConfig | None, pool: LocalWorkerPool) -> AsyncIterator[None]:
    """MonitorService polling `pool`, with a scrape every second; nothing when `config` is
    None."""
    if config is None:
        yield
        return
    with open(os.devnull, "w") as devnull:
        monitor = MonitorService(config, pool, {"stdout": StdoutSink(devnull)})
        await monitor.start()
        scraper = asyncio.create_task(_scrape_forever(monitor))
        try:
            yield
        finally:
            scraper.cancel()
            await monitor.stop()


async def _round(
    pool: LocalWorkerPool, ids: list[str], config: CoralConfig | None, window: float
) -> tuple[float, float]:
    """(frames per second of all pipelines together, CPU ms per frame) over `window`,
    monitored or not. CPU per frame is the steadier figure on a machine shared with others."""
    async with _monitored(config, pool):
        await asyncio.sleep(1.0)  # let the monitor's first rounds settle
        before, started, cpu = await _processed(pool, ids), time.perf_counter(), _cpu_seconds()
        await asyncio.sleep(window)
        after, ended, cpu = await _processed(pool, ids), time.perf_counter(), _cpu_seconds() - cpu
    frames = after - before
    return frames / (ended - started), 1000 * cpu / frames


async def fps_overhead(window: float, rounds: int) -> dict[str, Any]:
    if not VIDEO.is_file():
        raise SystemExit(f"{VIDEO} is missing")
    data_dir = tempfile.mkdtemp(prefix="coral-bench-")
    pool = LocalWorkerPool()
    ids = [f"bench-{n}" for n in range(PIPELINES)]
    for pid in ids:
        spec = PipelineSpec.model_validate(
            {
                "name": pid,
                "source": {"uri": str(VIDEO), "loop": True, "pacing": "unpaced"},
                "model": {"backend": "none"},
            }
        )
        await pool.start(pid, spec, 1)
    await asyncio.sleep(2.0)  # sources open, first frames through
    modes: dict[str, CoralConfig | None] = {
        "off": None,
        "on (poll 2 s)": _config(data_dir),
        "on (poll 0.1 s)": _config(
            data_dir, "monitoring.poll_interval=0.1", "monitoring.flush_interval=1"
        ),
    }
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    try:
        for _ in range(rounds):
            for mode, config in modes.items():
                results[mode].append(await _round(pool, ids, config, window))
    finally:
        for pid in ids:
            await pool.kill(pid)
    fps = {mode: [r[0] for r in rounds_] for mode, rounds_ in results.items()}
    cpu = {mode: [r[1] for r in rounds_] for mode, rounds_ in results.items()}
    fps_off, cpu_off = statistics.median(fps["off"]), statistics.median(cpu["off"])
    return {
        mode: {
            "fps_median": round(statistics.median(fps[mode]), 1),
            "fps_rounds": [round(v, 1) for v in fps[mode]],
            "fps_ratio_to_off": round(statistics.median(fps[mode]) / fps_off, 3),
            "cpu_ms_per_frame_median": round(statistics.median(cpu[mode]), 3),
            "cpu_ratio_to_off": round(statistics.median(cpu[mode]) / cpu_off, 3),
        }
        for mode in results
    }


class _SyntheticWorkers:
    """Twenty running pipelines whose counters advance on every status call."""

    def __init__(self, count: int) -> None:
        self._frames = {f"pipeline-{n:02d}": 0 for n in range(count)}

    async def live(self) -> set[str]:
        return set(self._frames)

    async def call(self, pipeline_id: str, method: str, *args: Any, timeout: float = 10.0) -> Any:
        if pipeline_id not in self._frames:
            raise WorkerGone(pipeline_id)
        self._frames[pipeline_id] += 25
        latency = {"last": 0.011, "mean": 0.012, "p95": 0.02}
        return {
            "name": f"camera {pipeline_id}",
            "state": "running",
            "fps": 25.0,
            "counters": {
                "frames_read": self._frames[pipeline_id],
                "frames_processed": self._frames[pipeline_id],
                "frames_dropped": 3,
                "reconnects": 1,
            },
            "latency": {"inference": latency, "end_to_end": latency},
        }


async def metrics_latency(requests: int) -> dict[str, Any]:
    import httpx

    from coral_serve.monitoring.http_stats import HttpStats
    from coral_serve.web import Services, create_web_app

    config = _config(
        tempfile.mkdtemp(prefix="coral-bench-"),
        "monitoring.poll_interval=0.05",
        "monitoring.flush_interval=0.1",
    )
    monitor = MonitorService(config, _SyntheticWorkers(SERIES_PIPELINES))  # type: ignore[arg-type]
    await monitor.start()
    http = HttpStats()
    for route in range(25):
        for status in (200, 404, 500):
            http.observe("GET", f"/api/v1/route-{route}/{{id}}", status, 0.003 * route)
    await monitor.report_http("bench", 1, http)
    await asyncio.sleep(1.0)  # polls and flushes fill the series
    app = create_web_app(
        config, Services.wrap(pipelines=None, streams=None, monitor=monitor, health=None)
    )
    transport = httpx.ASGITransport(app=app)
    timings: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get("/metrics")
            timings.append(time.perf_counter() - started)
            response.raise_for_status()
    text = response.text
    direct = []
    for _ in range(requests):
        started = time.perf_counter()
        await monitor.metrics_text()
        direct.append(time.perf_counter() - started)
    await monitor.stop()
    timings.sort()
    return {
        "pipelines": SERIES_PIPELINES,
        "samples": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "bytes": len(text),
        "requests": requests,
        "http_ms_p50": round(1000 * timings[len(timings) // 2], 2),
        "http_ms_p95": round(1000 * timings[int(len(timings) * 0.95)], 2),
        "http_ms_max": round(1000 * timings[-1], 2),
        "exposition_only_ms_median": round(1000 * statistics.median(direct), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 4 s, 100 requests")
    parser.add_argument("--window", type=float, default=8.0, help="seconds per fps round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode")
    args = parser.parse_args()
    window, rounds, requests = (4.0, 1, 100) if args.quick else (args.window, args.rounds, 300)
    figures = {
        "cpu_count": os.cpu_count(),
        "fps_overhead": asyncio.run(fps_overhead(window, rounds)),
        "metrics_latency": asyncio.run(metrics_latency(requests)),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
