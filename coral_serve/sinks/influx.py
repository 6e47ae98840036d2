"""`influx`: the InfluxDB v2 write API through `influxdb-client`, in batches.

VictoriaMetrics accepts the same API, so one sink serves both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client import Point as InfluxPoint
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi

from coral_serve.config.monitoring import InfluxSinkConfig
from coral_serve.sinks.base import MetricsSink, SinkError
from coral_serve.sinks.points import Point

__all__ = ["InfluxSink"]

_NANOS = 1_000_000_000


class InfluxSink(MetricsSink):
    """Writes synchronously in a thread so a failure reaches the outbox, which retries and
    buffers; the client's own background batching would hide failures and buffer without
    bound. The token is sent as a header and never appears in errors or logs."""

    def __init__(self, config: InfluxSinkConfig, timeout: float) -> None:
        self._config = config
        self._timeout_ms = int(timeout * 1000)
        self._client: InfluxDBClient | None = None
        self._api: WriteApi | None = None

    async def write(self, points: Sequence[Point]) -> None:
        records = [_record(point) for point in points]
        try:
            await asyncio.to_thread(self._write, records)
        except Exception as exc:
            raise SinkError(self._redact(f"{type(exc).__name__}: {exc}")) from None

    async def close(self) -> None:
        client, self._client, self._api = self._client, None, None
        if client is not None:
            await asyncio.to_thread(client.close)

    def _write(self, records: list[InfluxPoint]) -> None:
        if self._api is None:
            self._client = InfluxDBClient(
                url=self._config.url,
                token=self._config.token.get_secret_value(),
                org=self._config.org,
                timeout=self._timeout_ms,
            )
            self._api = self._client.write_api(write_options=SYNCHRONOUS)
        size = self._config.batch_size
        for start in range(0, len(records), size):
            self._api.write(
                bucket=self._config.bucket,
                org=self._config.org,
                record=records[start : start + size],
                write_precision=WritePrecision.NS,
            )

    def _redact(self, text: str) -> str:
        token = self._config.token.get_secret_value()
        return text.replace(token, "***") if token else text


def _record(point: Point) -> InfluxPoint:
    record = InfluxPoint(point.measurement)
    for key, value in point.tags.items():
        record.tag(key, value)
    for key, value in point.fields.items():
        record.field(key, value)
    return record.time(int(point.time * _NANOS), WritePrecision.NS)
