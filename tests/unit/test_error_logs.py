"""Expected failures (answered as 4xx/503) are one log line; real bugs keep their traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from coral_serve.errors import SERVE_LOGGER, NotFoundError, quiet_expected_errors


@pytest.fixture
def serve_log() -> Iterator[io.StringIO]:
    """What Ray Serve's replica logger writes, with the filter its replicas install."""
    logger = logging.getLogger(SERVE_LOGGER)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    quiet_expected_errors()
    quiet_expected_errors()  # idempotent: one filter
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def fail(exc: Exception) -> None:
    """Log the way a Serve replica logs an exception a deployment method raised."""
    try:
        raise exc
    except Exception:
        logging.getLogger(SERVE_LOGGER).exception("Request failed.")


def test_an_expected_error_is_one_line_without_a_traceback(serve_log: io.StringIO) -> None:
    fail(NotFoundError("no pipeline 'cam-9'"))
    assert serve_log.getvalue() == "Request failed. 404 not_found: no pipeline 'cam-9'\n"
    assert len(logging.getLogger(SERVE_LOGGER).filters) == 1


def test_an_unexpected_error_keeps_its_traceback(serve_log: io.StringIO) -> None:
    fail(RuntimeError("a bug"))
    text = serve_log.getvalue()
    assert text.startswith("Request failed.\nTraceback") and "RuntimeError: a bug" in text
