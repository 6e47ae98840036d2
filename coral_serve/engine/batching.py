"""Micro-batching across streams: the engines sharing one session (`pipelines.isolation:
shared`) hand their inputs to a `SessionBatcher`, which runs those that arrive together as one
batch. Accelerators run a batch of N in far less than N single runs; a CPU barely gains.

Each engine has at most one input in flight, so a batch is complete once every engine using
the session has submitted one: the batcher waits `max_wait_ms` only for engines that have not.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from coral_serve.engine.errors import InferenceError

__all__ = ["BatchStats", "SessionBatcher"]


Infer = Callable[[np.ndarray], list[np.ndarray]]


@dataclass(frozen=True)
class BatchStats:
    """What the batcher ran: `batches` counts runs of more than one input."""

    runs: int
    batches: int
    batched_inputs: int


@dataclass
class _Request:
    tensor: np.ndarray
    result: Future[list[np.ndarray]]


class SessionBatcher:
    """Runs the inputs of several threads through `infer` in batches of up to `max_batch`,
    from one thread of its own; `infer` from any thread blocks until its slice is back."""

    def __init__(
        self,
        infer: Infer,
        max_batch: int,
        max_wait_ms: float,
        users: Callable[[], int],
        fixed_batch: int | None = None,
    ) -> None:
        """`users`: how many engines use the session now. `fixed_batch`: the model's batch
        dimension when it is not dynamic; partial batches are padded with zeros to it."""
        self._infer = infer
        self._max_batch = min(max_batch, fixed_batch) if fixed_batch else max_batch
        self._max_wait = max_wait_ms / 1000.0
        self._users = users
        self._fixed_batch = fixed_batch
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._closing = threading.Lock()  # no input slips in after the last one is failed
        self._stats = BatchStats(0, 0, 0)
        self._thread = threading.Thread(target=self._serve, name="session-batcher", daemon=True)
        self._thread.start()

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """`tensor`'s outputs, run in a batch with those other threads submit meanwhile."""
        request = _Request(tensor, Future())
        with self._closing:
            if self._closed.is_set():
                raise InferenceError("the shared session is closed")
            self._requests.put(request)
        return request.result.result()

    def stats(self) -> BatchStats:
        return self._stats

    def close(self) -> None:
        """Stop taking inputs, finish the batch under way, fail any input still waiting."""
        with self._closing:
            self._closed.set()
            self._requests.put(None)
        self._thread.join()
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request is not None:
                request.result.set_exception(InferenceError("the shared session is closed"))

    def _serve(self) -> None:
        while not self._closed.is_set():
            first = self._requests.get()
            if first is None:
                return
            self._run(self._gather(first))

    def _gather(self, first: _Request) -> list[_Request]:
        """`first` and what follows it within `max_wait_ms`, until every user has an input in."""
        batch = [first]
        deadline = time.monotonic() + self._max_wait
        while len(batch) < min(self._max_batch, max(self._users(), 1)):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                request = self._requests.get(timeout=left)
            except queue.Empty:
                break
            if request is None:  # closing: run what came, then stop
                self._requests.put(None)
                break
            batch.append(request)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            outputs = self._infer(self._stacked(batch))
            slices = _split(outputs, [request.tensor.shape[0] for request in batch])
        except Exception as exc:  # each engine reports its own failure
            for request in batch:
                request.result.set_exception(exc)
            return
        for request, own in zip(batch, slices, strict=True):
            request.result.set_result(own)
        stats = self._stats
        many = len(batch) > 1
        self._stats = BatchStats(
            stats.runs + 1,
            stats.batches + many,
            stats.batched_inputs + (len(batch) if many else 0),
        )

    def _stacked(self, batch: list[_Request]) -> np.ndarray:
        if len(batch) == 1 and not self._fixed_batch:
            return batch[0].tensor
        stacked = np.concatenate([request.tensor for request in batch])
        missing = (self._fixed_batch or 0) - stacked.shape[0]
        if missing > 0:
            padding = np.zeros((missing, *stacked.shape[1:]), stacked.dtype)
            stacked = np.concatenate([stacked, padding])
        return stacked


def _split(outputs: list[np.ndarray], rows: list[int]) -> list[list[np.ndarray]]:
    """Each input's rows of every output; InferenceError if an output has no batch dimension."""
    total = sum(rows)
    for output in outputs:
        if output.ndim == 0 or output.shape[0] < total:
            raise InferenceError(
                f"an output of shape {output.shape} has no batch dimension of {total}: "
                "set model.batching.max_batch to 1 for this model"
            )
    bounds = itertools.accumulate(rows, initial=0)
    return [[output[a:b] for output in outputs] for a, b in itertools.pairwise(bounds)]
