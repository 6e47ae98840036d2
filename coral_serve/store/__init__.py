"""Persistent desired state of pipelines."""
