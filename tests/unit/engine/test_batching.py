"""Micro-batching across the pipelines sharing one session (`model.batching`), on a real ONNX
model with a dynamic batch dimension: each pipeline gets exactly its own results."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coral_serve.engine.backends import create_backend
from coral_serve.engine.batching import SessionBatcher
from coral_serve.engine.engine import PipelineEngine
from coral_serve.engine.errors import InferenceError
from coral_serve.engine.sessions import SharedSessions
from coral_serve.schema.spec import BatchingSpec, ModelSpec, PipelineSpec
from tests.unit.engine.batch_model import SIZE, build_batch_model

pytest.importorskip("onnx")

ENGINES = 4
ROUNDS = 5


def _spec(path: Path, max_batch: int) -> ModelSpec:
    return ModelSpec(
        path=str(path), threads=1, batching={"max_batch": max_batch, "max_wait_ms": 1000}
    )


def _unbatched(spec: ModelSpec) -> ModelSpec:
    return spec.model_copy(update={"batching": BatchingSpec()})


def _inputs(engines: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(1)
    return [
        [rng.random((1, 3, SIZE, SIZE), np.float32) for _ in range(ROUNDS)] for _ in range(engines)
    ]


def _run_together(infers: list[Callable[[np.ndarray], list[np.ndarray]]], inputs) -> list:
    """Each thread's outputs, its inputs submitted in rounds that start together."""
    results: list[list[list[np.ndarray]]] = [[] for _ in infers]
    start = threading.Barrier(len(infers))

    def run(index: int) -> None:
        for tensor in inputs[index]:
            start.wait()
            results[index].append(infers[index](tensor))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(infers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _alone(spec: ModelSpec, inputs: list[list[np.ndarray]]) -> list:
    backend = create_backend(_unbatched(spec))
    try:
        return [[backend.infer(tensor) for tensor in own] for own in inputs]
    finally:
        backend.close()


def _assert_same(got: list, expected: list) -> None:
    for own, wanted in zip(got, expected, strict=True):
        assert len(own) == len(wanted) == ROUNDS
        for outputs, reference in zip(own, wanted, strict=True):
            assert [o.shape for o in outputs] == [r.shape for r in reference]
            assert all(np.array_equal(o, r) for o, r in zip(outputs, reference, strict=True))


def test_inputs_of_pipelines_sharing_a_session_run_as_one_batch(tmp_path: Path) -> None:
    spec = _spec(build_batch_model(tmp_path / "dynamic.onnx"), ENGINES)
    inputs = _inputs(ENGINES)
    sessions = SharedSessions()
    users = [sessions.acquire(spec) for _ in range(ENGINES)]
    unbatched = sessions.acquire(_unbatched(spec))
    assert sessions.sessions() == 2  # batching is part of what makes a session the same one
    unbatched.close()

    got = _run_together([user.infer for user in users], inputs)

    _assert_same(got, _alone(spec, inputs))
    stats = users[0].batch_stats()
    assert stats is not None and stats.batches >= 1
    assert stats.runs < ENGINES * ROUNDS  # inputs were run together, not one by one
    assert stats.batched_inputs >= 2 * stats.batches
    [described] = sessions.describe()
    assert described["users"] == ENGINES and described["batching"]["runs"] == stats.runs
    for user in users:
        user.close()
    assert sessions.sessions() == 0
    with pytest.raises(InferenceError):
        users[0].infer(inputs[0][0])


def test_a_fixed_batch_of_one_runs_inputs_one_after_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = _spec(build_batch_model(tmp_path / "single.onnx", batch=1), ENGINES)
    inputs = _inputs(2)
    sessions = SharedSessions()
    with caplog.at_level(logging.WARNING, logger="coral_serve.engine.sessions"):
        users = [sessions.acquire(spec) for _ in range(2)]
    # Said once per session, not once per pipeline.
    assert len([r for r in caplog.records if "fixed batch of 1" in r.getMessage()]) == 1
    assert users[0].batch_stats() is None

    _assert_same(_run_together([u.infer for u in users], inputs), _alone(spec, inputs))
    for user in users:
        user.close()


def test_a_fixed_batch_larger_than_one_is_padded(tmp_path: Path) -> None:
    spec = _spec(build_batch_model(tmp_path / "four.onnx", batch=4), max_batch=8)
    inputs = _inputs(2)
    sessions = SharedSessions()
    users = [sessions.acquire(spec) for _ in range(2)]

    got = _run_together([u.infer for u in users], inputs)

    reference = create_backend(_unbatched(spec))
    padded = np.zeros((4, 3, SIZE, SIZE), np.float32)
    expected = []
    for own in inputs:
        rows = []
        for tensor in own:
            padded[0] = tensor[0]
            rows.append([output[:1] for output in reference.infer(padded)])
        expected.append(rows)
    reference.close()
    _assert_same(got, expected)
    stats = users[0].batch_stats()
    assert stats is not None and stats.runs == ROUNDS * 2 - stats.batched_inputs + stats.batches
    for user in users:
        user.close()


def test_pipelines_report_the_batches_of_their_shared_session(
    tmp_path: Path, short_video: Path
) -> None:
    """Two unpaced pipelines of one model: the worker status counts the batches formed."""
    model = build_batch_model(tmp_path / "dynamic.onnx")
    sessions = SharedSessions()
    engines = [
        PipelineEngine(
            PipelineSpec.model_validate(
                {
                    "name": f"batched-{n}",
                    "source": {"uri": str(short_video), "pacing": "unpaced", "loop": True},
                    "model": {
                        "path": str(model),
                        "batching": {"max_batch": 2, "max_wait_ms": 50},
                        "confidence": 0.99,
                    },
                }
            ),
            sessions=sessions,
        )
        for n in range(2)
    ]
    for engine in engines:
        engine.start()
    try:
        deadline = time.monotonic() + 60
        while not _batched(engines[0].status()):
            assert engines[0].state != "failed" and time.monotonic() < deadline
            time.sleep(0.1)
        second = engines[1].status()
    finally:
        for engine in engines:
            engine.stop()
    assert _batched(second)  # one session: both pipelines report its batches


def _batched(status: dict) -> bool:
    return bool(status["batching"] and status["batching"]["batches"] >= 1)


def test_a_closed_batcher_fails_what_waits_and_refuses_more() -> None:
    batcher = SessionBatcher(lambda batch: [batch * 2], 2, 10_000, users=lambda: 2)
    results: list[object] = []

    def submit() -> None:
        try:
            results.append(batcher.infer(np.ones((1, 2), np.float32)))
        except InferenceError as exc:
            results.append(exc)

    waiting = threading.Thread(target=submit)
    waiting.start()
    time.sleep(0.2)  # the batcher holds it, waiting for a second input
    batcher.close()
    waiting.join(5)
    assert len(results) == 1  # the batch under way ran, or its input failed: never stuck
    with pytest.raises(InferenceError):
        batcher.infer(np.ones((1, 2), np.float32))


def test_an_output_without_a_batch_dimension_fails_each_input() -> None:
    batcher = SessionBatcher(lambda batch: [np.zeros((1, 5))], 2, 1000, users=lambda: 2)
    errors: list[Exception] = []

    def submit() -> None:
        try:
            batcher.infer(np.ones((1, 2), np.float32))
        except InferenceError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    batcher.close()
    assert len(errors) == 2 and "max_batch to 1" in str(errors[0])
