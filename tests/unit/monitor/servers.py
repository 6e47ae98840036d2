"""VictoriaMetrics and Prometheus started by a test on 127.0.0.1, with temp dirs, and stopped."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import free_port

START_TIMEOUT = 30.0


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(reason=f"{name} is not installed (make system-deps installs it)")
    return path


@contextmanager
def _server(command: list[str], health_url: str, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command[0]} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def victoria_metrics(workdir: Path, port: int | None = None) -> Iterator[str]:
    """Yields the base URL; it accepts InfluxDB v2 writes at /api/v2/write."""
    port = port or free_port()
    data = workdir / f"victoria-{port}"
    command = [
        _binary("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={data}",
        "-search.latencyOffset=0s",
    ]
    url = f"http://127.0.0.1:{port}"
    with _server(command, f"{url}/health", workdir / f"victoria-{port}.log"):
        yield url


def exported(url: str, metric: str) -> list[dict]:
    """Every series of `metric` VictoriaMetrics holds, as /api/v1/export lines."""
    # Recent rows become searchable within seconds; this makes it immediate.
    httpx.get(f"{url}/internal/force_flush", timeout=10).raise_for_status()
    response = httpx.get(f"{url}/api/v1/export", params={"match[]": metric}, timeout=10)
    response.raise_for_status()
    return [httpx.Response(200, content=line).json() for line in response.text.splitlines()]


@contextmanager
def prometheus(workdir: Path, target: str, interval: float = 1.0) -> Iterator[str]:
    """Prometheus scraping `target` (host:port) every `interval` seconds; yields its URL."""
    port = free_port()
    config = workdir / "prometheus.yml"
    every = f"{round(interval * 1000)}ms"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {every}\n"
        f"  scrape_timeout: {every}\n"
        "scrape_configs:\n"
        "  - job_name: coral\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    command = [
        _binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    with _server(command, f"{url}/-/ready", workdir / "prometheus.log"):
        yield url


def query(url: str, expression: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]
