"""The real graph on a real Ray: `python -m coral_serve` and `serve run coral_serve:app`."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.integration.processes import (
    free_port,
    process_tree,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)
from tests.integration.server import wait_until

BIN = Path(sys.executable).parent


def _processes(root: int, prefix: str | tuple[str, ...]) -> list[psutil.Process]:
    found = []
    for proc in process_tree(root):
        with contextlib.suppress(psutil.NoSuchProcess):
            if proc.name().startswith(prefix) or " ".join(proc.cmdline()).startswith(prefix):
                found.append(proc)
    return found


def _niceness(root: int) -> dict[str, set[int]]:
    """The niceness of each Serve replica and each process pipelines run in (a host, in the
    default `shared` isolation)."""
    seen: dict[str, set[int]] = {}
    workers = ("ray::PipelineWorker", "ray::PipelineHost")
    for role, prefix in (("replica", "ray::ServeReplica"), ("worker", workers)):
        for proc in _processes(root, prefix):
            seen.setdefault(role, set()).add(proc.nice())
    return seen


def _start_runner(tmp_path: Path, port: int, *overrides: str) -> subprocess.Popen:
    """`python -m coral_serve` on `port`, its store under `tmp_path`."""
    command = [sys.executable, "-m", "coral_serve", *overrides, f"http.port={port}"]
    return start([*command, f"pipelines.data_dir={tmp_path / 'data'}"], cwd=tmp_path)


def test_python_m_coral_serve_serves_and_shuts_down_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = _start_runner(
        tmp_path,
        port,
        "streams.webrtc=stun",
        # The cameras first: Ray starts both at 15; the replicas go to 18, the worker (of
        # the demo pipeline) to 17.
        "demo=vtest",
        "runtime.control_plane_nice=18",
        "runtime.worker_nice=17",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(process, f"{base}/readyz", tmp_path)
        checks = {check["name"]: check for check in ready.json()["checks"]}
        assert checks["store"]["ok"] and checks["deployments"]["ok"]
        # On one box the ingress replica runs every service itself.
        assert checks["deployments"]["detail"] == "1 healthy"
        replicas = {p.cmdline()[0] for p in _processes(process.pid, "ray::ServeReplica")}
        assert {name.split(":")[-1].split(".")[0] for name in replicas} == {"Ingress"}

        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        config = httpx.get(f"{base}/config.json").json()
        assert config["name"] == "coral_serve" and config["webrtc_enabled"] is True
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "coral_serve" in page.text
        assert httpx.get(f"{base}/nope").json()["error"] == "not_found"

        # A host process is listed from its creation; it sets its niceness as it starts.
        niceness = wait_until(
            lambda: _niceness(process.pid), lambda seen: seen.get("worker") == {17}
        )
        assert niceness == {"replica": {18}, "worker": {17}}
        (replica, *_) = _processes(process.pid, "ray::ServeReplica")
        assert replica.environ()["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
        assert replica.environ()["RAY_SERVE_ENABLE_HA_PROXY"] == "0"
        # No idle Ray worker is kept warm (runtime.warm_workers=0): each would hold ~100 MiB.
        wait_until(lambda: _processes(process.pid, "ray::IDLE"), lambda idle: not idle)
        # Nor Ray's autoscaler monitor and API server, which nothing on one box uses.
        assert _ray_head_extras(process.pid) == set()
    finally:
        survivors = terminate_and_collect_survivors(process, signal.SIGTERM)
    assert process.returncode == 0
    assert survivors == []
    # The store lives where the descriptor says; Hydra wrote nothing into the working dir.
    assert (tmp_path / "data" / "coral.db").is_file()
    assert not (tmp_path / "outputs").exists()


def _ray_head_extras(root: int) -> set[str]:
    """Which of Ray's optional head processes run under `root`."""
    scripts = {"autoscaler/_private/monitor.py": "monitor", "dashboard/dashboard.py": "dashboard"}
    running = set()
    for proc in process_tree(root):
        with contextlib.suppress(psutil.NoSuchProcess):
            command = " ".join(proc.cmdline())
            running |= {name for script, name in scripts.items() if script in command}
    return running


def test_ray_dashboard_on_request_runs_on_loopback_behind_a_token(tmp_path: Path) -> None:
    port = free_port()
    process = _start_runner(
        tmp_path,
        port,
        "demo=none",
        "runtime.ray_dashboard=true",
        "runtime.ray_autoscaler_monitor=true",
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/readyz", tmp_path)
        assert _ray_head_extras(process.pid) == {"monitor", "dashboard"}
        # It answers on loopback, and only with Ray's token (on by default for a new Ray).
        refused = wait_until(
            lambda: _get_or_none("http://127.0.0.1:8265/api/version"),
            lambda answer: answer is not None,
        )
        assert refused.status_code == 401
    finally:
        survivors = terminate_and_collect_survivors(process, signal.SIGTERM)
    assert survivors == []


def _get_or_none(url: str) -> httpx.Response | None:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url)
    return None


def test_serve_run_builds_the_app_from_builder_args(tmp_path: Path) -> None:
    # `serve run IMPORT_PATH` listens on Serve's default HTTP port (8000).
    process = start(
        [str(BIN / "serve"), "run", "coral_serve:build_app", "ui.mode=none", "web=dev"],
        cwd=tmp_path,
        env={"CORAL_PIPELINES__DATA_DIR": str(tmp_path / "data")},
    )
    try:
        wait_ready(process, "http://127.0.0.1:8000/readyz", tmp_path)
        index = httpx.get("http://127.0.0.1:8000/").json()
        assert index["health"] == {"live": "/healthz", "ready": "/readyz"}
    finally:
        survivors = terminate_and_collect_survivors(process, signal.SIGINT)
    assert survivors == []
    assert (tmp_path / "data" / "coral.db").is_file()
