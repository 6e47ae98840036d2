"""One sink's bounded outbox and flush loop, so a sink that is down costs the others nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence

from coral_serve.schema.metrics import SinkStatus
from coral_serve.sinks.base import MetricsSink, SinkError
from coral_serve.sinks.points import Point

__all__ = ["SinkOutbox", "SinkStatus"]

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 10.0
RETRY_INITIAL = 1.0
_ERROR_CHARS = 300


class SinkOutbox:
    """Points wait here between flushes. The buffer (points in flight included) never holds
    more than `capacity`: when full, the oldest are dropped and counted. A failed write keeps
    its points and the next attempt waits 1 s, 2 s, 4 s ... up to `retry_max`."""

    def __init__(
        self,
        name: str,
        sink: MetricsSink,
        capacity: int,
        flush_interval: float,
        retry_max: float,
    ) -> None:
        self.name = name
        self.sink = sink
        self._capacity = capacity
        self._flush_interval = flush_interval
        self._retry_max = retry_max
        self._buffer: deque[Point] = deque()
        self._in_flight = 0
        self._written = 0
        self._dropped = 0
        self._failures = 0
        self._last_error: str | None = None
        self._down_since: float | None = None
        self._next_attempt = time.monotonic() + flush_interval

    def offer(self, points: Sequence[Point]) -> None:
        """Queue points; never blocks and never grows past the capacity."""
        room = self._capacity - self._in_flight
        overflow = len(self._buffer) + len(points) - room
        if overflow > 0:
            from_buffer = min(overflow, len(self._buffer))
            for _ in range(from_buffer):
                self._buffer.popleft()
            points = points[overflow - from_buffer :]
            self._dropped += overflow
        self._buffer.extend(points)

    async def run(self) -> None:
        """Flush on the interval while the sink is up, on the backoff while it is down."""
        while True:
            await asyncio.sleep(max(0.0, self._next_attempt - time.monotonic()))
            await self.flush()

    async def flush(self) -> None:
        """One write attempt of everything buffered; a failure is kept for the next one."""
        if not self._buffer:
            self._schedule(self._flush_interval)
            return
        batch = list(self._buffer)
        self._buffer.clear()
        self._in_flight = len(batch)
        try:
            await asyncio.wait_for(self.sink.write(batch), WRITE_TIMEOUT)
        except asyncio.CancelledError:
            self._buffer.extendleft(reversed(batch))
            raise
        except Exception as exc:  # a sink's failure is data for its status, never a crash
            self._buffer.extendleft(reversed(batch))
            self._failed(exc)
            return
        finally:
            self._in_flight = 0
        self._written += len(batch)
        if self._failures:
            log.info("metric sink %s is back; wrote %d buffered points", self.name, len(batch))
        self._failures = 0
        self._last_error = None
        self._down_since = None
        self._schedule(self._flush_interval)

    def status(self) -> SinkStatus:
        retry_in = max(0.0, self._next_attempt - time.monotonic()) if self._failures else None
        return SinkStatus(
            name=self.name,
            up=self._failures == 0,
            buffered=len(self._buffer) + self._in_flight,
            capacity=self._capacity,
            written=self._written,
            dropped=self._dropped,
            failures=self._failures,
            last_error=self._last_error,
            down_since=self._down_since,
            retry_in=retry_in,
        )

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, SinkError):
            reason = str(exc)
        elif isinstance(exc, asyncio.TimeoutError):
            reason = f"no answer within {WRITE_TIMEOUT:g}s"
        else:
            # Sinks holding secrets raise SinkError with a redacted message; anything else
            # is an unexpected error whose message may be long, hence the cut below.
            reason = f"{type(exc).__name__}: {exc}"
        self._last_error = reason[:_ERROR_CHARS]
        self._failures += 1
        if self._down_since is None:
            self._down_since = time.time()
            log.warning("metric sink %s is down (%s); buffering", self.name, self._last_error)
        delay = min(RETRY_INITIAL * 2 ** (self._failures - 1), self._retry_max)
        self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        self._next_attempt = time.monotonic() + delay
