"""`PipelineWorker`: the object that owns one running pipeline; Ray makes it an actor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coral_serve.engine.engine import PipelineEngine
from coral_serve.engine.model import ModelFiles
from coral_serve.engine.recorder import RecordingSettings, SegmentRecorder
from coral_serve.logs import mask_handlers
from coral_serve.schema.spec import PipelineSpec

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
    ) -> None:
        mask_handlers()  # a Ray actor's process: its logs are masked like the driver's
        self.pipeline_id = pipeline_id
        self.generation = generation
        self._recorder: SegmentRecorder | None = None
        if spec.outputs.record and recordings is not None:
            self._recorder = SegmentRecorder(
                Path(recordings.directory) / pipeline_id,
                spec.outputs.segment_seconds or recordings.segment_seconds,
                name=f"coral-{spec.name}",
            )
        elif spec.outputs.record:
            log.warning("pipeline %s asks to record but its pool has no recordings dir", spec.name)
        self._engine = PipelineEngine(
            spec, recorder=self._recorder, paused=paused, model_files=model_files
        )
        self._engine.start()

    def identity(self) -> dict[str, Any]:
        return {"pipeline_id": self.pipeline_id, "generation": self.generation}

    def status(self) -> dict[str, Any]:
        status = {**self._engine.status(), "generation": self.generation}
        if self._recorder is not None:
            status["recording"] = self._recorder.status()
        return status

    def pause(self) -> None:
        self._engine.pause()

    def resume(self) -> None:
        self._engine.resume()

    def stop(self) -> None:
        self._engine.stop()
        if self._recorder is not None:
            self._recorder.close()  # keeps the segment recorded so far

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
