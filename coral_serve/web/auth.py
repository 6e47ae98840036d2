"""Bearer-token authentication with roles, and signed URLs for media a browser cannot
fetch with headers (`<video src>`, MJPEG `<img>`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from coral_serve.config.http import AuthConfig, AuthMode, Role
from coral_serve.web.errors import error_response

__all__ = ["AuthMiddleware", "Authenticator", "Identity"]

# Reachable without a token: probes, the static shells of the dashboard and of plugin pages
# (they send the token with their API calls) and the API description.
_OPEN_PATHS = re.compile(
    r"^/(healthz|readyz|config\.json|docs|redoc|openapi\.json|ui/.*|plugins/[^/]+/static/.*)?$"
)
# What a viewer may do besides reading: watch live video.
_VIEWER_WRITES = re.compile(
    r"^(POST /api/v1/streams/[^/]+/webrtc|DELETE /api/v1/streams/sessions/[^/]+"
    r"|POST /api/v1/auth/signed-url)$"
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role


ANONYMOUS_ADMIN = Identity(name="anonymous", role=Role.admin)


class Authenticator:
    """Compares token hashes in constant time; derives the signed-URL key from them, so
    every ingress replica agrees and rotating tokens revokes old links."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._tokens = [(token.digest, Identity(token.name, token.role)) for token in config.tokens]
        material = "|".join(sorted(digest for digest, _ in self._tokens)).encode()
        self._url_key = hashlib.sha256(b"coral-signed-url|" + material).digest()

    @property
    def enabled(self) -> bool:
        return self.config.mode is AuthMode.token

    def identify(self, token: str) -> Identity | None:
        presented = hashlib.sha256(token.encode()).hexdigest()
        found = None
        for digest, identity in self._tokens:  # no early exit: timing says nothing
            if hmac.compare_digest(presented, digest):
                found = identity
        return found

    def sign(self, path: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.config.signed_url_ttl)
        return f"{path}?exp={expires}&sig={self._signature(path, expires)}"

    def verify_signed(self, path: str, query: str) -> bool:
        params = parse_qs(query)
        try:
            expires = int(params["exp"][0])
            signature = params["sig"][0]
        except (KeyError, ValueError, IndexError):
            return False
        return expires >= time.time() and hmac.compare_digest(
            signature, self._signature(path, expires)
        )

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}|{expires}".encode()
        return hmac.new(self._url_key, message, hashlib.sha256).hexdigest()


def allowed(identity: Identity, method: str, path: str) -> bool:
    if identity.role is Role.admin or method in _READ_METHODS:
        return True
    return bool(_VIEWER_WRITES.match(f"{method} {path}"))


class AuthMiddleware:
    """Pure ASGI, so streaming responses (MJPEG, SSE) pass through untouched."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.auth = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.auth.enabled:
            scope.setdefault("state", {})["identity"] = ANONYMOUS_ADMIN
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        identity = self._identify(scope)
        if self._is_open(path):
            if identity is not None:  # open paths may say more to a known caller (`/readyz`)
                scope.setdefault("state", {})["identity"] = identity
            await self.app(scope, receive, send)
            return
        if identity is None:
            response = error_response(401, "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
        elif not allowed(identity, method, path):
            response = error_response(403, f"role {identity.role.value!r} may not do this")
        else:
            scope.setdefault("state", {})["identity"] = identity
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _is_open(self, path: str) -> bool:
        if path == "/metrics":
            return not self.auth.config.protect_metrics
        return bool(_OPEN_PATHS.match(path))

    def _identify(self, scope: Scope) -> Identity | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return self.auth.identify(token.strip()) if scheme.lower() == "bearer" else None
        query = scope.get("query_string", b"").decode("latin-1")
        if scope["method"] in ("GET", "HEAD") and self.auth.verify_signed(scope["path"], query):
            return Identity(name="signed-url", role=Role.viewer)
        return None
