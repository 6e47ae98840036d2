"""The images, the compose file and the scripts the wheel test runs must not drift apart:
Docker cannot build here, so these are the checks a `docker build` would otherwise make."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import yaml

from coral_serve.config import ConfigSources, load_config
from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
DOCKERFILES = ["Dockerfile", "Dockerfile.rknn"]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_builds_from_files_its_context_sends(name: str) -> None:
    dockerfile = DOCKER / name
    allowed = [
        line[1:]
        for line in (DOCKER / f"{name}.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for keyword, rest in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _ = rest.split()
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"{name}: COPY {source} does not exist"
            assert any(fnmatch.fnmatch(source, pattern) for pattern in allowed), (
                f"{name}: {source} is not sent with the build context"
            )


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_runs_the_scripts_the_wheel_test_runs(name: str) -> None:
    steps = instructions(DOCKER / name)
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "build-wheel.sh /src /dist" in runs
    assert "install-wheel.sh /opt/venv /dist" in runs
    assert ("ENTRYPOINT", '["tini", "--", "/app/entrypoint.sh"]') in steps
    assert ("COPY", "examples/runtime_web.yaml /app/config/runtime.yaml") in steps
    assert ("USER", "coral") in steps and ("VOLUME", "/data") in steps
    assert any(keyword == "HEALTHCHECK" and "/healthz" in rest for keyword, rest in steps)


def test_compose_publishes_and_scrapes_the_port_the_image_serves() -> None:
    descriptor = load_config(
        ConfigSources(file=REPO_ROOT / "examples" / "runtime_web.yaml", use_env=False)
    )
    port = descriptor.http.port
    assert ("EXPOSE", str(port)) in instructions(DOCKER / "Dockerfile")
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    coral = compose["services"]["coral"]
    assert coral["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert f"{port}:{port}" in coral["ports"]
    assert "coral-data:/data" in coral["volumes"]
    scrape = yaml.safe_load((DOCKER / "scrape.yaml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"coral:{port}"]
    assert descriptor.monitoring.sinks[0].type == "prometheus"  # what serves /metrics
    metrics = compose["services"]["victoriametrics"]
    assert metrics["profiles"] == ["metrics"]
    assert "./scrape.yaml:/etc/coral/scrape.yaml:ro" in metrics["volumes"]
