"""The OpenAPI description tells the error answers the API really gives, on every route.

FastAPI documents every 422 as its own `HTTPValidationError` and no other error at all;
this replaces that with the project's `{error, detail}` models, adds the statuses the
middleware and services answer with, so generated clients can read every answer. Each
operation also shows the role its route declares (`x-required-role`, the bearer security
scheme and a line of its description).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from coral_serve.config.http import AuthMode, Role
from coral_serve.web.errors import ErrorBody, ValidationErrorBody
from coral_serve.web.roles import PUBLIC, RoleRequirement, declared_requirement, mounted_routes

__all__ = ["REQUIRED_ROLE", "document_errors"]

REQUIRED_ROLE = "x-required-role"
_BEARER = "bearer"
_FASTAPI_MODELS = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/{model}"


def document_errors(app: FastAPI) -> None:
    """Post-process the generated schema once, the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            http = app.state.config.http
            secured = http.auth.mode is AuthMode.token
            admission = http.admission
            unlimited = frozenset(admission.exempt_paths) if admission.enabled else None
            _document(generate(), _requirements(app), secured, unlimited)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


Requirements = dict[tuple[str, str], RoleRequirement]


def _requirements(app: FastAPI) -> Requirements:
    """(path, METHOD) -> the role its route declares; the walk covers plugin routes too."""
    return {
        (served.path_format, method): declared_requirement(served) or PUBLIC
        for route, served in mounted_routes(app.routes)
        if isinstance(route, APIRoute)
        for method in served.methods
    }


def _document(
    schema: dict[str, Any],
    requirements: Requirements,
    secured: bool,
    unlimited: frozenset[str] | None,
) -> None:
    """`unlimited`: the paths admission control exempts; None when it is off."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[_BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token of `http.auth.tokens`; media GETs also take a signed URL "
        "(`exp`, `role`, `sig` from POST /api/v1/auth/signed-url).",
    }
    components = schema["components"].setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        _add_model(components, model)
    for name in _FASTAPI_MODELS:
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            requirement = requirements.get((path, method.upper()), PUBLIC)
            _document_role(operation, requirement, secured)
            limited = unlimited is not None and path not in unlimited
            _document_operation(path, requirement, operation, limited)


def _add_model(components: dict[str, Any], model: type[BaseModel]) -> None:
    definition = model.model_json_schema(ref_template=_REF)
    components.update(definition.pop("$defs", {}))
    components[model.__name__] = definition


def _document_role(operation: dict[str, Any], requirement: RoleRequirement, secured: bool) -> None:
    """The role always; the bearer requirement only while tokens are checked, since a
    client that sends none then is answered all the same."""
    operation[REQUIRED_ROLE] = requirement.label
    if secured:
        operation["security"] = [] if requirement.role is None else [{_BEARER: []}]
    text = operation.get("description", "")
    operation["description"] = f"{text}\n\n{requirement.description}".strip()


def _document_operation(
    path: str, requirement: RoleRequirement, operation: dict[str, Any], limited: bool
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if requirement.role is not None:
        statuses.add(401)
        if requirement.role is Role.admin:
            statuses.add(403)
    if path.startswith("/api/") or path.startswith("/plugins/"):
        statuses.add(503)  # a service or the store is not there
    if "{" in path:
        statuses.add(404)
    if limited:
        statuses.add(429)  # admission control
    for status in sorted(statuses):
        entry = responses.setdefault(str(status), {})
        entry.setdefault("description", _DESCRIPTIONS.get(status, "Error"))
        model = ValidationErrorBody if status == 422 else ErrorBody
        entry["content"] = {
            "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}
        }


_DESCRIPTIONS = {
    400: "The body is not valid JSON, or a path names nothing this API serves",
    401: "No valid bearer token (when authentication is on)",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Request body larger than http.max_body_bytes",
    422: "Invalid request: each bad field with what is wrong",
    429: "Too many requests from this client (http.admission): retry after Retry-After seconds",
    503: "A service or the pipeline store is unavailable; retry later",
}
