"""A control plane started with `python -m coral_serve` for the length of a test."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx

from tests.integration.processes import (
    free_port,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)


def wait_until(
    probe: Callable[[], Any], condition: Callable[[Any], bool], timeout: float = 60.0
) -> Any:
    """Poll `probe()` every half second until `condition` holds; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not condition(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s; last: {value!r}")
        time.sleep(0.5)
        value = probe()
    return value


@dataclass
class Server:
    process: Popen
    url: str
    client: httpx.Client


@contextmanager
def control_plane(
    workdir: Path, overrides: Sequence[str], port: int | None = None
) -> Iterator[Server]:
    """Start, wait for /readyz, yield, then SIGTERM (unless the test already killed it)."""
    port = port or free_port()
    process = start(
        [sys.executable, "-m", "coral_serve", f"http.port={port}", *overrides], cwd=workdir
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{url}/readyz", workdir)
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Server(process, url, client)
    finally:
        if process.poll() is None:
            terminate_and_collect_survivors(process, signal.SIGTERM)
