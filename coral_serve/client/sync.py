"""`CoralClient`: the blocking client (scripts, the CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from coral_serve.client import calls
from coral_serve.client.calls import Call, connection, finish
from coral_serve.client.endpoints import Endpoints
from coral_serve.client.mjpeg import MultipartJpegParser
from coral_serve.client.stream import Message, SseParser
from coral_serve.schema.records import PipelineEvent

__all__ = ["CoralClient"]

T = TypeVar("T")


class CoralClient(Endpoints):
    """Every method returns the server's model or raises `CoralAPIError`.

    `url` and `token` default to CORAL_URL and CORAL_TOKEN; `transport` is httpx's (tests,
    proxies, mounted apps).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(**connection(url, token, timeout), transport=transport)

    def __enter__(self) -> CoralClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        return finish(call, self._http.request(call.method, call.path, **call.request_args()))

    # -- streams --------------------------------------------------------------------------

    def stream(self, pipeline_id: str, after: int = 0, events: bool = True) -> Iterator[Message]:
        """The pipeline's result records (and object events) as the server sends them,
        from `seq` `after` on; ends when the pipeline is deleted."""
        yield from self._events(calls.results_stream(pipeline_id, after, events))

    def watch(self) -> Iterator[Message]:
        """Every pipeline's view, status changes, chart points and object events, live."""
        yield from self._events(calls.watch_stream())

    def follow_results(
        self, pipeline_id: str, after: int = 0, interval: float = 0.5
    ) -> Iterator[dict[str, Any]]:
        """Result records as they come, from `seq` `after` on, by polling (which works
        through proxies that buffer streams); never ends by itself."""
        while True:
            batch = self.results(pipeline_id, after, max_items=1000)
            yield from batch
            after = batch[-1]["seq"] if batch else after
            if not batch:
                time.sleep(interval)

    def follow_events(
        self, pipeline_id: str, after: int = 0, interval: float = 1.0
    ) -> Iterator[PipelineEvent]:
        """Lifecycle events newer than `seq` `after`, as they are logged; never ends."""
        while True:
            fresh = [event for event in self.events(pipeline_id) if event.seq > after]
            yield from fresh
            after = fresh[-1].seq if fresh else after
            time.sleep(interval)

    def mjpeg(self, pipeline_id: str) -> Iterator[bytes]:
        """Live annotated frames as JPEG, paced by the server, until the pipeline stops."""
        parser = MultipartJpegParser()
        for chunk in self._open(calls.mjpeg_stream(pipeline_id)):
            yield from parser.feed(chunk)

    def _events(self, call: Call[None]) -> Iterator[Message]:
        parser = SseParser()
        for chunk in self._open(call):
            for message in parser.feed_bytes(chunk):
                yield message
                if message.event == "end":
                    return

    def _open(self, call: Call[None]) -> Iterator[bytes]:
        with self._http.stream(
            call.method, call.path, timeout=None, **call.request_args()
        ) as response:
            if response.is_error:
                response.read()
                finish(call, response)
            yield from response.iter_bytes()
