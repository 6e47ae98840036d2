"""`build_app(BuilderArgs)`: the application builder `serve run` and `serve deploy` call.

Serve validates the builder's arguments into `BuilderArgs` because the parameter is
annotated with it (a typed application builder). Serve reads the annotation without
evaluating strings, so this module must not use `from __future__ import annotations`.
"""

from ray.serve import Application

from coral_serve.config.http import Listener
from coral_serve.serving.args import BuilderArgs
from coral_serve.serving.graph import bind_graph

__all__ = ["BuilderArgs", "build_app"]


def build_app(args: BuilderArgs) -> Application:
    """Bind the graph of the descriptor that `args` describe, behind Serve's proxy: `serve
    run` and `serve deploy` start that proxy themselves, so the ingress never listens."""
    config = args.load()
    http = config.http.model_copy(update={"listener": Listener.proxy})
    return bind_graph(config.model_copy(update={"http": http}))
