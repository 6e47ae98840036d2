"""`PipelineWorker`: the object that owns one running pipeline; Ray makes it an actor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coral_serve.engine.engine import PipelineEngine
from coral_serve.engine.spec import PipelineSpec

__all__ = ["PipelineWorker"]


class PipelineWorker:
    """Raw frames stay in here; callers get JPEGs, results and counters."""

    def __init__(self, pipeline_id: str, spec: PipelineSpec, generation: int) -> None:
        self.pipeline_id = pipeline_id
        self.generation = generation
        self._engine = PipelineEngine(spec)
        self._engine.start()

    def identity(self) -> dict[str, Any]:
        return {"pipeline_id": self.pipeline_id, "generation": self.generation}

    def status(self) -> dict[str, Any]:
        return {**self._engine.status(), "generation": self.generation}

    def pause(self) -> None:
        self._engine.pause()

    def resume(self) -> None:
        self._engine.resume()

    def stop(self) -> None:
        self._engine.stop()

    def latest_frame(self) -> tuple[int, float, bytes] | None:
        return self._engine.latest_frame()

    def wait_frame(self, after_seq: int, timeout: float) -> tuple[int, float, bytes] | None:
        return self._engine.wait_frame(after_seq, timeout)

    def consume_results(self, max_items: int, exclude: Sequence[str]) -> list[dict[str, Any]]:
        return self._engine.consume_results(max_items, exclude)
