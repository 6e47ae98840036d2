"""HTTP request counts merged from every ingress replica, so /metrics is the same on all."""

from __future__ import annotations

import time

from coral_serve.monitoring.http_stats import HttpStats

__all__ = ["HttpReports"]

# Remember each ingress replica's last report this long, to discard retried ones.
_REPLICA_TTL = 3600.0


class HttpReports:
    """The sum of every replica's reports; `stats` is what the registry exposes."""

    def __init__(self) -> None:
        self.stats = HttpStats()
        self._sequences: dict[str, tuple[int, float]] = {}

    def add(self, replica: str, sequence: int, stats: HttpStats) -> None:
        """Counts since the replica's previous report; a report it retries after a lost
        answer carries the same sequence number and counts once."""
        now = time.monotonic()
        last = self._sequences.get(replica)
        if last is None or sequence > last[0]:
            self.stats.merge(stats)
            self._sequences[replica] = (sequence, now)
        for name, (_, seen) in list(self._sequences.items()):
            if now - seen > _REPLICA_TTL:
                del self._sequences[name]
