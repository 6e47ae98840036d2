"""Entry-point plugins: web plugins, model backends and metric sinks."""
