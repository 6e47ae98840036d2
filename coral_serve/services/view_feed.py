"""ViewFeed: the pipeline views PipelineService last produced, versioned, for long-polls.

Ingress replicas answer list and status reads from their own copy of these views and ask
here only for what changed since the version they hold, so a read never costs a call to
every worker. Each write or read that produces a view publishes it; a read that began
before a newer change (a slow status read racing a delete) publishes nothing for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable

from coral_serve.schema.feed import ViewChanges
from coral_serve.schema.state import PipelineState
from coral_serve.schema.views import PipelineView

__all__ = ["ViewFeed"]

# Deletions remembered for readers that are behind; one further behind gets every view.
_REMEMBERED_REMOVALS = 1024
# States a pipeline leaves by itself soon, without any write.
_SETTLING = frozenset(
    {
        PipelineState.starting,
        PipelineState.downloading,
        PipelineState.restarting,
        PipelineState.reconnecting,
        PipelineState.pending,
    }
)


class ViewFeed:
    def __init__(self) -> None:
        self._epoch = uuid.uuid4().hex
        self._version = 0
        self._views: dict[str, tuple[int, PipelineView]] = {}
        self._removed: dict[str, int] = {}  # id -> version it was removed at
        self._written: dict[str, int] = {}  # id -> version of its last write
        self._floor = 0  # changes after this version can be told one by one
        self._changed = asyncio.Event()
        self.primed = False  # a complete list was published at least once

    @property
    def version(self) -> int:
        """Take it before reading what will be published, and pass it as `read_at`."""
        return self._version

    @property
    def settling(self) -> bool:
        """Some pipeline is in a state it leaves by itself (starting, restarting, ...)."""
        return any(view.status.state in _SETTLING for _, view in self._views.values())

    def publish(self, views: Iterable[PipelineView], read_at: int) -> None:
        """Views read when the feed was at `read_at`; newer ones already here are kept."""
        changed = [
            view
            for view in views
            if not self._changed_since(view.id, read_at)
            and (view.id not in self._views or self._views[view.id][1] != view)
        ]
        if changed:
            version = self._bump()
            for view in changed:
                self._removed.pop(view.id, None)
                self._views[view.id] = (version, view)

    def replace(self, views: list[PipelineView], read_at: int) -> None:
        """A complete list: publish it and remove what it no longer has."""
        self.publish(views, read_at)
        listed = {view.id for view in views}
        for pipeline_id, (version, _) in list(self._views.items()):
            if pipeline_id not in listed and version <= read_at:
                self.remove(pipeline_id)
        self.primed = True

    def touch(self, pipeline_id: str) -> None:
        """The pipeline was just written: reads that began before now publish nothing for
        it, whichever finishes first. Readers are not woken; the write's own read is news."""
        self._version += 1
        self._written[pipeline_id] = self._version

    def remove(self, pipeline_id: str) -> None:
        self._written.pop(pipeline_id, None)
        if self._views.pop(pipeline_id, None) is None:
            return
        self._removed[pipeline_id] = self._bump()
        if len(self._removed) > _REMEMBERED_REMOVALS:
            oldest = next(iter(self._removed))
            self._floor = self._removed.pop(oldest)

    def changes(self, epoch: str, since: int) -> ViewChanges:
        """What changed after `since` of `epoch`, or every view when that cannot be told."""
        full = epoch != self._epoch or not self._floor <= since <= self._version
        after = -1 if full else since
        return ViewChanges(
            epoch=self._epoch,
            since=since,
            version=self._version,
            full=full,
            views=[view for version, view in self._views.values() if version > after],
            removed=[] if full else [pid for pid, v in self._removed.items() if v > after],
        )

    async def wait(self, epoch: str, since: int, timeout: float) -> bool:
        """Whether there is something after `since` to tell, waiting up to `timeout` s."""
        if epoch != self._epoch or since != self._version:
            return True
        changed = self._changed
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        return changed.is_set()

    def _changed_since(self, pipeline_id: str, read_at: int) -> bool:
        current = self._views.get(pipeline_id)
        removed_at = self._removed.get(pipeline_id, -1)
        written_at = self._written.get(pipeline_id, -1)
        return (
            (current is not None and current[0] > read_at)
            or removed_at > read_at
            or written_at > read_at
        )

    def _bump(self) -> int:
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()
        return self._version
