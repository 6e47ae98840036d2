"""Every error leaves as JSON `{error, detail}` with the right status code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from coral_serve.errors import CoralError

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "too_many",
    503: "unavailable",
}


def error_response(status: int, detail: object, error: str | None = None) -> JSONResponse:
    """The one error shape of the API."""
    name = error or _ERROR_NAMES.get(status, "error")
    return JSONResponse({"error": name, "detail": detail}, status_code=status)


def _field_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """Name each bad field by its dotted location, without echoing the submitted value."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"] if part != "body"),
            "message": error["msg"],
        }
        for error in exc.errors()
    ]


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, _field_errors(exc), "invalid_request")


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, exc.detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _on_coral(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CoralError)
    return error_response(exc.status, exc.detail, exc.error)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; see the server log", "internal")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(CoralError, _on_coral)
    app.add_exception_handler(Exception, _on_unexpected)
