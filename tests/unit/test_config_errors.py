"""A bad configuration names the dotted key, exits 2 and prints no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from coral_serve.config import ConfigError, ConfigSources, load_config
from tests.conftest import run_coral_serve


def problems(sources: ConfigSources) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(sources)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("setting", "key", "fragment"),
    [
        ("http.port=99999", "http.port", "less than or equal to 65535"),
        ("http.prot=9000", "http.prot", "unknown key"),
        ("http.port=abc", "http.port", "'abc'"),
        ("http.auth.mode=magic", "http.auth.mode", "'none' or 'token'"),
        ("monitoring.poll_interval=-1", "monitoring.poll_interval", "greater than 0"),
        ("streams.webrtc=carrier-pigeon", "streams.webrtc", "choose from none, stun, turn"),
        ("web=staging", "web", "choose from dev, prod"),
        ("ui.mode=plugin", "ui", "ui.plugin must name a plugin"),
        ("http.port", "http.port", "expected KEY=VALUE"),
    ],
)
def test_each_problem_names_its_key(setting: str, key: str, fragment: str) -> None:
    lines = problems(ConfigSources(sets=[setting], environ={}))
    assert any(line.startswith(f"{key}:") and fragment in line for line in lines), lines


def test_every_problem_is_reported_at_once() -> None:
    lines = problems(ConfigSources(sets=["http.port=0", "http.host=", "ui.bogus=1"], environ={}))
    assert {line.split(":")[0] for line in lines} == {"http.port", "http.host", "ui.bogus"}


def test_problem_names_the_layer_it_came_from(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("http:\n  port: 70000\n")
    assert problems(ConfigSources(file=path, environ={})) == [
        f"http.port: Input should be less than or equal to 65535 (got 70000) [from {path}]"
    ]
    env_lines = problems(ConfigSources(environ={"CORAL_MONITORING__FLUSH_INTERVAL": "soon"}))
    assert env_lines[0].endswith("[from environment]")


def test_secret_values_are_not_echoed_in_errors() -> None:
    lines = problems(
        ConfigSources(
            sets=["http.auth.tokens=[{name: ops, token: hunter2, role: god}]"], environ={}
        )
    )
    assert lines and all("hunter2" not in line for line in lines)


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("http:\n  port: [9001\n")
    (line,) = problems(ConfigSources(file=path, environ={}))
    assert line.startswith("-c: malformed file") and str(path) in line


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    (line,) = problems(ConfigSources(file=tmp_path / "missing.yaml", environ={}))
    assert "cannot read" in line and "missing.yaml" in line


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "coral-runtime"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_exits_2_naming_the_key_without_traceback() -> None:
    result = run_cli("config", "validate", "--set", "http.port=99999")
    assert result.returncode == 2
    assert "http.port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_python_m_coral_serve_rejects_bad_overrides_with_exit_2() -> None:
    result = run_coral_serve("streams.webrtc=nope")
    assert result.returncode == 2
    assert "streams.webrtc: no option 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_listening_ingress_cannot_be_scaled_and_says_how_to() -> None:
    result = run_coral_serve(
        "deploy=local", "deployments.combine=false", "deployments.ingress.num_replicas=2"
    )
    assert result.returncode == 2
    assert "http.listener: the ingress replica listens on http.port itself" in result.stderr
    assert "set http.listener=proxy to scale it" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_refused_before_ray_starts_naming_http_port() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_coral_serve("demo=none", f"http.port={port}")
    assert result.returncode == 2
    assert f"http.port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "choose another port" in result.stderr
    assert "Traceback" not in result.stderr
