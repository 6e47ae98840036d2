"""`deployments.combine_singletons`: PipelineService, MonitorService and EventService in one
ControlPlane replica, each still reached through a handle of its own."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

from coral_serve.config import CoralConfig
from coral_serve.services.client import ServiceClient
from coral_serve.serving.combined import ControlPlane, MemberHandle

# Serve awaits a replica's async `__del__` at shutdown; Python's collector calls it once more
# when the object goes, and that second coroutine is never awaited, by design.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine 'ControlPlane.__del__'")

events: list[str] = []


class Store:
    """A member service with a lifecycle, a sync and an async method."""

    def __init__(self, name: str, fail_stop: bool = False) -> None:
        self.name = name
        self.fail_stop = fail_stop

    async def start(self) -> None:
        events.append(f"start {self.name}")

    async def stop(self) -> None:
        events.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("disk gone")

    def count(self, *items: int) -> int:
        return len(items)

    async def describe(self, *, detail: str) -> str:
        await asyncio.sleep(0)
        return f"{self.name}: {detail}"


class _Invoke:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.calls: list[tuple[Any, ...]] = []

    def remote(self, member: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Awaitable, as Serve's DeploymentResponse is."""
        self.calls.append((member, method, args, kwargs))
        return self.plane.invoke(member, method, *args, **kwargs)


class FakeHandle:
    """A deployment handle of the combined replica: `invoke.remote(...)` answers awaitably."""

    def __init__(self, plane: ControlPlane) -> None:
        self.invoke = _Invoke(plane)


async def _plane(**members: Store) -> ControlPlane:
    plane = ControlPlane.__new__(ControlPlane)
    await plane.__init__({name: (Store, (s.name, s.fail_stop)) for name, s in members.items()})
    return plane


async def test_members_start_in_order_and_answer_through_their_own_handles() -> None:
    events.clear()
    plane = await _plane(pipelines=Store("pipelines"), monitor=Store("monitor"))
    assert events == ["start pipelines", "start monitor"]
    handle = FakeHandle(plane)
    pipelines = ServiceClient(MemberHandle(handle, "pipelines"))
    monitor = ServiceClient(MemberHandle(handle, "monitor"))

    assert await pipelines.call("count", 1, 2, 3) == 3
    assert await monitor.call("describe", detail="fps") == "monitor: fps"
    assert handle.invoke.calls == [
        ("pipelines", "count", (1, 2, 3), {}),
        ("monitor", "describe", (), {"detail": "fps"}),
    ]


async def test_a_member_that_fails_to_stop_does_not_keep_the_others_running() -> None:
    events.clear()
    plane = await _plane(
        pipelines=Store("pipelines"), monitor=Store("monitor", fail_stop=True), events=Store("ev")
    )
    events.clear()
    await plane.__del__()
    assert events == ["stop ev", "stop monitor", "stop pipelines"]


def test_a_member_handle_pickles_as_serve_ships_it_and_hides_private_names() -> None:
    copy = pickle.loads(pickle.dumps(MemberHandle("the combined handle", "events")))
    assert copy == MemberHandle("the combined handle", "events")
    with pytest.raises(AttributeError):
        copy.__setstate__  # noqa: B018 - a probe pickle and copy make


def test_the_combined_replica_reserves_what_the_three_would_together() -> None:
    config = CoralConfig.model_validate(
        {
            "deployments": {
                "combine_singletons": True,
                "pipeline_service": {
                    "max_ongoing_requests": 50,
                    "ray_actor_options": {"num_cpus": 0.1, "resources": {"head": 0.01}},
                },
                "monitor_service": {"ray_actor_options": {"num_cpus": 0.05, "memory": 1000}},
                "event_service": {"ray_actor_options": {"resources": {"head": 0.01}}},
            }
        }
    )
    options = config.deployments.combined_singletons().to_serve()
    assert options["num_replicas"] == 1
    assert options["max_ongoing_requests"] == 250
    actor = options["ray_actor_options"]
    assert actor["num_cpus"] == pytest.approx(0.2)
    assert actor["memory"] == 1000
    assert actor["resources"] == {"head": pytest.approx(0.02)}
