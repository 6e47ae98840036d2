"""Start the local Ray of a one-box run without the head processes nothing here uses.

A head started by `ray.init` always runs Ray's autoscaler monitor and its API server, even
with `include_dashboard=False` (the server then only reports usage statistics): about
125 MiB of the box's memory for `ray status`, the state and job APIs and Ray's own
dashboard. `ray start --head --no-monitor` can leave the monitor out, `ray.init` has no
switch for either, so while this module's `ray.init` starts the head, the two methods of
Ray's node that would start them do nothing. A joined cluster is never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import ray
from ray._private import node as ray_node

from coral_serve.config.runtime import RuntimeConfig

__all__ = ["DASHBOARD_PORT", "init_local_ray"]

DASHBOARD_PORT = 8265
"""Ray's dashboard, with `runtime.ray_dashboard`: on loopback only."""


def init_local_ray(runtime: RuntimeConfig, **init_options: Any) -> None:
    """`ray.init` of a fresh local Ray, with the monitor and the API server only when
    `runtime` asks for them."""
    skipped = []
    if not runtime.ray_autoscaler_monitor:
        skipped.append("start_monitor")
    if runtime.ray_dashboard:
        init_options.update(
            include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=DASHBOARD_PORT
        )
    else:
        init_options["include_dashboard"] = False
        skipped.append("start_api_server")
    with _not_started(ray_node.Node, skipped):
        # "local" always starts a fresh Ray, never attaching to another cluster on this box.
        ray.init(address="local", **init_options)


@contextlib.contextmanager
def _not_started(node_class: type, methods: list[str]) -> Iterator[None]:
    """While the context lasts, each of `methods` of `node_class` starts nothing."""
    originals = {name: node_class.__dict__[name] for name in methods}

    def skip(self: Any, *args: Any, **kwargs: Any) -> None:
        """Starts nothing."""

    try:
        for name in methods:
            setattr(node_class, name, skip)
        yield
    finally:
        for name, original in originals.items():
            setattr(node_class, name, original)
