"""Run the control plane in the foreground: start or join Ray, deploy, wait for a signal."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

import ray
from ray import serve

from coral_serve.config import CoralConfig
from coral_serve.config.errors import ConfigError, ConfigProblem
from coral_serve.config.http import Listener
from coral_serve.config.runtime import RuntimeConfig
from coral_serve.logs import configure_logging
from coral_serve.serving.deployer import deploy_graph
from coral_serve.serving.listener import ListenError, check_unused
from coral_serve.serving.local_ray import init_local_ray
from coral_serve.serving.local_services import MemberHandle

__all__ = ["prepare_local_ray", "run_forever"]

log = logging.getLogger(__name__)

_GRACEFUL_SHUTDOWN_SECONDS = 20.0


def run_forever(config: CoralConfig, stop: threading.Event | None = None) -> None:
    """Deploy `bind_graph(config)` and block until SIGINT/SIGTERM (or `stop` is set);
    SIGHUP reloads the declared pipelines and templates of the descriptor.

    A Ray started here is shut down on exit, leaving no process behind; when joining an
    existing cluster (`runtime.address`), only this application is removed.
    """
    configure_logging(config.runtime)
    stop = stop or threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        # The handler only starts the work: it runs between two bytecodes of the main thread.
        threading.Thread(target=_reload, args=(config,), name="coral-reload", daemon=True).start()

    runtime = config.runtime
    started_ray = runtime.address is None
    if started_ray:
        _check_port(config)
    init_options: dict[str, object] = {
        "namespace": runtime.namespace,
        "logging_level": logging.WARNING,
    }
    if started_ray:
        prepare_local_ray(runtime)
        init_local_ray(
            runtime,
            num_cpus=runtime.num_cpus,
            _system_config=runtime.local_ray_system_config(),
            **init_options,
        )
    else:
        ray.init(address=runtime.address, include_dashboard=False, **init_options)
    # After ray.init: Ray's core worker installs its own SIGTERM handler, which would exit
    # without shutting Serve and the local Ray down.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    try:
        deploy_graph(config)
        shown_host = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host
        print(f"coral_serve is up: http://{shown_host}:{config.http.port}/", flush=True)
        stop.wait()
    finally:
        _shutdown(runtime.app_name, started_ray)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_port(config: CoralConfig) -> None:
    """On this box the ingress replica will listen on `http.port`: refuse a taken one
    before Ray starts, rather than deploy a replica that cannot start."""
    if config.http.listener is not Listener.ingress:
        return
    try:
        check_unused(config.http.host, config.http.port)
    except ListenError as exc:
        raise ConfigError(
            [ConfigProblem("http.port", f"{exc}; stop what listens there or choose another port")]
        ) from None


def _pipeline_service(config: CoralConfig) -> Any:
    """PipelineService's handle: its own deployment where the running app has one, else
    the ingress replica that runs it."""
    app_name = config.runtime.app_name
    if "PipelineService" in serve.status().applications[app_name].deployments:
        return serve.get_deployment_handle("PipelineService", app_name=app_name)
    return MemberHandle(serve.get_deployment_handle("Ingress", app_name=app_name), "pipelines")


def _reload(config: CoralConfig) -> None:
    """SIGHUP: PipelineService reads the descriptor again (as POST /api/v1/config/reload)."""
    log.info("received SIGHUP, reloading the descriptor")
    try:
        plan = _pipeline_service(config).reload.remote().result()
    except Exception as exc:  # a bad descriptor: said in the log, the app keeps running
        log.error("reload failed: %s", getattr(exc, "detail", exc))
        return
    log.info("reloaded: %s", plan.model_dump_json())


def prepare_local_ray(runtime: RuntimeConfig) -> None:
    """Set what Ray's processes inherit from this one, before they exist: Serve's switches
    (read once, at import) and the niceness of replicas and workers. A cluster joined with
    `runtime.address` keeps its own (its pods' environment)."""
    os.environ.update(runtime.ray_environment())


def _shutdown(app_name: str, started_ray: bool) -> None:
    """Stop Serve gracefully, but never hang on it: a Ctrl-C in a terminal also reaches Ray's
    own processes, and a dead raylet would leave `serve.shutdown` waiting forever."""
    graceful = threading.Thread(
        target=serve.shutdown if started_ray else functools.partial(serve.delete, app_name),
        name="coral-serve-shutdown",
        daemon=True,
    )
    graceful.start()
    graceful.join(_GRACEFUL_SHUTDOWN_SECONDS)
    if graceful.is_alive():
        log.warning("Serve did not stop within %ss; stopping Ray", _GRACEFUL_SHUTDOWN_SECONDS)
    ray.shutdown()
