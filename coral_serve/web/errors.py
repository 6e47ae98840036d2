"""Every error leaves as JSON `{error, detail}` with the right status code."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from coral_serve.errors import CoralError

__all__ = [
    "ErrorBody",
    "FieldError",
    "ValidationErrorBody",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    422: "invalid_request",
    429: "too_many",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """Every error answer but a 422 on request fields."""

    error: str = Field(description="Machine-readable kind: not_found, conflict, unavailable, ...")
    detail: str = Field(description="What was wrong, for a person.")


class FieldError(BaseModel):
    field: str = Field(description="Dotted location of the bad field, e.g. source.uri.")
    message: str = Field(description="What is wrong with it (the value is not echoed).")


class ValidationErrorBody(BaseModel):
    """422: the request was understood but is not valid."""

    error: Literal["invalid_request"]
    detail: list[FieldError] | str = Field(
        description="One entry per bad field, or one sentence when the whole request is wrong."
    )


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
    undecodable = [error for error in exc.errors() if error["type"] == "json_invalid"]
    if undecodable:  # not a request with bad fields: a body that is not JSON at all
        reason = undecodable[0].get("ctx", {}).get("error", "")
        return error_response(400, f"request body is not valid JSON: {reason}".rstrip(": "))
    return error_response(422, _field_errors(exc), "invalid_request")


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (each FastAPI route has its own)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join([*allowed, "OPTIONS"])


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
    response = error_response(exc.status_code, exc.detail)
    for name, value in headers.items():
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
