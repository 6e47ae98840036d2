"""Errors services raise and the web layer turns into JSON 4xx/503 answers."""

from __future__ import annotations

import logging

__all__ = [
    "ConflictError",
    "CoralError",
    "ExpectedErrorFilter",
    "InvalidRequestError",
    "NotFoundError",
    "PreconditionFailedError",
    "TooManyError",
    "UnavailableError",
    "quiet_expected_errors",
]

# Ray Serve's replica logger: it logs every exception a deployment method raises, with its
# traceback ("Request failed."), including the 4xx answers services raise on purpose.
SERVE_LOGGER = "ray.serve"


class CoralError(Exception):
    """Base of every expected failure; `status` is the HTTP code it maps to."""

    status: int = 400
    error: str = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __reduce__(self) -> tuple[type, tuple[str]]:
        # Keeps the type and message intact when Ray carries the error between processes.
        return (type(self), (self.detail,))


class NotFoundError(CoralError):
    status = 404
    error = "not_found"


class ConflictError(CoralError):
    status = 409
    error = "conflict"


class PreconditionFailedError(CoralError):
    """If-Match named a revision the resource has moved on from (a stale write)."""

    status = 412
    error = "precondition_failed"


class InvalidRequestError(CoralError):
    status = 422
    error = "invalid_request"


class TooManyError(CoralError):
    status = 429
    error = "too_many"


class UnavailableError(CoralError):
    status = 503
    error = "unavailable"


class ExpectedErrorFilter(logging.Filter):
    """Turns a record of an expected failure into one line: status, error and detail.

    The caller gets that failure as a 4xx/503 answer, so its traceback tells an operator
    nothing, and a client sending bad requests would otherwise fill the log with them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CoralError):
            record.msg = f"{record.getMessage()} {exc.status} {exc.error}: {exc.detail}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


def quiet_expected_errors(logger_name: str = SERVE_LOGGER) -> None:
    """Install `ExpectedErrorFilter` on a logger once (Serve replicas call it at start)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ExpectedErrorFilter) for f in logger.filters):
        logger.addFilter(ExpectedErrorFilter())
