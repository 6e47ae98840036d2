"""`EventMediaWriter`: the worker's `EventMedia`: best-frame snapshots and clips of object events.

Clips are cut from the packets of the pipeline's `PacketEncoder` (the one its recordings
are muxed from too): a ring of them `pre_capture` seconds deep; a clip is those packets from
the last keyframe before `start - pre_capture`, then every new packet until
`end + post_capture`, muxed into MP4 without encoding anything again. Muxing and JPEG writes
run in one thread of their own: the publish stage only queues a copy of a snapshot's frame
(dropped while the thread is behind, never video delayed), the encoder queues its packets.

Files: `<data_dir>/events/<pipeline_id>/<event_id>{.jpg,-crop.jpg,.mp4}` (`event_media_path`
in `event_media_files`), each written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from coral_serve.engine.encoding import Packet, PacketEncoder, PacketFile
from coral_serve.engine.event_media_files import MEDIA_KINDS, MediaKind
from coral_serve.schema.analytics import EventsSpec
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent

__all__ = ["EventMediaWriter"]

log = logging.getLogger(__name__)

_TEMP_PREFIX = ".event-"
# Snapshots waiting for the media thread; beyond this they are dropped.
_QUEUE_ITEMS = 64
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 85]
_HIGHLIGHT = (0, 215, 255)  # BGR amber: the event's own box on its snapshot


@dataclass(frozen=True)
class _Snapshot:
    event_id: str
    image: np.ndarray
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class _ClipMark:
    """A clip to start (`end` None) or the end of its event."""

    event_id: str
    start: float
    end: float | None = None


@dataclass(frozen=True)
class _EndAll:
    """End every open clip now, with the video it holds (the pipeline stops)."""


_Item = Packet | _Snapshot | _ClipMark | _EndAll


@dataclass
class _Tracked:
    """What the writer remembers of an event between its revisions."""

    best_score: float = -1.0
    has_snapshot: bool = False
    clip: ClipState = ClipState.none
    clip_reason: str | None = None
    last: ObjectEvent | None = None


@dataclass
class _Clip:
    event_id: str
    begin: float
    path: Path
    temp: Path
    stop_at: float | None = None
    file: PacketFile | None = None

    def mux(self, packet: Packet) -> None:
        if self.file is None:
            if not packet.keyframe:
                return  # a clip starts on a keyframe: those before it cannot be decoded
            self.file = PacketFile(self.temp, packet)
        self.file.mux(packet)

    def finish(self) -> None:
        if self.file is None:
            raise RuntimeError("no video of the event was encoded")
        self.file.close()
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()


class EventMediaWriter:
    """Implements the engine's `EventMedia` for one pipeline (see the module docstring);
    `encoder` (needed for clips) is the pipeline's, which the engine gives every frame."""

    def __init__(
        self,
        directory: Path,
        events: EventsSpec,
        encoder: PacketEncoder | None = None,
        name: str = "events",
    ) -> None:
        if events.clip and encoder is None:
            raise ValueError("clips are cut from a PacketEncoder's packets")
        self.directory = directory
        self._spec = events
        self._encoder = encoder if events.clip else None
        self.dropped = 0
        self.errors = 0
        self._tracked: dict[str, _Tracked] = {}
        self._finished: list[tuple[str, ClipState, str | None]] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._closed = False
        # Owned by the media thread:
        self._size: tuple[int, int] | None = None  # of the packets in the ring
        self._ring: deque[Packet] = deque()
        self._clips: dict[str, _Clip] = {}
        directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name=f"{name}-media", daemon=True)
        self._thread.start()
        if self._encoder is not None:
            self._encoder.subscribe(self)

    # -- the publish stage's side ------------------------------------------------------

    def on_frame(
        self, image: np.ndarray, timestamp: float, revisions: list[ObjectEvent]
    ) -> list[ObjectEvent]:
        """Queue what this frame must give (a copy), and mark the revisions accordingly; a
        clip finished since the last call adds one revision of its event (`clip` ready or
        failed)."""
        if self._closed:
            return revisions
        out = [self._mark(image, revision) for revision in revisions]
        return out + self._clip_revisions()

    def on_stop(self, revisions: list[ObjectEvent]) -> list[ObjectEvent]:
        """The pipeline stops (or its file ends) with these events open: their clips end
        with the video there is, and each ready clip is reported by one more revision."""
        if self._closed:
            return revisions
        out = [self._mark(None, revision) for revision in revisions]
        if self._encoder is not None:
            self._encoder.flush()  # the clips get every frame published before the stop
        self._offer(_EndAll())
        self.flush()
        return out + self._clip_revisions()

    def on_packet(self, packet: Packet) -> None:
        """From the encoder's thread: always queued (small, and one lost would spoil a GOP)."""
        self._queue.put_nowait(packet)

    def on_idle(self) -> None:
        """A gap in the video changes nothing here: open clips wait for their `stop_at`."""

    def flush(self) -> None:
        """Wait until every item queued so far is handled (a worker stopping, a test)."""
        self._queue.join()

    def close(self, timeout: float = 10.0) -> None:
        """Finish open clips with what they hold and end the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._encoder is not None:
            self._encoder.unsubscribe(self)
        self._queue.put(None)
        self._thread.join(timeout)

    def status(self) -> dict[str, int]:
        return {"dropped": self.dropped, "errors": self.errors, "open_clips": len(self._clips)}

    def _mark(self, image: np.ndarray | None, revision: ObjectEvent) -> ObjectEvent:
        tracked = self._tracked.setdefault(revision.id, _Tracked())
        if image is not None and self._spec.snapshot and revision.best_score > tracked.best_score:
            x1, y1, x2, y2 = (round(v) for v in revision.box)
            if self._offer(_Snapshot(revision.id, image.copy(), (x1, y1, x2, y2))):
                tracked.has_snapshot = True
                tracked.best_score = revision.best_score  # dropped: the next better one tries
        if self._spec.clip and tracked.clip is ClipState.none:
            tracked.clip = ClipState.pending
            self._offer(_ClipMark(revision.id, revision.start))
        if self._spec.clip and revision.phase is EventPhase.end:
            self._offer(_ClipMark(revision.id, revision.start, revision.end))
        with self._lock:
            marked = revision.model_copy(
                update={
                    "has_snapshot": tracked.has_snapshot,
                    "clip": tracked.clip,
                    "clip_reason": tracked.clip_reason,
                }
            )
            tracked.last = marked
            if revision.phase is EventPhase.end and not self._spec.clip:
                del self._tracked[revision.id]
        return marked

    def _clip_revisions(self) -> list[ObjectEvent]:
        with self._lock:
            finished, self._finished = self._finished, []
            made = []
            for event_id, state, reason in finished:
                tracked = self._tracked.pop(event_id, None)
                if tracked is None or tracked.last is None:
                    continue
                made.append(
                    tracked.last.model_copy(
                        update={
                            "revision": tracked.last.revision + 1,
                            "clip": state,
                            "clip_reason": reason,
                        }
                    )
                )
        return made

    def _offer(self, item: _Item) -> bool:
        """Queue an item without waiting. A snapshot (a whole frame) is dropped while the
        thread is behind; a clip mark always goes in (it is small and losing it would lose a
        clip)."""
        if isinstance(item, _Snapshot) and self._queue.qsize() >= _QUEUE_ITEMS:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("event media of %s cannot keep up; dropping frames", self.directory)
            return False
        self._queue.put_nowait(item)
        return True

    # -- the media thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                self._handle(item)
            finally:
                self._queue.task_done()
            if item is None:
                return

    def _handle(self, item: _Item | None) -> None:
        try:
            if item is None or isinstance(item, _EndAll):
                for clip in list(self._clips.values()):
                    self._end_clip(clip)
            elif isinstance(item, Packet):
                self._take(item)
            elif isinstance(item, _Snapshot):
                self._write_snapshot(item)
            elif item.end is None:
                self._start_clip(item)
            elif (clip := self._clips.get(item.event_id)) is not None:
                clip.stop_at = item.end + self._spec.post_capture
        except Exception:  # a full disk or a bad frame costs this item, not the thread
            self.errors += 1
            if self.errors == 1:
                log.exception("event media in %s failed", self.directory)

    def _write_snapshot(self, item: _Snapshot) -> None:
        height, width = item.image.shape[:2]
        x1, y1, x2, y2 = item.box
        pad_x, pad_y = (x2 - x1) // 10, (y2 - y1) // 10
        crop = item.image[
            max(y1 - pad_y, 0) : min(y2 + pad_y, height),
            max(x1 - pad_x, 0) : min(x2 + pad_x, width),
        ]
        if crop.size:
            self._write_jpeg(item.event_id, "crop", crop)
        cv2.rectangle(item.image, (x1, y1), (x2, y2), _HIGHLIGHT, 3)
        self._write_jpeg(item.event_id, "snapshot", item.image)

    def _write_jpeg(self, event_id: str, kind: MediaKind, image: np.ndarray) -> None:
        ok, jpeg = cv2.imencode(".jpg", image, _JPEG)
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        path = self.directory / f"{event_id}{MEDIA_KINDS[kind]}"
        temp = self.directory / f"{_TEMP_PREFIX}{path.name}"
        temp.write_bytes(jpeg.tobytes())
        os.replace(temp, path)

    def _take(self, packet: Packet) -> None:
        if packet.size != self._size:  # a new resolution (a new encoder) ends open clips
            for clip in list(self._clips.values()):
                self._end_clip(clip)
            self._ring.clear()
            self._size = packet.size
        self._ring.append(packet)
        for clip in list(self._clips.values()):
            if packet.timestamp >= clip.begin:
                clip.mux(packet)
            if clip.stop_at is not None and packet.timestamp >= clip.stop_at:
                self._end_clip(clip)
        self._trim_ring()

    def _trim_ring(self) -> None:
        """Keep `pre_capture` seconds behind the newest packet, from a keyframe on."""
        if not self._ring:
            return
        horizon = self._ring[-1].timestamp - self._spec.pre_capture
        keyframes = [p.timestamp for p in self._ring if p.keyframe and p.timestamp <= horizon]
        keep_from = keyframes[-1] if keyframes else self._ring[0].timestamp
        while self._ring and self._ring[0].timestamp < keep_from:
            self._ring.popleft()

    def _start_clip(self, mark: _ClipMark) -> None:
        path = self.directory / f"{mark.event_id}{MEDIA_KINDS['clip']}"
        clip = _Clip(
            mark.event_id,
            mark.start - self._spec.pre_capture,
            path,
            self.directory / f"{_TEMP_PREFIX}{path.name}",
        )
        self._clips[mark.event_id] = clip
        keyframes = [p.timestamp for p in self._ring if p.keyframe and p.timestamp <= clip.begin]
        first = keyframes[-1] if keyframes else clip.begin
        for packet in self._ring:
            if packet.timestamp >= first:
                clip.mux(packet)

    def _end_clip(self, clip: _Clip) -> None:
        self._clips.pop(clip.event_id, None)
        try:
            clip.finish()
            state, reason = ClipState.ready, None
        except Exception as exc:
            clip.discard()
            state, reason = ClipState.failed, f"the clip could not be written: {exc}"
            log.warning("clip of event %s in %s failed: %s", clip.event_id, self.directory, exc)
        with self._lock:
            tracked = self._tracked.get(clip.event_id)
            if tracked is not None:
                tracked.clip, tracked.clip_reason = state, reason
            self._finished.append((clip.event_id, state, reason))
