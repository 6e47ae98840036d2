"""Real receivers started by the tests on 127.0.0.1: a Mosquitto broker with a subscriber,
and an HTTP webhook receiver that checks signatures."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest
from aiohttp import web

from tests.integration.processes import free_port

START_TIMEOUT = 30.0


class Mosquitto:
    """A broker on a fixed loopback port that a test can stop and start again; its
    persistence keeps the subscriber's session and queued messages across a restart."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            pytest.skip(reason="mosquitto is not installed (make system-deps installs it)")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            # Run as root, the broker would switch to the `mosquitto` user, who cannot write
            # its persistence file here.
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {workdir}/\n"
            f"log_dest file {workdir}/mosquitto.log\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                assert self.process.poll() is None, self._log()
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break

    async def stop(self) -> None:
        """SIGTERM: the broker writes its persistence file and exits."""
        if self.process is not None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)
            self.process = None

    def _log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text()[-3000:] if path.exists() else "no log"


@dataclass
class Subscriber:
    """Subscribes to everything with a persistent session, reconnecting while the broker is
    down, and records what arrived."""

    port: int
    identifier: str = "test-subscriber"
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # perf_counter() of each message
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", self.port, identifier=self.identifier, clean_session=False
                ) as client:
                    await client.subscribe("#", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload
                        assert isinstance(payload, bytes)
                        async with self._arrived:
                            self.messages.append((str(message.topic), payload, message.retain))
                            self.arrivals.append(time.perf_counter())
                            self._arrived.notify_all()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.messages if t == topic]

    def event_keys(self, topic: str) -> list[str]:
        return [json.loads(p)["idempotency_key"] for p in self.on(topic)]

    async def wait_for(self, check: object, timeout: float = 60.0) -> None:
        """Until `check()` holds; the timeout only keeps a broken run from hanging."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(check)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def subscribed(port: int, identifier: str = "test-subscriber") -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(port, identifier)
    task = asyncio.create_task(subscriber.run())
    try:
        async with asyncio.timeout(START_TIMEOUT):
            await subscriber.subscribed.wait()
        yield subscriber
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Receiver:
    """Records every POST whose signature verifies; answers `fail_first` 500s first."""

    secret: str
    fail_first: int = 0
    url: str = ""
    accepted: list[tuple[str, dict]] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)  # first perf_counter() per key
    bad_signatures: int = 0
    answered_500: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        self.arrivals.setdefault(request.headers.get("Idempotency-Key", ""), time.perf_counter())
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Coral-Signature", ""), expected):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.answered_500 < self.fail_first:
            self.answered_500 += 1
            return web.Response(status=500)
        async with self._arrived:
            self.accepted.append((request.headers["Idempotency-Key"], json.loads(body)))
            self._arrived.notify_all()
        return web.Response(status=204)

    def keys(self) -> list[str]:
        return [key for key, _ in self.accepted]

    async def wait_for(self, check: object, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(check)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
