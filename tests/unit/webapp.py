"""Build the ingress with in-process services, as Serve would with handles."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from coral_serve.config import ConfigSources, CoralConfig, load_config
from coral_serve.engine.model_files import ModelFiles
from coral_serve.services.events import EventService
from coral_serve.services.health import HealthService
from coral_serve.services.monitor import MonitorService
from coral_serve.services.pipeline import PipelineService
from coral_serve.services.stream import StreamService
from coral_serve.streams.recordings import recording_settings
from coral_serve.web import Services, create_web_app
from coral_serve.workers.local import LocalWorkerPool
from tests.conftest import EXAMPLES_DIR, shared_dir


def make_config(tmp_path: Path, *sets: str) -> CoralConfig:
    """The dev defaults without the demo pipeline (tests count their pipelines), with the
    models of examples/ and ../shared as model roots, and without admission control (tests
    send bursts from one address; tests/unit/test_admission.py turns it on)."""
    models = f"pipelines.models.roots=[{EXAMPLES_DIR / 'models'},{shared_dir() / 'models'}]"
    admission = "http.admission.enabled=false"
    sets = (f"pipelines.data_dir={tmp_path}", "demo=none", models, admission, *sets)
    return load_config(ConfigSources(sets=list(sets), environ={}))


@asynccontextmanager
async def running_app(
    config: CoralConfig, extra: Sequence[object] = ()
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, object]]]:
    """Start every service in-process, serve the web app over ASGI, stop them after."""
    workers = LocalWorkerPool(
        recording_settings(
            config.streams.recordings, config.pipelines.data_dir, config.pipelines.downloads
        ),
        ModelFiles.allowed_by(config.pipelines.models, config.pipelines.data_dir),
        config.pipelines.isolation,
    )
    pipelines = PipelineService(config, workers)
    monitor = MonitorService(config, workers)
    streams = StreamService(config, workers, monitor)
    health = HealthService(config, pipelines, monitor)
    events = EventService(config, workers)
    started = [pipelines, monitor, streams, health, events, *extra]
    for service in started:
        await service.start()  # type: ignore[attr-defined]
    app = create_web_app(
        config,
        Services.wrap(
            pipelines=pipelines, streams=streams, monitor=monitor, health=health, events=events
        ),
    )
    transport = httpx.ASGITransport(app=app)
    services = {
        "pipelines": pipelines,
        "streams": streams,
        "monitor": monitor,
        "health": health,
        "events": events,
        "app": app,
    }
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://coral.test") as client:
            yield client, services
    finally:
        for service in reversed(started):
            await service.stop()  # type: ignore[attr-defined]
        # Workers outlive PipelineService by design (a redeploy adopts them); a test's don't.
        for pipeline_id in await workers.live():
            await workers.kill(pipeline_id)


@asynccontextmanager
async def served_on_loopback(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` on a real 127.0.0.1 port in this event loop; yields its base URL.

    What browsers, streaming clients and HTTP fuzzers need (the ASGI transport buffers
    whole bodies and cannot be reached from another process).
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
