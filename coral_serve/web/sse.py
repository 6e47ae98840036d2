"""Server-Sent Events as the routes that stream them write each one."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MEDIA_TYPE", "sse_event"]

MEDIA_TYPE = "text/event-stream"


def sse_event(name: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One event: its `id` (what a reconnecting EventSource sends back), name and JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
