"""Errors services raise and the web layer turns into JSON 4xx/503 answers."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "CoralError",
    "InvalidRequestError",
    "NotFoundError",
    "TooManyError",
    "UnavailableError",
]


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


class InvalidRequestError(CoralError):
    status = 422
    error = "invalid_request"


class TooManyError(CoralError):
    status = 429
    error = "too_many"


class UnavailableError(CoralError):
    status = 503
    error = "unavailable"
