"""Credentials are masked in every log record: query-string secrets, URL userinfo, tracebacks,
the logs of workers and the driver alike."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import cv2
import pytest

from coral_serve.config.runtime import RuntimeConfig
from coral_serve.logs import configure_logging
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.worker import PipelineWorker
from tests.conftest import shared_file
from tests.unit.engine.support import MjpegServer

PASSCODE = "S3cretPw"


class _Seen(logging.Handler):
    """Sets an event when a record whose message contains `needle` arrives."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.event.set()


@pytest.fixture
def camera() -> Iterator[MjpegServer]:
    capture = cv2.VideoCapture(str(shared_file("media", "vtest-10s.mp4")))
    ok, image = capture.read()
    capture.release()
    assert ok
    server = MjpegServer([cv2.imencode(".jpg", image)[1].tobytes()], fps=30)
    yield server
    server.close()


@pytest.mark.parametrize(
    "name", ["passcode", "Password", "pwd", "token", "access_token", "api_key", "sig", "key"]
)
def test_credential_query_parameters_keep_their_name_and_lose_their_value(name: str) -> None:
    masked = masked_uri(f"rtsp://cam.local/live?channel=1&{name}={PASSCODE}&fps=5")
    assert masked == f"rtsp://cam.local/live?channel=1&{name}=***&fps=5"


def test_the_reconnect_log_of_a_worker_never_shows_the_passcode(
    camera: MjpegServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    seen = _Seen("reconnect attempt")
    logging.getLogger("coral_serve").addHandler(seen)
    spec = PipelineSpec.model_validate(
        {
            "name": "door",
            "source": {
                "uri": f"{camera.url}?passcode={PASSCODE}",
                "reconnect": {"initial_delay": 0.1, "max_delay": 0.1},
                "timeout": 2,
            },
            "model": {"backend": "none"},
        }
    )
    worker = PipelineWorker("p1", spec, generation=1)
    try:
        camera.close()  # the camera goes away: the worker logs its reconnect attempts
        assert seen.event.wait(timeout=60)
    finally:
        worker.stop()
        logging.getLogger("coral_serve").removeHandler(seen)
    assert "passcode=***" in caplog.text
    assert PASSCODE not in caplog.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configured_handlers_mask_messages_and_tracebacks(
    log_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    project = logging.getLogger("coral_serve")
    saved = (project.handlers[:], project.level, project.propagate)
    configure_logging(RuntimeConfig(log_format=log_format, log_level="INFO"))
    log = logging.getLogger("coral_serve.engine.engine")
    try:
        try:
            raise ConnectionError(f"influx at http://writer:{PASSCODE}@127.0.0.1:8086 refused")
        except ConnectionError:
            log.exception("sink failed for %s", f"rtsp://cam/x?pwd={PASSCODE}")
    finally:
        project.handlers[:], project.level, project.propagate = saved
    written = stream.getvalue()
    assert "ConnectionError" in written and "Traceback" in written
    assert "http://***@127.0.0.1:8086" in written and "pwd=***" in written
    assert PASSCODE not in written
    if log_format == "json":
        entry = json.loads(written)
        assert entry["message"] == "sink failed for rtsp://cam/x?pwd=***"
