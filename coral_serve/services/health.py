"""HealthService: readiness from real checks of the other services and of Serve itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from coral_serve.config import CoralConfig
from coral_serve.config.health import ExternalProbe, ReadinessCheck
from coral_serve.services.checks import CheckResult, Readiness, timed_check
from coral_serve.services.client import ServiceClient

__all__ = ["DeploymentStates", "HealthService"]

DeploymentStates = Callable[[], Awaitable[Mapping[str, str]]]
"""Returns each deployment's state by name (`HEALTHY`, `UPDATING`, `UNHEALTHY`, ...)."""


# Deployment states in which every replica serves; autoscaling does not make a deployment unready.
_SERVING = frozenset({"HEALTHY", "UPSCALING", "DOWNSCALING"})


class HealthService:
    """Aggregates checks; `/healthz` never reaches it, only `/readyz` does."""

    def __init__(
        self,
        config: CoralConfig,
        pipelines: Any,
        monitor: Any,
        deployment_states: DeploymentStates | None = None,
    ) -> None:
        self._config = config
        self._pipelines = ServiceClient(pipelines)
        self._monitor = ServiceClient(monitor)
        self._deployment_states = deployment_states

    async def start(self) -> None:
        """Stateless: every readiness call checks afresh."""

    async def stop(self) -> None:
        """Stateless: nothing to release."""

    async def readiness(self) -> Readiness:
        timeout = self._config.health.check_timeout
        checks: list[Awaitable[CheckResult]] = []
        for check in dict.fromkeys(self._config.health.checks):
            checks.append(timed_check(check.value, self._builtin(check), timeout))
        for probe in self._config.health.external:
            checks.append(
                timed_check(probe.name, _probe(probe), probe.timeout, required=probe.required)
            )
        results = list(await asyncio.gather(*checks))
        return Readiness(ready=all(r.ok for r in results if r.required), checks=results)

    async def _builtin(self, check: ReadinessCheck) -> CheckResult:
        if check is ReadinessCheck.store:
            return await self._pipelines.call("check_store")
        if check is ReadinessCheck.disk:
            return await self._monitor.call("check_disk")
        return await self._check_deployments()

    async def _check_deployments(self) -> CheckResult:
        if self._deployment_states is None:
            return CheckResult(name="deployments", ok=True, detail="running in-process")
        states = await self._deployment_states()
        unhealthy = {name: state for name, state in states.items() if state not in _SERVING}
        if unhealthy:
            listed = ", ".join(f"{name}={state}" for name, state in sorted(unhealthy.items()))
            return CheckResult(name="deployments", ok=False, detail=listed)
        return CheckResult(name="deployments", ok=True, detail=f"{len(states)} healthy")


async def _probe(probe: ExternalProbe) -> CheckResult:
    async with httpx.AsyncClient(timeout=probe.timeout) as client:
        response = await client.get(probe.url)
    ok = response.is_success
    return CheckResult(name=probe.name, ok=ok, detail=f"HTTP {response.status_code}")
