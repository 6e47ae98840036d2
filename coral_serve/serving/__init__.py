"""The modules that know Ray Serve: everything else runs without it.

- `serving.builder`: `build_app(BuilderArgs)`, the entry point `serve run` and `serve deploy`
  call (`coral_serve:build_app`, and `coral_serve:app` built with default arguments).
- `serving.graph`: `bind_graph(config)`, the deployment graph itself.
- `serving.lifecycle`: `run_forever(config)`, which starts or joins Ray, runs the graph and
  shuts Serve down (`python -m coral_serve`, `coral-runtime web serve`).

Two other modules import Ray, not Serve, and only these modules hand them to the services:
`workers.ray_pool` (pipelines as named Ray actors) and `sinks.ray_metrics` (pipeline metrics
as Ray metrics). Services and the web layer never import Ray.
"""
