"""`AsyncCoralClient`: the asyncio client, method for method the same as `CoralClient`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from coral_serve.client import calls
from coral_serve.client.calls import Call, connection, finish
from coral_serve.client.endpoints import Endpoints
from coral_serve.client.mjpeg import MultipartJpegParser
from coral_serve.client.stream import Message, SseParser
from coral_serve.schema.records import PipelineEvent

__all__ = ["AsyncCoralClient"]

T = TypeVar("T")


class AsyncCoralClient(Endpoints):
    """Every method returns (an awaitable of) the server's model or raises `CoralAPIError`.

    `url` and `token` default to CORAL_URL and CORAL_TOKEN; `transport` is httpx's (tests,
    proxies, mounted apps).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(**connection(url, token, timeout), transport=transport)

    async def __aenter__(self) -> AsyncCoralClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        response = await self._http.request(call.method, call.path, **call.request_args())
        return finish(call, response)

    # -- streams --------------------------------------------------------------------------

    async def stream(
        self, pipeline_id: str, after: int = 0, events: bool = True
    ) -> AsyncIterator[Message]:
        """The pipeline's result records (and object events) as the server sends them,
        from `seq` `after` on; ends when the pipeline is deleted."""
        async for message in self._events(calls.results_stream(pipeline_id, after, events)):
            yield message

    async def watch(self) -> AsyncIterator[Message]:
        """Every pipeline's view, status changes, chart points and object events, live."""
        async for message in self._events(calls.watch_stream()):
            yield message

    async def follow_results(
        self, pipeline_id: str, after: int = 0, interval: float = 0.5
    ) -> AsyncIterator[dict[str, Any]]:
        """Result records as they come, from `seq` `after` on, by polling (which works
        through proxies that buffer streams); never ends by itself."""
        while True:
            batch = await self.results(pipeline_id, after, max_items=1000)
            for record in batch:
                yield record
            after = batch[-1]["seq"] if batch else after
            if not batch:
                await asyncio.sleep(interval)

    async def follow_events(
        self, pipeline_id: str, after: int = 0, interval: float = 1.0
    ) -> AsyncIterator[PipelineEvent]:
        """Lifecycle events newer than `seq` `after`, as they are logged; never ends."""
        while True:
            fresh = [event for event in await self.events(pipeline_id) if event.seq > after]
            for event in fresh:
                yield event
            after = fresh[-1].seq if fresh else after
            await asyncio.sleep(interval)

    async def mjpeg(self, pipeline_id: str) -> AsyncIterator[bytes]:
        """Live annotated frames as JPEG, paced by the server, until the pipeline stops."""
        parser = MultipartJpegParser()
        async for chunk in self._open(calls.mjpeg_stream(pipeline_id)):
            for frame in parser.feed(chunk):
                yield frame

    async def _events(self, call: Call[None]) -> AsyncIterator[Message]:
        parser = SseParser()
        async for chunk in self._open(call):
            for message in parser.feed_bytes(chunk):
                yield message
                if message.event == "end":
                    return

    async def _open(self, call: Call[None]) -> AsyncIterator[bytes]:
        args = call.request_args()
        async with self._http.stream(call.method, call.path, timeout=None, **args) as response:
            if response.is_error:
                await response.aread()
                finish(call, response)
            async for chunk in response.aiter_bytes():
                yield chunk
