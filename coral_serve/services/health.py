"""HealthService: readiness from real checks of the other services and of Serve itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from coral_serve.config import CoralConfig
from coral_serve.config.health import WARNING_CHECKS, ExternalProbe, ReadinessCheck
from coral_serve.schema.checks import CheckResult, Readiness, timed_check
from coral_serve.services.client import ServiceClient

__all__ = ["DeploymentStates", "HealthService"]

log = logging.getLogger(__name__)

DeploymentStates = Callable[[], Awaitable[Mapping[str, str]]]
"""Returns each deployment's state by name (`HEALTHY`, `UPDATING`, `UNHEALTHY`, ...)."""


# Deployment states in which every replica serves; autoscaling does not make a deployment unready.
_SERVING = frozenset({"HEALTHY", "UPSCALING", "DOWNSCALING"})
# Checks MonitorService answers, by the method that answers them.
_MONITOR_CHECKS = {
    ReadinessCheck.disk: "check_disk",
    ReadinessCheck.disk_quota: "check_disk_quota",
    ReadinessCheck.monitor: "check_tasks",
    ReadinessCheck.sinks: "check_sinks",
}


class HealthService:
    """Aggregates checks; `/healthz` never reaches it, only `/readyz` does."""

    def __init__(
        self,
        config: CoralConfig,
        pipelines: Any,
        monitor: Any,
        deployment_states: DeploymentStates | None = None,
        events: Any = None,
    ) -> None:
        """`events`: EventService, which runs the notifiers; None where the graph has none."""
        self._config = config
        self._pipelines = ServiceClient(pipelines)
        self._monitor = ServiceClient(monitor)
        self._events = None if events is None else ServiceClient(events)
        self._deployment_states = deployment_states
        self._report_to_monitor = config.monitoring.serves_prometheus
        self._reports: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Every readiness call checks afresh: nothing to prepare."""

    async def stop(self) -> None:
        """Cancel readiness reports to MonitorService still in flight."""
        for task in list(self._reports):
            task.cancel()
        self._reports.clear()

    async def readiness(self) -> Readiness:
        timeout = self._config.health.check_timeout
        checks: list[Awaitable[CheckResult]] = []
        for check in dict.fromkeys(self._config.health.checks):
            required = check not in WARNING_CHECKS
            checks.append(timed_check(check.value, self._builtin(check), timeout, required))
        for probe in self._config.health.external:
            checks.append(
                timed_check(probe.name, _probe(probe), probe.timeout, required=probe.required)
            )
        results = list(await asyncio.gather(*checks))
        readiness = Readiness(ready=all(r.ok for r in results if r.required), checks=results)
        if self._report_to_monitor:
            self._report(readiness)
        return readiness

    async def _builtin(self, check: ReadinessCheck) -> CheckResult:
        if check is ReadinessCheck.store:
            return await self._pipelines.call("check_store")
        if check is ReadinessCheck.deployments:
            return await self._check_deployments()
        if check is ReadinessCheck.notifications:
            if self._events is None:
                return CheckResult(name="notifications", ok=True, detail="no event service")
            return await self._events.call("check_notifications")
        return await self._monitor.call(_MONITOR_CHECKS[check])

    def _report(self, readiness: Readiness) -> None:
        """Hand the result to MonitorService for /metrics without making /readyz wait."""
        task = asyncio.create_task(self._send_report(readiness))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _send_report(self, readiness: Readiness) -> None:
        try:
            await asyncio.wait_for(
                self._monitor.call("record_health", readiness), self._config.health.check_timeout
            )
        except Exception as exc:  # metrics about health must never disturb health
            log.debug("could not report readiness to MonitorService: %r", exc)

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
