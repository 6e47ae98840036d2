"""`PipelineWorker`: the object that owns one running pipeline; Ray makes it an actor."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from typing import Any

from coral_serve.config.streams import node_path
from coral_serve.engine.download import SourceDownload, source_download
from coral_serve.engine.encoding import PacketEncoder
from coral_serve.engine.engine import PipelineEngine
from coral_serve.engine.event_media import EventMediaWriter
from coral_serve.engine.event_media_files import event_media_dir
from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.recorder import SegmentRecorder
from coral_serve.engine.recording_files import RecordingSettings
from coral_serve.engine.sessions import SharedSessions
from coral_serve.logs import mask_handlers
from coral_serve.schema.spec import PipelineSpec, SourceSpec
from coral_serve.workers.priority import apply_worker_priority

__all__ = ["PipelineWorker"]

log = logging.getLogger(__name__)


class PipelineWorker:
    """Raw frames stay in here; callers get JPEGs, results and counters."""

    def __init__(
        self,
        pipeline_id: str,
        spec: PipelineSpec,
        generation: int,
        recordings: RecordingSettings | None = None,
        paused: bool = False,
        model_files: ModelFiles | None = None,
        sessions: SharedSessions | None = None,
    ) -> None:
        """`sessions`: the model's session shared with the other pipelines of this process
        (a `PipelineHost`); None loads its own."""
        mask_handlers()  # a Ray actor's process: its logs are masked like the driver's
        apply_worker_priority()  # before the engine's threads, which inherit it
        self.pipeline_id = pipeline_id
        self.generation = generation
        self._recordings = recordings
        self._encoder: PacketEncoder | None = None  # made for the first of recorder, clips
        self._recorder = self._make_recorder(spec)
        self._event_media = self._make_event_media(spec)
        self._download = self._make_download(spec)
        self._engine = PipelineEngine(
            spec,
            recorder=self._encoder,
            paused=paused,
            model_files=model_files,
            pipeline_id=pipeline_id,
            event_media=self._event_media,
            sessions=sessions,
            download=self._download,
        )
        self._engine.start()

    def _make_download(self, spec: PipelineSpec) -> SourceDownload | None:
        """A `download: true` source is fetched here, onto this node's own disk."""
        recordings = self._recordings
        if recordings is None or recordings.data_dir is None or recordings.downloads is None:
            return None
        return source_download(
            spec.source, self.pipeline_id, recordings.data_dir, recordings.downloads
        )

    def _make_recorder(self, spec: PipelineSpec) -> SegmentRecorder | None:
        recordings = self._recordings
        if not spec.outputs.record:
            return None
        if recordings is None:
            log.warning("pipeline %s asks to record but its pool has no recordings dir", spec.name)
            return None
        return SegmentRecorder(
            node_path(recordings.directory, recordings.data_dir) / self.pipeline_id,
            spec.outputs.segment_seconds or recordings.segment_seconds,
            self._shared_encoder(spec),
        )

    def _shared_encoder(self, spec: PipelineSpec) -> PacketEncoder:
        """The pipeline's one encoder: recordings and clips mux the same packets."""
        if self._encoder is None:
            self._encoder = PacketEncoder(name=f"coral-{spec.name}")
        return self._encoder

    def _make_event_media(self, spec: PipelineSpec) -> EventMediaWriter | None:
        """Snapshots and clips of object events, under the node's `<data_dir>/events`."""
        events = spec.analytics.events
        if not events.enabled or not (events.snapshot or events.clip):
            return None
        data_dir = self._recordings.data_dir if self._recordings is not None else None
        if data_dir is None:
            log.warning("pipeline %s keeps event media but its pool has no data dir", spec.name)
            return None
        root = node_path(event_media_dir(data_dir), data_dir)
        encoder = self._shared_encoder(spec) if events.clip else None
        return EventMediaWriter(root / self.pipeline_id, events, encoder, name=f"coral-{spec.name}")

    def update(self, spec: PipelineSpec) -> None:
        """Apply a change of hot fields only, in place: same worker, no frame lost.

        The running source is kept as it is (it may be a downloaded copy of the stored
        one): source fields are cold, so they cannot differ here.
        """
        running = self._engine.spec
        spec = spec.model_copy(
            update={"source": spec.source.model_copy(update={"uri": running.source.uri})}
        )
        if spec.outputs.record != running.outputs.record:
            if self._recorder is not None:
                self._recorder.close()  # keeps the segment recorded so far
            self._recorder = self._make_recorder(spec)
        encoder = self._encoder
        unused = encoder if encoder is not None and not encoder.consumers else None
        if unused is not None:  # recording turned off and no clips: nothing to encode for
            self._encoder = None
        self._engine.update(spec, self._encoder)
        if unused is not None:
            unused.close()

    def source(self) -> SourceSpec:
        """The source as the pipeline was given it, credentials included: the raw live view
        opens it again on StreamService's node (and never shows it)."""
        return self._engine.spec.source

    def identity(self) -> dict[str, Any]:
        return {"pipeline_id": self.pipeline_id, "generation": self.generation}

    def status(self) -> dict[str, Any]:
        status = {**self._engine.status(), "generation": self.generation}
        if self._encoder is not None:
            status["encoding"] = self._encoder.status()
        if self._recorder is not None:
            status["recording"] = self._recorder.status()
        if self._event_media is not None:
            status["event_media"] = self._event_media.status()
        return status

    def discard_download(self) -> None:
        """The pipeline is being deleted: remove its downloaded source from this node (an
        open file keeps playing until the worker is stopped)."""
        if self._download is not None:
            shutil.rmtree(self._download.target.parent, ignore_errors=True)

    def pause(self) -> None:
        self._engine.pause()

    def resume(self) -> None:
        self._engine.resume()

    def stop(self) -> None:
        self._engine.stop()
        if self._encoder is not None:
            self._encoder.close()  # its last packets reach the recorder and the clips
        if self._recorder is not None:
            self._recorder.close()  # keeps the segment recorded so far
        if self._event_media is not None:
            self._event_media.close()

    def latest_frame(self) -> tuple[int, float, bytes] | None:
        return self._engine.latest_frame()

    def wait_frame(self, after_seq: int, timeout: float) -> tuple[int, float, bytes] | None:
        return self._engine.wait_frame(after_seq, timeout)

    def wait_view(
        self, after_seq: int, timeout: float
    ) -> tuple[int, float, bytes, dict[str, Any]] | None:
        """A frame other than `after_seq`, as JPEG, with its result record (live view)."""
        return self._engine.wait_view(after_seq, timeout)

    def consume_results(self, max_items: int, exclude: Sequence[str]) -> list[dict[str, Any]]:
        return self._engine.consume_results(max_items, exclude)

    def read_results(
        self, after: int, max_items: int, exclude: Sequence[str]
    ) -> list[dict[str, Any]]:
        return self._engine.read_results(after, max_items, exclude)

    def read_object_events(self, after: int, max_items: int) -> list[dict[str, Any]]:
        """Object-event revisions, each `{"seq": n, **ObjectEvent}`, newer than `after`; a
        cursor from an earlier worker of the pipeline starts again from the oldest kept."""
        return self._engine.read_object_events(after, max_items)
