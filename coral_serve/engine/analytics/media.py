"""`EventMedia`: the hook through which object events get their snapshots and clips."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from coral_serve.schema.events import ObjectEvent

__all__ = ["EventMedia"]


class EventMedia(Protocol):
    """Called by the publish stage for every published frame; must not block.

    The engine owns the frame: an implementation that keeps it past the call (a snapshot
    written later, a clip ring) copies it. Raising is logged and counted, never fatal, so a
    full disk never stops detection.
    """

    def on_frame(
        self, image: np.ndarray, timestamp: float, revisions: list[ObjectEvent]
    ) -> list[ObjectEvent]:
        """`image`: the annotated BGR frame; `revisions`: the object-event revisions this
        frame made (often none). Returns them, with `has_snapshot` / `clip` set where this
        frame's media was kept; the returned revisions are the ones the worker reports."""
        ...

    def on_stop(self, revisions: list[ObjectEvent]) -> list[ObjectEvent]:
        """Called once when the pipeline stops or its file ends, with the `end` revisions of
        the events still open (no frame comes with them); returns them as `on_frame` does."""
        ...
