"""`PipelineEngine`: one pipeline's stages in overlapping threads, with a thread-safe API."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from coral_serve.engine.analytics.media import EventMedia
from coral_serve.engine.analytics.stage import AnalyticsStage
from coral_serve.engine.annotate import annotate
from coral_serve.engine.channel import Channel, ChannelClosedError
from coral_serve.engine.decoders import Transform
from coral_serve.engine.download import SourceDownload
from coral_serve.engine.errors import EngineError, ModelLoadError
from coral_serve.engine.model import Model, load_model, validate_model
from coral_serve.engine.model_files import ModelFiles
from coral_serve.engine.results import ResultsBuffer
from coral_serve.engine.sessions import SharedSessions
from coral_serve.engine.source import EndOfStream, Frame, SourceState, VideoSource
from coral_serve.engine.stats import PipelineStats
from coral_serve.schema.events import ObjectEvent
from coral_serve.schema.redact import masked_text, masked_uri
from coral_serve.schema.spec import PipelineSpec
from coral_serve.schema.state import PipelineState

__all__ = ["PipelineEngine", "Recorder", "validate_model"]

log = logging.getLogger(__name__)

Recorder = Callable[[np.ndarray, float], None]
LatestFrame = tuple[int, float, bytes]
# A published frame with the result record of that same frame, for live overlays.
LatestView = tuple[int, float, bytes, dict[str, Any]]


# Engines whose threads are alive. Daemon threads still inside FFmpeg or ONNX Runtime when
# the interpreter exits abort the process ("terminate called ..."), so exit stops them first.
_active: weakref.WeakSet[PipelineEngine] = weakref.WeakSet()


@atexit.register
def _stop_active_engines() -> None:
    for engine in list(_active):
        engine.stop(timeout=2.0)


# Frames of a live source allowed between capture and publish: enough for inference of one
# frame to overlap pre- and post-processing of its neighbours, few enough that no backlog
# forms behind a slow stage (the capture queue keeps only the newest frame meanwhile).
_LIVE_IN_FLIGHT = 2


@dataclass(slots=True)
class _Prepared:
    frame: Frame
    tensor: np.ndarray | None
    transform: Transform | None
    slot: bool  # holds one of the live in-flight slots


@dataclass(slots=True)
class _Inferred:
    frame: Frame
    outputs: list[np.ndarray]
    transform: Transform | None
    slot: bool


class PipelineEngine:
    """capture → preprocess → inference → publish, each its own thread.

    One-item queues between the stages let them overlap without building latency. Live
    sources keep only the newest captured frame and at most two frames in flight; files
    and unpaced sources wait instead, losing nothing. Every public method is thread-safe
    and returns promptly (`stop` waits at most its timeout).
    """

    def __init__(
        self,
        spec: PipelineSpec,
        recorder: Recorder | None = None,
        paused: bool = False,
        model_files: ModelFiles | None = None,
        event_media: EventMedia | None = None,
        pipeline_id: str | None = None,
        sessions: SharedSessions | None = None,
        download: SourceDownload | None = None,
    ) -> None:
        """`paused`: start as if `pause()` had been called (a paused pipeline restored after
        a restart must not process a single frame). `model_files`: the roots and size limit
        the model is checked against here, where it is read. `event_media`: keeps the
        snapshots and clips of object events (called for every published frame).
        `pipeline_id`: what object events name as their pipeline (default: the name).
        `sessions`: where the model's session is shared with the process's other pipelines.
        `download`: the source is fetched onto this node before it is opened."""
        self.spec = spec
        self._model_files = model_files
        self._sessions = sessions
        self._recorder = recorder
        self._recorder_failed = False
        self._recorder_errors = 0
        self._event_media = event_media
        self._event_media_failed = False
        self._event_media_errors = 0
        self._analytics = AnalyticsStage(pipeline_id or spec.name, spec.analytics)
        self._stats = PipelineStats()
        self._results = ResultsBuffer(spec.outputs.results_buffer)
        self._lock = threading.Lock()
        self._terminal: PipelineState | None = None
        self._reason: str | None = None
        self._paused = False
        self._model: Model | None = None
        self._started_at: float | None = None
        self._done = threading.Event()
        self._frames: Channel[Frame | EndOfStream] = Channel(1)
        self._prepared: Channel[_Prepared | EndOfStream] = Channel(1)
        self._inferred: Channel[_Inferred | EndOfStream] = Channel(1)
        self._live_slots = threading.Semaphore(_LIVE_IN_FLIGHT)
        self._source = VideoSource(
            spec.source,
            self._frames,
            self._stats,
            self._fail,
            name=f"coral-{spec.name}",
            download=download,
        )
        if paused:
            self.pause()
        self._supervisor: threading.Thread | None = None
        self._stages: list[threading.Thread] = []
        self._frame_cond = threading.Condition()
        self._latest: LatestFrame | None = None
        self._latest_result: dict[str, Any] = {}
        self._encode_period = 1.0 / spec.outputs.stream_fps if spec.outputs.stream_fps else 0.0
        self._next_encode = 0.0
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, spec.outputs.jpeg_quality]

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the source and load the model in the background; returns at once."""
        with self._lock:
            if self._supervisor is not None:
                return
            if self._terminal is not None:
                raise EngineError("a stopped pipeline engine cannot start again; create a new one")
            self._started_at = time.time()
            _active.add(self)
            self._supervisor = threading.Thread(
                target=self._run, name=f"coral-{self.spec.name}-supervisor", daemon=True
            )
            self._supervisor.start()

    def pause(self) -> None:
        """Stop taking new frames (live sources keep draining); no-op unless active."""
        with self._lock:
            if self._terminal is not None or self._paused:
                return
            self._paused = True
        self._source.pause()

    def resume(self) -> None:
        with self._lock:
            if self._terminal is not None or not self._paused:
                return
            self._paused = False
        self._source.resume()

    def update(self, spec: PipelineSpec, recorder: Recorder | None) -> None:
        """Take a spec that differs from the running one in hot fields only
        (schema/changes.py), between two frames: no stage restarts, no frame is lost."""
        with self._lock:
            self.spec = spec
            model = self._model
        if model is not None:
            self._tune(model)
        self._source.spec = spec.source  # max_fps is read per frame
        self._encode_period = 1.0 / spec.outputs.stream_fps if spec.outputs.stream_fps else 0.0
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, spec.outputs.jpeg_quality]
        self._recorder = recorder

    def _tune(self, model: Model) -> None:
        """The decoder's thresholds from the current spec (loaded, or changed since)."""
        if model.decoder is not None:
            wanted = self.spec.model
            model.decoder.confidence = wanted.confidence
            model.decoder.iou = wanted.iou
            model.decoder.max_detections = wanted.max_detections

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop every stage and release the capture and the model; True if all ended in time."""
        with self._lock:
            supervisor = self._supervisor
            self._terminal = PipelineState.stopped
            self._paused = False
        self._done.set()
        self._wake_frame_waiters()
        if supervisor is None or supervisor is threading.current_thread():
            return True
        supervisor.join(timeout)
        return not supervisor.is_alive()

    # -- read side --------------------------------------------------------------------

    @property
    def state(self) -> str:
        with self._lock:
            if self._terminal is not None:
                return self._terminal.value
            if self._paused:
                return PipelineState.paused.value
            source = self._source.state
            if source is SourceState.downloading:
                return PipelineState.downloading.value
            if source is SourceState.reconnecting:
                return PipelineState.reconnecting.value
            if self._model is not None and source in (SourceState.open, SourceState.finished):
                return PipelineState.running.value
            return PipelineState.starting.value

    @property
    def reason(self) -> str | None:
        with self._lock:
            return self._reason

    def latest_frame(self) -> LatestFrame | None:
        """(sequence number, capture timestamp, JPEG) of the newest published frame."""
        with self._frame_cond:
            return self._latest

    def wait_frame(self, after_seq: int, timeout: float) -> LatestFrame | None:
        """Block until a frame newer than `after_seq` exists; None on timeout or pipeline end."""

        def ready() -> bool:
            latest = self._latest
            return (latest is not None and latest[0] > after_seq) or self._done.is_set()

        with self._frame_cond:
            self._frame_cond.wait_for(ready, timeout)
            latest = self._latest
        return latest if latest is not None and latest[0] > after_seq else None

    def wait_view(self, after_seq: int, timeout: float) -> LatestView | None:
        """The newest frame with its result record, once it is not `after_seq`.

        Any other number counts (not only a higher one), so a viewer that followed an
        earlier worker of the pipeline, whose numbers ran higher, gets this one's frames.
        None on timeout or pipeline end.
        """

        def ready() -> bool:
            latest = self._latest
            return (latest is not None and latest[0] != after_seq) or self._done.is_set()

        with self._frame_cond:
            self._frame_cond.wait_for(ready, timeout)
            latest, result = self._latest, self._latest_result
        if latest is None or latest[0] == after_seq:
            return None
        return (*latest, result)

    def consume_results(self, max_items: int = 100, exclude: Sequence[str] = ()) -> list[dict]:
        """Remove and return the oldest result records."""
        return self._results.consume(max_items, exclude)

    def read_results(
        self, after: int = 0, max_items: int = 100, exclude: Sequence[str] = ()
    ) -> list[dict]:
        """Result records newer than `seq` `after`, left for other readers."""
        return self._results.read(after, max_items, exclude)

    def read_object_events(self, after: int = 0, max_items: int = 100) -> list[dict]:
        """Object-event revisions newer than `seq` `after`, oldest first, left for others."""
        return self._analytics.read_events(after, max_items)

    def status(self) -> dict[str, Any]:
        """JSON-ready health and counters; the source URI is masked."""
        snapshot = self._stats.snapshot()
        return {
            "name": self.spec.name,
            "state": self.state,
            "reason": self.reason,
            "source": masked_uri(self.spec.source.uri),
            "live": self._source.live,
            "width": self._source.width,
            "height": self._source.height,
            "source_fps": self._source.fps,
            "started_at": self._started_at,
            **snapshot,
            "results_pending": len(self._results),
            "results_overflowed": self._results.overflowed,
            "recorder_errors": self._recorder_errors,
            "event_media_errors": self._event_media_errors,
            "analytics": self._analytics.counts(),
            "batching": self._batching(),
        }

    def _batching(self) -> dict[str, int] | None:
        """What the shared session batched for all of its pipelines; None: it does not."""
        model = self._model
        stats = getattr(model.backend, "batch_stats", None) if model is not None else None
        found = stats() if stats is not None else None
        return asdict(found) if found is not None else None

    # -- supervisor -------------------------------------------------------------------

    def _run(self) -> None:
        model: Model | None = None
        try:
            self._source.start()
            try:
                model = load_model(self.spec.model, self._model_files, self._sessions)
            except ModelLoadError as exc:
                self._fail(f"model could not be loaded: {exc.detail}")
                return
            with self._lock:
                if self._terminal is not None:
                    return
                self._model = model
            self._tune(model)  # an update may have come while the model loaded
            self._start_stages(model)
            self._done.wait()
        except Exception as exc:  # a bug must still leave the pipeline failed, with a reason
            log.exception("pipeline %s crashed", self.spec.name)
            self._fail(f"internal error: {masked_text(str(exc))}")
        finally:
            self._shutdown(model)

    def _start_stages(self, model: Model) -> None:
        stages: list[tuple[str, Callable[[Model], None]]] = [
            ("preprocess", self._preprocess_stage),
            ("inference", self._inference_stage),
            ("publish", self._publish_stage),
        ]
        for stage, target in stages:
            thread = threading.Thread(
                target=self._guard,
                args=(stage, target, model),
                name=f"coral-{self.spec.name}-{stage}",
                daemon=True,
            )
            self._stages.append(thread)
            thread.start()

    def _shutdown(self, model: Model | None) -> None:
        for channel in (self._frames, self._prepared, self._inferred):
            channel.close()
        self._source.stop(timeout=2.0)
        for thread in self._stages:
            thread.join(timeout=2.0)
        if not any(thread.is_alive() for thread in self._stages):  # else publish still runs
            self._end_events()
        if model is not None:
            if any(thread.is_alive() for thread in self._stages):
                log.warning("pipeline %s: a stage is still busy; model left open", self.spec.name)
            else:
                model.close()
        with self._lock:
            self._model = None
            if self._terminal is None:
                self._terminal = PipelineState.stopped
        self._wake_frame_waiters()
        log.info(
            "pipeline %s ended: %s",
            self.spec.name,
            self._terminal.value if self._terminal else None,
        )

    def _fail(self, reason: str) -> None:
        reason = masked_text(reason)
        with self._lock:
            if self._terminal is not None:
                return
            self._terminal = PipelineState.failed
            self._reason = reason
        log.error("pipeline %s failed: %s", self.spec.name, reason)
        self._done.set()
        self._wake_frame_waiters()

    def _finish(self) -> None:
        with self._lock:
            if self._terminal is None:
                self._terminal = PipelineState.finished
        self._done.set()
        self._wake_frame_waiters()

    def _wake_frame_waiters(self) -> None:
        with self._frame_cond:
            self._frame_cond.notify_all()

    # -- stages -------------------------------------------------------------------------

    def _guard(self, stage: str, target: Callable[[Model], None], model: Model) -> None:
        try:
            target(model)
        except ChannelClosedError:
            return
        except Exception as exc:  # the reason reaches status(); the traceback the log
            log.exception("pipeline %s: %s stage failed", self.spec.name, stage)
            detail = exc.detail if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
            self._fail(f"{stage} failed: {detail}")

    def _preprocess_stage(self, model: Model) -> None:
        while True:
            slot = self._source.lossy  # known once the source is open; files never drop
            if slot:
                self._take_live_slot()
            item = self._frames.get()
            if isinstance(item, EndOfStream):
                self._prepared.put(item)
                return
            tensor, transform = model.prepare(item.image)
            self._prepared.put(_Prepared(item, tensor, transform, slot))

    def _take_live_slot(self) -> None:
        while not self._live_slots.acquire(timeout=0.1):
            if self._done.is_set():
                raise ChannelClosedError

    def _inference_stage(self, model: Model) -> None:
        while True:
            item = self._prepared.get()
            if isinstance(item, EndOfStream):
                self._inferred.put(item)
                return
            if item.tensor is None:
                outputs: list[np.ndarray] = []
            else:
                began = time.perf_counter()
                outputs = model.infer(item.tensor)
                self._stats.inference(time.perf_counter() - began)
            self._inferred.put(_Inferred(item.frame, outputs, item.transform, item.slot))

    def _publish_stage(self, model: Model) -> None:
        while True:
            item = self._inferred.get()
            if isinstance(item, EndOfStream):
                self._end_events()
                self._finish()
                return
            try:
                self._publish(model, item)
            finally:
                if item.slot:
                    self._live_slots.release()

    def _publish(self, model: Model, item: _Inferred) -> None:
        frame = item.frame
        detections = model.decode(item.outputs, item.transform)
        image = frame.image
        size = (image.shape[1], image.shape[0])
        analysed = self._analytics.process(
            detections, frame.frame_id, frame.timestamp, size, self.spec.analytics
        )
        record = {
            "frame_id": frame.frame_id,
            "timestamp": frame.timestamp,
            "source_id": self.spec.name,
            "detections": analysed.detections,
            "crossings": analysed.crossings,
        }
        self._results.append(record)
        if self.spec.outputs.annotate:
            annotate(image, detections)
        if self._recorder is not None:
            self._record(self._recorder, image, frame.timestamp)
        revisions = analysed.revisions
        if self._event_media is not None:
            media = self._event_media
            revisions = self._with_media(
                lambda: media.on_frame(image, frame.timestamp, revisions), revisions
            )
        self._analytics.keep(revisions)
        now = time.monotonic()
        if now + 1e-6 >= self._next_encode:  # stream_fps: encode only as often as asked
            self._next_encode += self._encode_period
            if self._next_encode <= now:
                self._next_encode = now + self._encode_period
            ok, jpeg = cv2.imencode(".jpg", image, self._jpeg_params)
            if ok:
                with self._frame_cond:
                    seq = self._latest[0] + 1 if self._latest is not None else 1
                    self._latest = (seq, frame.timestamp, jpeg.tobytes())
                    self._latest_result = record
                    self._frame_cond.notify_all()
        self._stats.processed(time.monotonic() - frame.captured)

    def _record(self, recorder: Recorder, image: np.ndarray, timestamp: float) -> None:
        try:
            recorder(image, timestamp)
        except Exception:  # a recorder bug must not stop detection or live video
            self._recorder_errors += 1
            if not self._recorder_failed:
                self._recorder_failed = True
                log.exception("pipeline %s: recorder failed; it keeps being called", self.spec.name)

    def _end_events(self) -> None:
        """End the open object events (once: ended events are not open any more)."""
        revisions = self._analytics.finish()
        if revisions and self._event_media is not None:
            media = self._event_media
            revisions = self._with_media(lambda: media.on_stop(revisions), revisions)
        self._analytics.keep(revisions)

    def _with_media(
        self, call: Callable[[], list[ObjectEvent]], revisions: list[ObjectEvent]
    ) -> list[ObjectEvent]:
        """What the media hook returns; `revisions` unchanged if it fails."""
        try:
            return call()
        except Exception:  # a full disk or a media bug must not stop detection
            self._event_media_errors += 1
            if not self._event_media_failed:
                self._event_media_failed = True
                log.exception(
                    "pipeline %s: event media failed; it keeps being called", self.spec.name
                )
            return revisions
