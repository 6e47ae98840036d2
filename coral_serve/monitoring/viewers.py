"""WebRTC viewers per pipeline, summed over the StreamService replicas that report them."""

from __future__ import annotations

import time
from collections.abc import Mapping

__all__ = ["VIEWER_REPORT_TTL", "ViewerCounts"]

# A viewer report older than this is ignored (its StreamService replica stopped reporting).
VIEWER_REPORT_TTL = 30.0


class ViewerCounts:
    """Each replica's latest report replaces its previous one, so a count never drifts; a
    replica that stops reporting drops out after VIEWER_REPORT_TTL."""

    def __init__(self) -> None:
        self._reports: dict[str, tuple[float, dict[str, int]]] = {}

    def report(self, replica: str, viewers: Mapping[str, int]) -> None:
        self._reports[replica] = (time.monotonic(), dict(viewers))

    def totals(self) -> dict[str, int]:
        """Viewers per pipeline id over every replica still reporting."""
        now = time.monotonic()
        counts: dict[str, int] = {}
        for replica, (reported, viewers) in list(self._reports.items()):
            if now - reported > VIEWER_REPORT_TTL:
                del self._reports[replica]
                continue
            for pipeline_id, count in viewers.items():
                counts[pipeline_id] = counts.get(pipeline_id, 0) + count
        return counts
