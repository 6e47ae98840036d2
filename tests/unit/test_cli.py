"""`coral-runtime` commands, driven in-process through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from coral_serve.cli import main


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_show_composes_the_turn_option_and_masks_its_credential(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORAL_TURN_CREDENTIAL", "turn-secret-value")
    result = cli.invoke(main, ["config", "show", "--set", "streams.webrtc=turn"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    servers = shown["streams"]["webrtc"]["ice_servers"]
    assert any(url.startswith("turn:") for server in servers for url in server["urls"])
    assert "turn-secret-value" not in result.output
    assert servers[1]["credential"] == "**********"


def test_show_json_masks_tokens(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text(
        "http:\n  auth:\n    mode: token\n    tokens:\n"
        "      - {name: ops, role: admin, token: very-secret-token}\n"
    )
    result = cli.invoke(main, ["config", "show", "--json", "-c", str(path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["http"]["auth"]["tokens"][0]["name"] == "ops"
    assert "very-secret-token" not in result.output


def test_validate_reports_success(cli: CliRunner) -> None:
    result = cli.invoke(main, ["config", "validate", "--set", "web=prod"])
    assert result.exit_code == 0
    assert "valid" in result.output


def test_validate_no_env_skips_the_environment(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORAL_HTTP__PORT", "99999")
    assert cli.invoke(main, ["config", "validate"]).exit_code == 2
    assert cli.invoke(main, ["config", "validate", "--no-env"]).exit_code == 0


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "runtime.yaml"
    assert cli.invoke(main, ["config", "init", str(path)]).exit_code == 0
    assert path.read_text().startswith("# coral_serve runtime descriptor")
    assert cli.invoke(main, ["config", "validate", "-c", str(path)]).exit_code == 0

    path.write_text("# mine\n")
    refused = cli.invoke(main, ["config", "init", str(path)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert path.read_text() == "# mine\n"
    assert cli.invoke(main, ["config", "init", str(path), "--force"]).exit_code == 0
    assert path.read_text() != "# mine\n"


def test_serve_config_rebuilds_from_the_same_sources(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("http:\n  port: 9123\n")
    result = cli.invoke(
        main, ["deploy", "serve-config", "-c", str(path), "--set", "web=prod", "--no-env"]
    )
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.output)
    assert manifest["http_options"] == {"host": "0.0.0.0", "port": 9123}
    (application,) = manifest["applications"]
    assert application["import_path"] == "coral_serve:build_app"
    assert application["args"] == {
        "config_file": str(path.resolve()),
        "overrides": ["web=prod"],
        "no_env": True,
    }


def test_plugins_list_json_is_a_list(cli: CliRunner) -> None:
    result = cli.invoke(main, ["plugins", "list", "--json"])
    assert result.exit_code == 0
    assert isinstance(json.loads(result.output), list)


@pytest.mark.parametrize(
    "command",
    [[], ["config"], ["config", "show"], ["web", "serve"], ["plugins", "list"], ["deploy"]],
)
def test_every_command_has_help(cli: CliRunner, command: list[str]) -> None:
    result = cli.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
