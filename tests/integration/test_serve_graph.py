"""The real graph on a real Ray: `python -m coral_serve` and `serve run coral_serve:app`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx

from tests.integration.processes import (
    free_port,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)

BIN = Path(sys.executable).parent


def test_python_m_coral_serve_serves_and_shuts_down_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "coral_serve",
            "streams.webrtc=stun",
            f"http.port={port}",
            f"pipelines.data_dir={tmp_path / 'data'}",
        ],
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(process, f"{base}/readyz", tmp_path)
        checks = {check["name"]: check for check in ready.json()["checks"]}
        assert checks["store"]["ok"] and checks["deployments"]["ok"]
        assert checks["deployments"]["detail"] == "5 healthy"

        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        config = httpx.get(f"{base}/config.json").json()
        assert config["name"] == "coral_serve" and config["webrtc_enabled"] is True
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "coral_serve" in page.text
        assert httpx.get(f"{base}/nope").json()["error"] == "not_found"
    finally:
        survivors = terminate_and_collect_survivors(process, signal.SIGTERM)
    assert process.returncode == 0
    assert survivors == []
    # The store lives where the descriptor says; Hydra wrote nothing into the working dir.
    assert (tmp_path / "data" / "coral.db").is_file()
    assert not (tmp_path / "outputs").exists()


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
