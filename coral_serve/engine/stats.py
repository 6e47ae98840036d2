"""Counters and latency windows a pipeline reports; safe to read from any thread."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

__all__ = ["LatencyWindow", "PipelineStats", "RateWindow"]


class LatencyWindow:
    """Last value, mean and p95 over the most recent `size` samples (seconds)."""

    def __init__(self, size: int = 120) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._last: float | None = None

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._last = seconds

    def summary(self) -> dict[str, float | None]:
        samples = sorted(self._samples)
        if not samples:
            return {"last": None, "mean": None, "p95": None}
        rank = max(math.ceil(0.95 * len(samples)) - 1, 0)  # nearest-rank percentile
        return {"last": self._last, "mean": sum(samples) / len(samples), "p95": samples[rank]}


class RateWindow:
    """Events per second over the last `seconds`; falls to 0 when events stop."""

    def __init__(self, seconds: float = 5.0) -> None:
        self._seconds = seconds
        self._times: deque[float] = deque()

    def add(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self._seconds:
            self._times.popleft()


class PipelineStats:
    """Every stage writes here; `snapshot()` is what status() reports."""

    def __init__(self, window: int = 120, fps_window: float = 5.0) -> None:
        self._lock = threading.Lock()
        self.frames_read = 0
        self.frames_processed = 0
        self.frames_dropped = 0
        self.reconnects = 0
        self._inference = LatencyWindow(window)
        self._end_to_end = LatencyWindow(window)
        self._fps = RateWindow(fps_window)

    def add_read(self, amount: int = 1) -> None:
        with self._lock:
            self.frames_read += amount

    def add_dropped(self, amount: int = 1) -> None:
        with self._lock:
            self.frames_dropped += amount

    def add_reconnect(self) -> None:
        with self._lock:
            self.reconnects += 1

    def inference(self, seconds: float) -> None:
        with self._lock:
            self._inference.add(seconds)

    def processed(self, end_to_end: float, now: float | None = None) -> None:
        """One frame fully published `end_to_end` seconds after it was captured."""
        with self._lock:
            self.frames_processed += 1
            self._end_to_end.add(end_to_end)
            self._fps.add(time.monotonic() if now is None else now)

    def fps(self) -> float:
        with self._lock:
            return self._fps.rate(time.monotonic())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fps": round(self._fps.rate(time.monotonic()), 3),
                "counters": {
                    "frames_read": self.frames_read,
                    "frames_processed": self.frames_processed,
                    "frames_dropped": self.frames_dropped,
                    "reconnects": self.reconnects,
                },
                "latency": {
                    "inference": self._inference.summary(),
                    "end_to_end": self._end_to_end.summary(),
                },
            }
