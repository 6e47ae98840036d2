"""The images' install and start steps, run outside the checkout (no Docker engine here):
docker/build-wheel.sh, docker/install-wheel.sh, then docker/entrypoint.sh with the image's
descriptor. Serving from that environment proves conf/ and the UI ship inside the wheel."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from tests.integration.processes import (
    free_port,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)

DOCKER = REPO_ROOT / "docker"


def run(command: list[str | Path], cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_installs_and_serves_like_the_image(tmp_path: Path) -> None:
    dist, venv, home = tmp_path / "dist", tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    run([DOCKER / "build-wheel.sh", REPO_ROOT, dist], cwd=tmp_path)
    # The dependencies are this environment's (nothing to download); coral_serve itself
    # comes only from the wheel.
    deps = sysconfig.get_path("purelib")
    installed = run([DOCKER / "install-wheel.sh", "--deps-from", deps, venv, dist], cwd=home)
    assert "coral-runtime, version" in installed

    located = run(
        [
            venv / "bin" / "python",
            "-c",
            "import coral_serve, coral_serve.config as c; print(coral_serve.__file__); "
            "print(c.conf_dir())",
        ],
        cwd=home,
    ).split()
    assert all(Path(path).is_relative_to(venv) for path in located), located

    # As the image starts: its descriptor at $CORAL_CONFIG, CORAL_* variables on top.
    descriptor = tmp_path / "app" / "config" / "runtime.yaml"
    descriptor.parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "examples" / "runtime_web.yaml", descriptor)
    port = free_port()
    token = secrets.token_urlsafe(32)
    process = start(
        [str(DOCKER / "entrypoint.sh")],
        cwd=home,
        env={
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "CORAL_CONFIG": str(descriptor),
            "CORAL_HTTP__HOST": "127.0.0.1",
            "CORAL_HTTP__PORT": str(port),
            "CORAL_PIPELINES__DATA_DIR": str(tmp_path / "data"),
            # web=prod in the image's descriptor: secrets only ever come from the environment.
            "CORAL_HTTP__AUTH__TOKENS": f"[{{name: ops, role: admin, token: {token}}}]",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(process, f"{base}/readyz", home)
        checks = {check["name"]: check["ok"] for check in ready.json()["checks"]}
        assert checks["store"] and checks["deployments"]
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as ui:
            page = ui.get("/")
            assert page.status_code == 200 and "<html" in page.text.lower()
            assert ui.get("/ui/app.js").status_code == 200
            # The image's descriptor chose web=prod, which asks for bearer tokens.
            assert ui.get("/config.json").json()["auth_mode"] == "token"
    finally:
        survivors = (
            terminate_and_collect_survivors(process, signal.SIGTERM)
            if process.poll() is None
            else []
        )
    assert process.returncode == 0
    assert survivors == []
    assert (tmp_path / "data" / "coral.db").is_file()
