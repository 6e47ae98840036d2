"""`build_app`'s typed arguments, as `serve run key=value` and Serve config `args:` give them."""

from __future__ import annotations

from pathlib import Path

import pytest

from coral_serve.config import ConfigError, ConfigSources, load_config
from coral_serve.deploy.serve_config import render_serve_config
from coral_serve.serving.args import BuilderArgs


def test_extra_keys_are_config_keys_typed_as_on_the_command_line() -> None:
    # `serve run coral_serve:build_app web=dev http.port=9100 no_env=true` passes strings.
    args = BuilderArgs.model_validate({"web": "dev", "http.port": "9100", "no_env": "true"})
    assert args.no_env is True
    assert args.config_keys() == {"web": "dev", "http.port": 9100}
    assert args.load().http.port == 9100


def test_a_bad_builder_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"http\.prot: unknown key"):
        BuilderArgs.model_validate({"http.prot": "9100"}).load()


def test_serve_config_args_rebuild_the_same_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text("http:\n  port: 9123\n")
    rendered = render_serve_config(
        load_config(ConfigSources(file=path)), config_file=path, sets=["web=prod"], no_env=True
    )
    (application,) = rendered["applications"]
    rebuilt = BuilderArgs.model_validate(application["args"]).load()
    expected = load_config(ConfigSources(file=path, overrides=["web=prod"], use_env=False))
    assert rebuilt == expected
    assert rebuilt.http.auth.mode.value == "token"  # the override came through
