"""Deploy the graph from a short-lived Ray task instead of from the runner.

Binding the graph imports every service's module (the web layer, WebRTC, video): ~50 MiB
that a runner which then only waits for a signal would hold for as long as it runs. The
task's worker imports them, deploys, and is gone once Ray reaps idle workers
(`runtime.warm_workers`).
"""

from __future__ import annotations

import logging

import ray
from ray import serve
from ray.serve.config import ProxyLocation

from coral_serve.config import CoralConfig
from coral_serve.config.http import Listener

__all__ = ["DEPLOY_TASK", "deploy_graph"]

DEPLOY_TASK = "coral-deploy"
"""The task's name, as `ray list tasks` shows it."""


def deploy_graph(config: CoralConfig) -> None:
    """Start Serve (with its proxy on `config.http`, unless the ingress replica listens
    there itself) and run the graph; returns once it is running, raises what the deployment
    raised."""
    ray.get(_deploy.options(name=DEPLOY_TASK).remote(config))


@ray.remote(num_cpus=0, max_retries=0)
def _deploy(config: CoralConfig) -> None:
    from coral_serve.serving.graph import bind_graph

    runtime = config.runtime
    if config.http.listener is Listener.ingress:
        # Serve would log the app "ready at" its own default port, where nothing listens;
        # the runner prints the address once the deploy returns.
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        serve.start(proxy_location=ProxyLocation.Disabled)
    else:
        serve.start(http_options={"host": config.http.host, "port": config.http.port})
    serve.run(
        bind_graph(config),
        name=runtime.app_name,
        route_prefix="/",
        logging_config={
            "encoding": "JSON" if runtime.log_format == "json" else "TEXT",
            "log_level": runtime.log_level,
        },
    )
