"""The services of the graph: plain async classes that `serving.graph` wraps for Serve."""
