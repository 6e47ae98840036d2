"""The ingress replica's own listener (`http.listener=ingress`), on real sockets."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from fastapi import FastAPI, Request

from coral_serve.serving.listener import IngressListener, ListenError, check_unused
from tests.integration.processes import free_port


def _app(name: str) -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        assert request.client is not None
        return {"server": name, "client": request.client.host}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.5)
        return {"server": name}

    return app


async def _listening(name: str, port: int) -> IngressListener:
    listener = IngressListener("127.0.0.1", port)
    await listener.start(_app(name))
    return listener


async def test_a_client_is_known_by_its_own_address_not_by_a_header_it_sends() -> None:
    port = free_port()
    listener = await _listening("a", port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answer = await client.get("/who", headers={"X-Forwarded-For": "10.9.8.7"})
        assert answer.status_code == 200
        # Admission counts requests by this address: a made-up header must not change it.
        assert answer.json() == {"server": "a", "client": "127.0.0.1"}
        assert "server" not in answer.headers
    finally:
        await listener.close()


async def test_a_port_another_program_holds_fails_before_anything_starts() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(ListenError, match=rf"127.0.0.1:{port} \(http.host, http.port\)"):
            IngressListener("127.0.0.1", port)


async def test_a_second_control_plane_is_refused_the_port_a_replica_shares() -> None:
    """The replica's socket admits its own replacement, not another runner's start-up check."""
    port = free_port()
    listener = await _listening("first", port)
    try:
        with pytest.raises(ListenError, match="Address already in use"):
            check_unused("127.0.0.1", port)
    finally:
        await listener.close()
    check_unused("127.0.0.1", port)


async def test_a_replacement_binds_while_its_predecessor_drains_and_then_serves_alone() -> None:
    port = free_port()
    old = await _listening("old", port)
    new = await _listening("new", port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        in_flight = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.1)
        closing = asyncio.create_task(old.close())
        answers = {(await client.get("/who")).json()["server"] for _ in range(20)}
        slow = await in_flight
        await closing
    try:
        assert slow.status_code == 200  # a request open when its replica stopped finished
        assert answers <= {"old", "new"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            after = {(await client.get("/who")).json()["server"] for _ in range(20)}
        assert after == {"new"}
    finally:
        await new.close()


async def test_a_closed_listener_frees_its_port() -> None:
    port = free_port()
    listener = await _listening("a", port)
    await listener.close()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/who")
    with socket.socket() as again:  # no SO_REUSEPORT: only a port nobody holds binds
        again.bind(("127.0.0.1", port))


async def test_a_listener_closed_before_it_served_releases_its_port() -> None:
    port = free_port()
    await IngressListener("127.0.0.1", port).close()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
