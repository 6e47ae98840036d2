"""`serve run coral_serve:app`, the documented entry point, means the application in any
interpreter, and Serve hands `build_app` its typed arguments."""

from __future__ import annotations

import importlib
import signal
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary

import coral_serve
from coral_serve.config import CoralConfig
from coral_serve.serving import builder, graph, lifecycle
from tests.integration.processes import start, terminate_and_collect_survivors, wait_ready

BIN = Path(sys.executable).parent


def test_coral_serve_app_is_the_application_whatever_was_imported() -> None:
    # Every Serve-aware module is loaded, as in a process that also ran the CLI.
    assert {builder.__name__, graph.__name__, lifecycle.__name__} <= set(sys.modules)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("coral_serve.app")
    assert isinstance(coral_serve.app, Application)
    assert coral_serve.build_app is builder.build_app


def test_serve_hands_the_builder_typed_args(monkeypatch: pytest.MonkeyPatch) -> None:
    ports: list[int] = []

    def bind(config: CoralConfig) -> Application:
        ports.append(config.http.port)
        return graph.bind_graph(config)

    monkeypatch.setattr(builder, "bind_graph", bind)
    # What `serve run coral_serve:build_app web=dev http.port=9100 no_env=true` does with
    # its arguments (Serve's own function).
    app = call_user_app_builder_with_args_if_necessary(
        coral_serve.build_app, {"web": "dev", "http.port": "9100", "no_env": "true"}
    )
    assert isinstance(app, Application)
    assert ports == [9100]


def test_serve_run_coral_serve_app_serves_and_stops(tmp_path: Path) -> None:
    # `serve run IMPORT_PATH` listens on Serve's default 127.0.0.1:8000; a Ray temp dir of
    # its own keeps a concurrent `ray.init()` on this machine from joining this Ray.
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as ray_tmp:
        process = start(
            [str(BIN / "serve"), "run", "coral_serve:app"],
            cwd=tmp_path,
            env={
                "RAY_TMPDIR": ray_tmp,
                "CORAL_PIPELINES__DATA_DIR": str(tmp_path / "data"),
                "CORAL_UI__MODE": "none",
            },
        )
        try:
            wait_ready(process, "http://127.0.0.1:8000/readyz", tmp_path)
            assert httpx.get("http://127.0.0.1:8000/healthz").json() == {"status": "ok"}
        finally:
            survivors = terminate_and_collect_survivors(process, signal.SIGINT)
    assert survivors == []
    assert (tmp_path / "data" / "coral.db").is_file()
