"""`Notifier`, the one interface of every event destination, and `EventSinkSpec` for plugins."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "EventSinkSpec",
    "Message",
    "Notifier",
    "NotifierError",
    "PermanentNotifierError",
    "ZoneCounts",
]

ZoneCounts = Mapping[str, Mapping[str, int]]
"""Objects in each zone now, by zone then class: `{"dock": {"person": 2}}`."""


class NotifierError(Exception):
    """Not delivered: keep the message and try again later. The text is safe to show."""


class PermanentNotifierError(NotifierError):
    """The receiver refused this message for good (a 4xx): counted as failed, not retried."""


@dataclass(frozen=True)
class Message:
    """One object-event revision on its way to one notifier.

    `body` is the JSON every notifier sends, `{"idempotency_key": ..., "event": {...}}`;
    `key` is `<event id>:<revision>`, the same on every retry, so receivers drop duplicates.
    """

    key: str
    pipeline_id: str
    body: bytes


class Notifier(ABC):
    """A destination. The dispatcher owns the outbox, ordering, retries and backoff: a
    notifier only delivers one message, or raises `NotifierError` to have it kept."""

    @abstractmethod
    async def deliver(self, message: Message) -> None:
        """Deliver the message or raise; never block the event loop (use a thread)."""

    async def zone_counts(self, pipeline_id: str, counts: ZoneCounts) -> None:  # noqa: B027
        """The latest objects per zone and class of a pipeline; only the newest matters, so
        a notifier that is down may drop them (most have nothing to do with counts)."""

    async def close(self) -> None:  # noqa: B027 - most notifiers hold nothing to release
        """Release connections; called once when the dispatcher stops."""


@dataclass(frozen=True)
class EventSinkSpec:
    """What a `coral_serve.event_sinks` entry point gives (or a callable returning it).

    Configured as `notifications.notifiers: [{type: plugin, plugin: <entry point>,
    options: {...}}]`; `factory` receives `options`.
    """

    name: str
    factory: Callable[[Mapping[str, object]], Notifier]
    description: str = ""
