"""Server-Sent Events as the results stream sends them: `event:`, `id:` and `data:` lines,
one message per blank line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message", "SseParser"]


@dataclass(frozen=True)
class Message:
    """`result` (a result record), `object_event` (a stored object event) or `end` (the
    pipeline went away: `data["detail"]` says why)."""

    event: str
    data: dict[str, Any]
    id: str | None = None


@dataclass
class SseParser:
    """Fed one line at a time (without its newline), or bytes as they come; returns the
    message a blank line ends."""

    _event: str = "message"
    _id: str | None = None
    _data: list[str] = field(default_factory=list)
    _partial: bytes = b""  # a line not ended yet in the bytes fed so far

    def feed_bytes(self, chunk: bytes) -> list[Message]:
        """The messages that `chunk` (any slice of the body) completes."""
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        found = (self.feed(line.decode().removesuffix("\r")) for line in lines)
        return [message for message in found if message is not None]

    def feed(self, line: str) -> Message | None:
        if not line:
            if not self._data:
                return None
            message = Message(self._event, json.loads("\n".join(self._data)), self._id)
            self._event, self._id, self._data = "message", None, []
            return message
        if line.startswith(":"):  # a heartbeat comment
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "data":
            self._data.append(value)
        return None
