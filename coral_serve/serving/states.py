"""Deployment states as Serve reports them, for HealthService's readiness.

Its own module because HealthService receives this function pickled by reference: its
replica imports this module, not the graph and everything the graph imports.
"""

from __future__ import annotations

import asyncio

from ray import serve

__all__ = ["serve_deployment_states"]


async def serve_deployment_states(app_name: str) -> dict[str, str]:
    """Each deployment's state in this application, as Serve's controller reports it."""
    status = await asyncio.to_thread(serve.status)
    application = status.applications.get(app_name)
    if application is None:
        return {}
    return {name: str(d.status.value) for name, d in application.deployments.items()}
