"""What the dashboard's browser tests share: screenshots kept as artifacts, a page that
records every console error, and an ingress whose port can be closed and opened again."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from playwright.async_api import BrowserContext, Page

from tests.conftest import REPO_ROOT

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "dashboard"


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def watched_page(browser: BrowserContext) -> tuple[Page, list[str]]:
    """A new page and the list its console errors and uncaught exceptions go into."""
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return page, errors


class ReopenableServer:
    """The app on one loopback port that `stop` closes (connections too) and `start` opens."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        # "critical": cutting the open push streams at `stop` is the point, not an error.
        config = uvicorn.Config(
            self.app, log_level="critical", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True  # open streams are cut after a second
            await self._task
            self._server = self._task = None


@asynccontextmanager
async def reopenable(app: FastAPI) -> AsyncIterator[ReopenableServer]:
    server = ReopenableServer(app)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
