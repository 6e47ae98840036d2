"""Entry-point plugins: web plugins, model backends, metric sinks and event sinks."""
