"""Each layer beats the one before: conf/ defaults < file < environment < overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coral_serve.config import ConfigSources, load_config
from coral_serve.config.http import AuthMode


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runtime.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_dev_profile() -> None:
    config = load_config(ConfigSources(environ={}))
    assert config.http.host == "127.0.0.1"
    assert config.http.port == 9001
    assert config.http.auth.mode is AuthMode.none
    assert [sink.type for sink in config.monitoring.sinks] == ["stdout"]


def test_file_beats_defaults(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http:\n  port: 9100\n")
    assert load_config(ConfigSources(file=path, environ={})).http.port == 9100


def test_json_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps({"monitoring": {"poll_interval": 7}}))
    assert load_config(ConfigSources(file=path, environ={})).monitoring.poll_interval == 7


def test_environment_beats_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http:\n  port: 9100\n")
    config = load_config(ConfigSources(file=path, environ={"CORAL_HTTP__PORT": "9200"}))
    assert config.http.port == 9200


def test_set_beats_environment(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http:\n  port: 9100\n")
    config = load_config(
        ConfigSources(file=path, sets=["http.port=9300"], environ={"CORAL_HTTP__PORT": "9200"})
    )
    assert config.http.port == 9300


def test_no_env_ignores_environment() -> None:
    sources = ConfigSources(use_env=False, environ={"CORAL_HTTP__PORT": "9200"})
    assert load_config(sources).http.port == 9001


def test_unrelated_coral_variables_are_not_config_keys() -> None:
    config = load_config(ConfigSources(environ={"CORAL_CONFIG": "/app/config/runtime.yaml"}))
    assert config.http.port == 9001


def test_set_values_are_yaml_scalars() -> None:
    config = load_config(
        ConfigSources(
            sets=["http.cors_origins=[https://a.example, https://b.example]", "ui.mode=none"],
            environ={},
        )
    )
    assert config.http.cors_origins == ["https://a.example", "https://b.example"]
    assert config.ui.mode.value == "none"


@pytest.mark.parametrize("key", ["streams.webrtc", "streams/webrtc"])
def test_dotted_or_slashed_group_key_selects_the_option(key: str) -> None:
    config = load_config(ConfigSources(sets=[f"{key}=turn"], environ={}))
    urls = [url for server in config.streams.webrtc.ice_servers for url in server.urls]
    assert any(url.startswith("turn:") for url in urls)
    # The option composed into the node; the node was not replaced by the string "turn".
    assert config.streams.webrtc.codec.value == "H264"


def test_hydra_style_overrides_compose_groups_and_values() -> None:
    config = load_config(
        ConfigSources(overrides=["web=prod", "streams.webrtc=turn", "http.port=9400"], environ={})
    )
    assert config.http.host == "0.0.0.0"
    assert config.http.auth.mode is AuthMode.token
    assert config.runtime.log_format == "json"
    assert config.http.port == 9400
    assert len(config.streams.webrtc.ice_servers) == 2


def test_environment_can_select_a_group() -> None:
    config = load_config(ConfigSources(environ={"CORAL_WEB": "prod"}))
    assert config.http.auth.mode is AuthMode.token


def test_group_override_beats_environment_group() -> None:
    config = load_config(ConfigSources(sets=["web=dev"], environ={"CORAL_WEB": "prod"}))
    assert config.http.auth.mode is AuthMode.none


def test_file_values_survive_a_group_selection(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http:\n  port: 9555\n")
    config = load_config(ConfigSources(file=path, sets=["web=prod"], environ={}))
    assert config.http.host == "0.0.0.0"
    assert config.http.port == 9555


def test_relative_data_dir_is_anchored_and_paths_derive_from_it(tmp_path: Path) -> None:
    config = load_config(ConfigSources(sets=[f"pipelines.data_dir={tmp_path}/d"], environ={}))
    assert config.pipelines.store_path == f"{tmp_path}/d/coral.db"
    assert config.streams.recordings.directory == f"{tmp_path}/d/recordings"
    relative = load_config(ConfigSources(sets=["pipelines.data_dir=rel"], environ={}))
    assert Path(relative.pipelines.data_dir).is_absolute()


def test_interpolation_between_keys_resolves(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        f"pipelines:\n  data_dir: {tmp_path}\nstreams:\n"
        "  recordings:\n    directory: ${pipelines.data_dir}/videos\n",
    )
    config = load_config(ConfigSources(file=path, environ={}))
    assert config.streams.recordings.directory == f"{tmp_path}/videos"
