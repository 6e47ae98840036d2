"""The ingress replica's own HTTP listener (`http.listener=ingress`): uvicorn on the
replica's event loop, serving the web app with no Serve proxy in front of it.

On one box the proxy is a hop that costs more than most requests: a `/healthz` through it
took ~6x the CPU of one answered by the replica itself. The replica listens on
`http.host:http.port`, the same port after every restart of it, with `SO_REUSEPORT`, so a
replacement replica binds while the one it replaces still drains its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["IngressListener", "ListenError", "check_unused"]

log = logging.getLogger(__name__)

_KEEP_ALIVE_SECONDS = 90
"""As Serve's proxy: longer than the idle timeout of common load balancers (60 s), so they,
not this server, close an idle connection."""
_DRAIN_SECONDS = 5.0
"""How long a stopping replica lets open requests and streams finish."""


class ListenError(RuntimeError):
    """The address cannot be bound (taken by another program, or not this host's)."""


class _ReplicaServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process is a Ray worker, and its signals
    are Ray's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class IngressListener:
    """One address, bound at construction (so a taken port fails a replica before it starts
    anything), serving an ASGI app from `start` until `close`."""

    def __init__(self, host: str, port: int) -> None:
        self._socket = _bind(host, port)
        self.address = f"{host}:{port}"
        self._server: _ReplicaServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, app: Any) -> None:
        """Serve `app`; returns once connections are accepted."""
        self._server = _ReplicaServer(
            uvicorn.Config(
                app,
                lifespan="off",  # Serve runs the app's lifespan for its ingress replica
                access_log=False,
                log_config=None,
                proxy_headers=False,  # a client's address is its own: admission counts by it
                server_header=False,
                timeout_keep_alive=_KEEP_ALIVE_SECONDS,
                timeout_graceful_shutdown=_DRAIN_SECONDS,
            )
        )
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._socket]), name="coral-ingress-listener"
        )
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise ListenError(f"the listener on {self.address} stopped while starting")
            await asyncio.sleep(0.01)
        log.info("the ingress replica listens on %s", self.address)

    async def close(self) -> None:
        """Stop accepting, let open requests finish for a few seconds, then close them."""
        if self._server is None or self._task is None:
            self._socket.close()
            return
        self._server.should_exit = True
        await self._task


def check_unused(host: str, port: int) -> None:
    """Raise ListenError when anything listens on the address, another control plane's
    replica included: it shares a port with `SO_REUSEPORT`, which this probe does not set,
    so a second `python -m coral_serve` on the same port is refused, not load-balanced."""
    _bind(host, port, share=False).close()


def _bind(host: str, port: int, share: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"cannot listen on {host}:{port} (http.host, http.port): {exc.strerror}"
        ) from exc
    return sock
