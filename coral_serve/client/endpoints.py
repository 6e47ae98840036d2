"""Every plain API call as a method of both clients, declared once.

`endpoint(build)` makes a method out of a call builder of `calls`: the method takes the
builder's parameters (with its defaults and docstring), sends what it builds through the
client's own `send`, and returns the answer (`CoralClient`) or an awaitable of it
(`AsyncCoralClient`). Streams and followers, which differ between the two, are written in
each client.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, overload

from coral_serve.client import calls
from coral_serve.client.calls import Call

__all__ = ["AsyncSender", "Endpoints", "SyncSender", "endpoint"]

P = ParamSpec("P")
T = TypeVar("T")


class SyncSender(Protocol):
    def send(self, call: Call[T]) -> T: ...


class AsyncSender(Protocol):
    async def send(self, call: Call[T]) -> T: ...


class endpoint(Generic[P, T]):
    """A client method that sends `build(*args, **kwargs)`."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, client: None, owner: type) -> endpoint[P, T]: ...

    @overload
    def __get__(self, client: AsyncSender, owner: type) -> Callable[P, Awaitable[T]]: ...

    @overload
    def __get__(self, client: SyncSender, owner: type) -> Callable[P, T]: ...

    def __get__(self, client: Any, owner: type) -> Any:
        if client is None:
            return self
        build = self._build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client.send(build(*args, **kwargs))

        method.__name__ = method.__qualname__ = self._name
        return method


class Endpoints:
    """The methods both clients share; each answers the server's own model."""

    # pipelines
    pipelines = endpoint(calls.list_pipelines)
    pipeline = endpoint(calls.get_pipeline)
    status = endpoint(calls.pipeline_status)
    create = endpoint(calls.create_pipeline)
    update = endpoint(calls.update_pipeline)
    replace = endpoint(calls.replace_pipeline)
    apply = endpoint(calls.apply_pipelines)
    pause = endpoint(calls.pause_pipeline)
    resume = endpoint(calls.resume_pipeline)
    restart = endpoint(calls.restart_pipeline)
    delete = endpoint(calls.delete_pipeline)
    results = endpoint(calls.read_results)
    consume_results = endpoint(calls.consume_results)
    events = endpoint(calls.pipeline_events)
    pipeline_schema = endpoint(calls.pipeline_schema)
    reload = endpoint(calls.reload_config)
    # object events
    object_events = endpoint(calls.object_events)
    object_event = endpoint(calls.object_event)
    delete_object_event = endpoint(calls.delete_object_event)
    event_snapshot = endpoint(calls.event_snapshot)
    event_clip = endpoint(calls.event_clip)
    # video
    snapshot = endpoint(calls.snapshot)
    ice_config = endpoint(calls.ice_config)
    open_webrtc = endpoint(calls.open_webrtc)
    close_webrtc = endpoint(calls.close_webrtc)
    recordings = endpoint(calls.recordings)
    recording = endpoint(calls.recording)
    delete_recording = endpoint(calls.delete_recording)
    probe = endpoint(calls.probe_source)
    # monitoring
    metrics = endpoint(calls.pipeline_metrics)
    line_crossings = endpoint(calls.line_crossings)
    prometheus_metrics = endpoint(calls.prometheus_metrics)
    sinks = endpoint(calls.sinks)
    disk = endpoint(calls.disk)
    cleanup = endpoint(calls.cleanup)
    liveness = endpoint(calls.liveness)
    readiness = endpoint(calls.readiness)
    # the server
    whoami = endpoint(calls.whoami)
    signed_url = endpoint(calls.signed_url)
    config = endpoint(calls.effective_config)
    plugins = endpoint(calls.plugins)
    registry = endpoint(calls.registry)
