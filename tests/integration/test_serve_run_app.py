"""`serve run coral_serve:app`, the documented entry point, means the application in any
interpreter, and Serve hands `build_app` its typed arguments."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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
            # `serve run` started Serve's proxy, so the ingress replica must not listen too.
            assert httpx.get("http://127.0.0.1:8000/-/routes").json() == {"/": "default"}
        finally:
            survivors = terminate_and_collect_survivors(process, signal.SIGINT)
    assert survivors == []
    assert (tmp_path / "data" / "coral.db").is_file()


# What a replica process of each deployment loads to unpickle its class and arguments, as
# Serve's replica does, in a fresh interpreter that has Serve's replica module loaded.
_REPLICA_PROBE = """
import pickle, sys
import ray.serve._private.replica
data = sys.stdin.buffer.read()
size = int.from_bytes(data[:8], "big")
pickle.loads(data[8 : 8 + size])
pickle.loads(data[8 + size :])
print(" ".join(sorted(sys.modules)))
"""
# Libraries only the pipelines and the WebRTC streams need; each costs a replica's start.
_MEDIA_AND_METRIC_CLIENTS = {"aiortc", "av", "influxdb_client", "onnxruntime"}


def _replica_modules(app: Application, deployment: str) -> set[str]:
    from ray.serve._private.build_app import build_app

    built = build_app(app, name="coral")
    (replica,) = [d._replica_config for d in built.deployments if d.name == deployment]
    definition = replica.serialized_deployment_def
    probe = subprocess.run(
        [sys.executable, "-c", _REPLICA_PROBE],
        input=len(definition).to_bytes(8, "big") + definition + replica.serialized_init_args,
        capture_output=True,
        check=True,
    )
    return set(probe.stdout.decode().split())


@pytest.mark.parametrize("deployment", ["Ingress", "HealthService"])
def test_control_replicas_start_without_media_or_metric_client_libraries(
    deployment: str,
) -> None:
    app = graph.bind_graph(CoralConfig())
    loaded = _replica_modules(app, deployment)
    assert "coral_serve.serving.graph" not in loaded  # the graph imports every service
    assert not loaded & _MEDIA_AND_METRIC_CLIENTS


@pytest.mark.parametrize(
    ("deployment", "combined"),
    [("StreamService", False), ("EventService", False), ("Ingress", True)],
)
def test_service_replicas_leave_the_pipeline_engine_to_the_workers(
    deployment: str, combined: bool
) -> None:
    """In either isolation the services reach workers through a pool they unpickle; only a
    worker or a host process needs the engine (tracking, drawing: about a second and
    45 MiB each)."""
    config = CoralConfig.model_validate(
        {"pipelines": {"isolation": "shared"}, "deployments": {"combine": combined}}
    )
    loaded = _replica_modules(graph.bind_graph(config), deployment)
    assert not loaded & {"coral_serve.engine.engine", "supervision"}


@pytest.mark.parametrize(
    ("deployments", "expected"),
    [
        ({"combine": True}, {"Ingress"}),
        # A scaled StreamService keeps a deployment, and so does MonitorService, which it calls.
        (
            {"combine": True, "stream_service": {"num_replicas": 2}},
            {"Ingress", "StreamService", "MonitorService"},
        ),
        (
            {"combine": False},
            {"Ingress", "PipelineService", "MonitorService", "EventService", "StreamService"},
        ),
    ],
)
def test_combine_runs_in_the_ingress_what_no_scaled_deployment_calls(
    deployments: dict[str, Any], expected: set[str]
) -> None:
    from ray.serve._private.build_app import build_app

    config = CoralConfig.model_validate(
        {"deployments": deployments, "health": {"in_ingress": True}}
    )
    built = build_app(graph.bind_graph(config), name="coral")
    assert {deployment.name for deployment in built.deployments} == expected
