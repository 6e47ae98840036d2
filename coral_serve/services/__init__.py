"""The services of the graph: plain async classes that Serve wraps in app.py."""
