"""Start the control plane as a user would and check it leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil

STARTUP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = (cwd / "process.log").open("w")
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(process: subprocess.Popen, url: str, cwd: Path) -> httpx.Response:
    """Poll `url` until it answers 200; fail with the process log if it never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{read_log(cwd)}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready within {STARTUP_TIMEOUT}s:\n{read_log(cwd)}")


def read_log(cwd: Path) -> str:
    return (cwd / "process.log").read_text(errors="replace")[-6000:]


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def terminate_and_collect_survivors(
    process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60.0
) -> list[str]:
    """Signal the main process only (as Docker or systemd would) and list what outlives it."""
    tree = process_tree(process.pid)
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(tree, timeout=15)
    survivors = []
    for proc in alive:
        try:
            survivors.append(" ".join(proc.cmdline())[:120])
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return survivors
