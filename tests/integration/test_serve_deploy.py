"""`deploy serve-config` output deployed with Ray's own `serve deploy` on a `ray start` head:
the path an operator takes to run the graph on a Ray cluster they already manage."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import (
    free_port,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)

BIN = Path(sys.executable).parent
TITLE = "coral via serve deploy"


@pytest.fixture
def ray_environment() -> Iterator[dict[str, str]]:
    """Ray's token auth with a token of our own; a temp dir of our own, so this head's
    address file never makes a concurrent `ray.init()` on this machine join it."""
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as ray_tmp:
        yield {
            "RAY_TMPDIR": ray_tmp,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
        }


def cli(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def serve_cli(args: list[str], dashboard: str, env: dict[str, str], cwd: Path) -> str:
    """Run `serve ...` against the head, retrying while its dashboard is still starting."""
    deadline = time.monotonic() + 90
    while True:
        result = cli([str(BIN / "serve"), *args, "-a", dashboard], env, cwd)
        if result.returncode == 0:
            return result.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"serve {args} failed:\n{result.stdout}\n{result.stderr}")
        time.sleep(2)


def test_serve_config_output_deploys_with_serve_deploy(
    tmp_path: Path, ray_environment: dict[str, str]
) -> None:
    http_port = free_port()
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text(
        f"http:\n  port: {http_port}\npipelines:\n  data_dir: {tmp_path / 'data'}\n"
    )
    generated = cli(
        [
            str(BIN / "coral-runtime"),
            "deploy",
            "serve-config",
            "-c",
            str(descriptor),
            "--set",
            f"ui.branding.title={TITLE}",
            "-o",
            str(tmp_path / "serve.yaml"),
        ],
        {},
        tmp_path,
    )
    assert generated.returncode == 0, generated.stderr

    ports = {name: free_port() for name in ("gcs", "dashboard", "client", "agent", "grpc")}
    ports.update(runtime_env=free_port(), metrics=free_port())
    head = start(
        [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--disable-usage-stats",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            f"--port={ports['gcs']}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={ports['dashboard']}",
            f"--ray-client-server-port={ports['client']}",
            f"--dashboard-agent-listen-port={ports['agent']}",
            f"--dashboard-agent-grpc-port={ports['grpc']}",
            f"--runtime-env-agent-port={ports['runtime_env']}",
            f"--metrics-export-port={ports['metrics']}",
        ],
        cwd=tmp_path,
        env=ray_environment,
    )
    dashboard = f"http://127.0.0.1:{ports['dashboard']}"
    base = f"http://127.0.0.1:{http_port}"
    try:
        serve_cli(["deploy", str(tmp_path / "serve.yaml")], dashboard, ray_environment, tmp_path)
        ready = wait_ready(head, f"{base}/readyz", tmp_path)
        checks = {check["name"]: check for check in ready.json()["checks"]}
        # deploy=local: one ingress replica that runs every service itself.
        assert checks["deployments"]["detail"] == "1 healthy"
        # The builder read the descriptor file and the --set override given to serve-config.
        assert httpx.get(f"{base}/config.json").json()["title"] == TITLE
        assert (tmp_path / "data" / "coral.db").is_file()

        serve_cli(["shutdown", "-y"], dashboard, ray_environment, tmp_path)
        deadline = time.monotonic() + 60
        while _answers(f"{base}/healthz") and time.monotonic() < deadline:
            time.sleep(1)
        assert not _answers(f"{base}/healthz")
    finally:
        survivors = (
            terminate_and_collect_survivors(head, signal.SIGTERM) if head.poll() is None else []
        )
    assert survivors == []


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
