"""PipelineEngine's state machine, pacing, sources and outputs, on real video."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from coral_serve.engine.engine import PipelineEngine
from coral_serve.schema.spec import PipelineSpec
from tests.unit.engine.support import MjpegServer, wait_until


def make_engine(uri: str, recorder: Any = None, **source: Any) -> PipelineEngine:
    model = source.pop("model", {"backend": "none"})
    outputs = source.pop("outputs", {})
    spec = PipelineSpec.model_validate(
        {"name": "test", "source": {"uri": uri, **source}, "model": model, "outputs": outputs}
    )
    return PipelineEngine(spec, recorder=recorder)


def processed(engine: PipelineEngine) -> int:
    return engine.status()["counters"]["frames_processed"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_start_pause_resume_stop(short_video: Path) -> None:
    engine = make_engine(str(short_video), loop=True)  # paced at the file's 10 fps
    assert engine.state == "starting"
    engine.start()
    engine.start()  # idempotent
    assert wait_until(lambda: engine.state == "running", timeout=5)
    assert wait_until(lambda: engine.latest_frame() is not None, timeout=5)
    engine.pause()
    engine.pause()
    assert engine.state == "paused"
    time.sleep(0.3)  # frames already in flight drain
    frozen = processed(engine)
    time.sleep(0.4)
    assert processed(engine) == frozen
    engine.resume()
    engine.resume()
    assert engine.state == "running"
    assert wait_until(lambda: processed(engine) >= frozen + 2, timeout=3)
    assert engine.stop() is True
    assert engine.state == "stopped"
    assert engine.stop() is True
    engine.pause()
    engine.resume()
    assert engine.state == "stopped" and engine.reason is None
    assert engine.wait_frame(10**9, timeout=5) is None  # returns at once once stopped


def test_start_returns_while_the_source_is_still_opening() -> None:
    with socket.socket() as silent:  # accepts connections, never answers: opening hangs
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        engine = make_engine(f"http://127.0.0.1:{silent.getsockname()[1]}/live.mjpg", timeout=2)
        engine.start()
        try:
            assert engine.state == "starting" and engine.latest_frame() is None
        finally:
            engine.stop()


def test_file_end_finishes_with_every_frame(short_video: Path) -> None:
    recorded: list[tuple[tuple[int, ...], float]] = []
    engine = make_engine(
        str(short_video),
        recorder=lambda image, ts: recorded.append((image.shape, ts)),
        pacing="unpaced",
        outputs={"results_buffer": 40},
    )
    engine.start()
    assert wait_until(lambda: engine.state == "finished", timeout=10), engine.status()
    status = engine.status()
    assert status["counters"] == {
        "frames_read": 100,
        "frames_processed": 100,
        "frames_dropped": 0,
        "reconnects": 0,
    }
    assert status["live"] is False and status["source_fps"] == 10.0
    assert len(recorded) == 100 and recorded[0][0] == (576, 768, 3)
    latest = engine.latest_frame()
    assert latest is not None and latest[0] == 100 and latest[2][:2] == b"\xff\xd8"
    assert engine.wait_frame(latest[0], timeout=5) is None  # finished: nothing newer comes
    # the results ring kept only the newest 40 records, and consuming removes them
    assert status["results_pending"] == 40 and status["results_overflowed"] == 60
    first = engine.consume_results(max_items=30, exclude=["detections"])
    assert [r["frame_id"] for r in first] == list(range(60, 90))
    assert set(first[0]) == {"seq", "frame_id", "timestamp", "source_id", "crossings"}
    rest = engine.consume_results()
    assert [r["frame_id"] for r in rest] == list(range(90, 100))
    assert rest[0]["detections"] == [] and rest[0]["source_id"] == "test"
    assert engine.consume_results() == []
    engine.stop()
    assert engine.state == "stopped"


def test_loop_keeps_a_file_running(short_video: Path) -> None:
    engine = make_engine(str(short_video), pacing="unpaced", loop=True)
    engine.start()
    try:
        assert wait_until(lambda: processed(engine) > 150, timeout=10)
        assert engine.state == "running"
    finally:
        engine.stop()


def test_max_fps_subsamples_by_media_time(short_video: Path) -> None:
    engine = make_engine(str(short_video), pacing="unpaced", max_fps=5, resize=[320, 240])
    engine.start()
    assert wait_until(lambda: engine.state == "finished", timeout=10)
    status = engine.status()
    assert status["counters"]["frames_processed"] == 50  # every other frame of a 10 fps file
    assert (status["width"], status["height"]) == (320, 240)
    engine.stop()


def test_file_is_paced_at_its_own_fps(short_video: Path) -> None:
    engine = make_engine(str(short_video), outputs={"stream_fps": 2})
    began = time.monotonic()
    engine.start()
    try:
        assert wait_until(lambda: processed(engine) >= 15, timeout=30)
        # Pacing never runs ahead of the file's clock (a busy box only makes it slower);
        # the rate it holds is a figure of bench/engine.py.
        elapsed, count = time.monotonic() - began, processed(engine)
        latest = engine.latest_frame()
    finally:
        engine.stop()
    assert count <= 10 * elapsed + 1, (count, elapsed)
    assert latest is not None and latest[0] <= 2 * elapsed + 1  # JPEGs limited to stream_fps=2


def test_wait_frame_blocks_until_a_newer_frame(short_video: Path) -> None:
    engine = make_engine(str(short_video), loop=True)
    engine.start()
    try:
        first = engine.wait_frame(0, timeout=5)
        assert first is not None
        second = engine.wait_frame(first[0], timeout=30)
        assert second is not None and second[0] > first[0] and second[1] > first[1]
    finally:
        engine.stop()


@pytest.mark.parametrize(
    "uri",
    ["rtsp://admin:secret@127.0.0.1:9/none", "http://admin:secret@127.0.0.1:{port}/live.mjpg"],
)
def test_unreachable_source_reconnects_then_fails(uri: str) -> None:
    engine = make_engine(
        uri.format(port=closed_port()),
        reconnect={"initial_delay": 0.2, "max_delay": 0.3, "max_attempts": 2},
        timeout=2,
    )
    engine.start()
    seen: set[str] = set()
    assert wait_until(lambda: seen.add(engine.state) or engine.state == "failed", timeout=10)
    assert "reconnecting" in seen
    status = engine.status()
    assert status["counters"]["reconnects"] == 2
    assert "gave up after 2 reconnect attempts" in (engine.reason or "")
    assert "secret" not in str(status) and status["source"].startswith(uri[:4] + "://***@")
    engine.stop()
    assert engine.state == "stopped"


def test_missing_file_fails_at_once(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "absent.mp4"))
    engine.start()
    assert wait_until(lambda: engine.state == "failed", timeout=5)
    assert "file not found" in (engine.reason or "")
    assert engine.status()["counters"]["reconnects"] == 0
    engine.stop()


def test_model_load_failure_fails_the_pipeline(short_video: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 64)
    engine = make_engine(str(short_video), model={"path": str(bad)})
    engine.start()
    assert wait_until(lambda: engine.state == "failed", timeout=10)
    assert (engine.reason or "").startswith("model could not be loaded")
    engine.stop()


def test_failing_recorder_is_logged_once(
    short_video: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def recorder(image: np.ndarray, timestamp: float) -> None:
        raise OSError("disk full")

    engine = make_engine(str(short_video), recorder=recorder, pacing="unpaced")
    with caplog.at_level(logging.ERROR, logger="coral_serve.engine"):
        engine.start()
        assert wait_until(lambda: engine.state == "finished", timeout=10)
    assert engine.status()["recorder_errors"] == 100
    assert sum("recorder failed" in r.getMessage() for r in caplog.records) == 1
    engine.stop()


def test_live_source_drops_stale_frames_and_reconnects(
    mjpeg_server: MjpegServer, mjpeg_frames: list[bytes]
) -> None:
    def slow_recorder(image: np.ndarray, timestamp: float) -> None:
        time.sleep(0.1)  # a pipeline slower (10 fps) than its camera (30 fps)

    engine = make_engine(
        mjpeg_server.url,
        recorder=slow_recorder,
        reconnect={"initial_delay": 0.2, "max_delay": 0.2},
        timeout=2,
    )
    engine.start()
    try:
        assert wait_until(lambda: processed(engine) >= 10, timeout=10)
        status = engine.status()
        assert status["live"] is True and engine.state == "running"
        # only the newest frame waits, so no backlog builds up (latency: bench/engine.py)
        assert status["counters"]["frames_dropped"] > 0
        mjpeg_server.close()
        assert wait_until(lambda: engine.state == "reconnecting", timeout=5)
        replacement = MjpegServer(mjpeg_frames, fps=30, port=mjpeg_server.port)
        try:
            before = processed(engine)
            assert wait_until(lambda: engine.state == "running", timeout=5)
            assert wait_until(lambda: processed(engine) > before + 3, timeout=5)
            assert engine.status()["counters"]["reconnects"] >= 1
        finally:
            engine.stop()
            replacement.close()
    finally:
        engine.stop()


def test_realtime_pacing_drops_frames_a_slow_pipeline_cannot_take(short_video: Path) -> None:
    def slow_recorder(image: np.ndarray, timestamp: float) -> None:
        time.sleep(0.2)  # 5 fps against a 10 fps file

    engine = make_engine(str(short_video), recorder=slow_recorder, pacing="realtime")
    engine.start()
    try:
        assert wait_until(lambda: processed(engine) >= 5, timeout=10)
        time.sleep(0.5)
        status = engine.status()
    finally:
        engine.stop()
    counters = status["counters"]
    assert counters["frames_dropped"] > 0
    assert counters["frames_read"] >= counters["frames_processed"] + counters["frames_dropped"]


def test_missing_camera_fails_after_its_attempts() -> None:
    engine = make_engine("device://63", reconnect={"initial_delay": 0.1, "max_attempts": 0})
    engine.start()
    assert wait_until(lambda: engine.state == "failed", timeout=10)
    assert "gave up after 0 reconnect attempts" in (engine.reason or "")
    engine.stop()
