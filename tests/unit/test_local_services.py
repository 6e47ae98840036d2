"""`deployments.combine` and `health.in_ingress`: services the ingress replica constructs
itself, each reaching its siblings in this process or through their handles, and reached
from outside through a handle of its own."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest
from pydantic import ValidationError

from coral_serve.config import CoralConfig
from coral_serve.services.client import ServiceClient
from coral_serve.serving.local_services import LocalServices, MemberHandle, Sibling

events: list[str] = []


class Store:
    """A service with a lifecycle, a sync and an async method, and maybe a sibling."""

    def __init__(self, name: str, sibling: Any = None, fail_stop: bool = False) -> None:
        self.name = name
        self.sibling = ServiceClient(sibling) if sibling is not None else None
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

    async def ask_sibling(self) -> str:
        assert self.sibling is not None
        return await self.sibling.call("describe", detail="asked")


class _Invoke:
    def __init__(self, local: LocalServices) -> None:
        self.local = local
        self.calls: list[tuple[Any, ...]] = []

    def remote(self, member: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Awaitable, as Serve's DeploymentResponse is."""
        self.calls.append((member, method, args, kwargs))
        return self.local.invoke(member, method, *args, **kwargs)


class FakeHandle:
    """The deployment handle of the replica that runs the services."""

    def __init__(self, local: LocalServices) -> None:
        self.invoke = _Invoke(local)


async def test_services_start_in_order_and_reach_siblings_local_or_remote() -> None:
    events.clear()
    remote_store = Store("remote")
    local = await LocalServices.start(
        {
            "pipelines": (Store, ("pipelines",)),
            "monitor": (Store, ("monitor", Sibling("pipelines"))),
            "health": (Store, ("health", Sibling("elsewhere"))),
        },
        remote={"elsewhere": remote_store},
    )
    assert events == ["start pipelines", "start monitor", "start health"]
    assert await local.services["monitor"].ask_sibling() == "pipelines: asked"
    assert await local.services["health"].ask_sibling() == "remote: asked"


async def test_a_local_service_answers_through_a_handle_of_its_own() -> None:
    local = await LocalServices.start(
        {"pipelines": (Store, ("pipelines",)), "monitor": (Store, ("monitor",))}, remote={}
    )
    handle = FakeHandle(local)
    pipelines = ServiceClient(MemberHandle(handle, "pipelines"))
    monitor = ServiceClient(MemberHandle(handle, "monitor"))

    assert await pipelines.call("count", 1, 2, 3) == 3
    assert await monitor.call("describe", detail="fps") == "monitor: fps"
    assert handle.invoke.calls == [
        ("pipelines", "count", (1, 2, 3), {}),
        ("monitor", "describe", (), {"detail": "fps"}),
    ]


async def test_a_service_that_fails_to_stop_does_not_keep_the_others_running() -> None:
    local = await LocalServices.start(
        {
            "pipelines": (Store, ("pipelines",)),
            "monitor": (Store, ("monitor", None, True)),
            "events": (Store, ("ev",)),
        },
        remote={},
    )
    events.clear()
    await local.stop()
    assert events == ["stop ev", "stop monitor", "stop pipelines"]


def test_a_member_handle_pickles_as_serve_ships_it_and_hides_private_names() -> None:
    copy = pickle.loads(pickle.dumps(MemberHandle("the ingress handle", "events")))
    assert copy == MemberHandle("the ingress handle", "events")
    with pytest.raises(AttributeError):
        copy.__setstate__  # noqa: B018 - a probe pickle and copy make


def test_the_combined_replica_reserves_what_its_services_would_together() -> None:
    config = CoralConfig.model_validate(
        {
            "deployments": {
                "combine": True,
                "ingress": {"max_ongoing_requests": 40},
                "pipeline_service": {
                    "max_ongoing_requests": 50,
                    "ray_actor_options": {"num_cpus": 0.1, "resources": {"head": 0.01}},
                },
                "monitor_service": {"ray_actor_options": {"num_cpus": 0.05, "memory": 1000}},
                "event_service": {"ray_actor_options": {"resources": {"head": 0.01}}},
            }
        }
    )
    options = config.deployments.combined({"pipelines", "monitor", "events"}).to_serve()
    assert options["num_replicas"] == 1
    # The services' calls stay in the replica: only the ingress's own requests count.
    assert options["max_ongoing_requests"] == 40
    actor = options["ray_actor_options"]
    # the ingress 0.05 (the default), pipelines 0.1, monitor 0.05, events 0.05
    assert actor["num_cpus"] == pytest.approx(0.25)
    assert actor["memory"] == 1000
    assert actor["resources"] == {"head": pytest.approx(0.02)}


def test_combine_refuses_a_scaled_ingress_and_says_what_to_do() -> None:
    with pytest.raises(ValidationError, match=r"set deployments\.combine=false to scale it"):
        CoralConfig.model_validate(
            {"deployments": {"combine": True, "ingress": {"num_replicas": 2}}}
        )
