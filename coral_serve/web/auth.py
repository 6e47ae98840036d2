"""Bearer-token authentication with roles, and signed URLs for media a browser cannot
fetch with headers (`<video src>`, MJPEG `<img>`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from coral_serve.config.http import AuthConfig, AuthMode, Role
from coral_serve.web.errors import error_response

__all__ = ["AuthMiddleware", "Authenticator", "Identity", "KeySource"]

log = logging.getLogger(__name__)

KeySource = Callable[[], Awaitable[bytes]]
"""Returns the shared secret signed URLs are keyed with when none is configured."""

# Clocks of ingress replicas on different nodes may disagree by this much.
_CLOCK_SKEW = 30.0


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role


ANONYMOUS_ADMIN = Identity(name="anonymous", role=Role.admin)


class Authenticator:
    """Compares token hashes in constant time, and signs and checks media URLs.

    The URL key comes from `http.auth.url_signing_secret` or, when none is configured, from
    `key_source` (PipelineService's secret file), fetched once: every ingress replica, on
    any node, signs with the same key, and nothing any response or dump shows derives it.
    """

    def __init__(self, config: AuthConfig, key_source: KeySource) -> None:
        self.config = config
        self._tokens = [(token.digest, Identity(token.name, token.role)) for token in config.tokens]
        self._key_source = key_source
        self._url_key: bytes | None = None

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

    async def sign(self, path: str, role: Role, now: float | None = None) -> str:
        """`path?exp=..&role=..&sig=..`: opens `path` with `role`'s rights until `exp`."""
        expires = int((time.time() if now is None else now) + self.config.signed_url_ttl)
        signature = await self._signature(path, expires, role)
        return f"{path}?{urlencode({'exp': expires, 'role': role.value, 'sig': signature})}"

    async def verify_signed(self, path: str, query: str) -> Identity | None:
        """The identity a signed URL grants, or None: wrong path, role or signature, expired,
        or expiring later than a URL signed now could (`signed_url_ttl`)."""
        params = parse_qs(query)
        try:
            expires = int(params["exp"][0])
            role = Role(params["role"][0])
            signature = params["sig"][0]
        except (KeyError, ValueError, IndexError):
            return None
        now = time.time()
        if not now <= expires <= now + self.config.signed_url_ttl + _CLOCK_SKEW:
            return None
        expected = await self._signature(path, expires, role)
        if not hmac.compare_digest(signature, expected):
            return None
        return Identity(name="signed-url", role=role)

    async def _signature(self, path: str, expires: int, role: Role) -> str:
        message = f"{path}|{expires}|{role.value}".encode()
        return hmac.new(await self._key(), message, hashlib.sha256).hexdigest()

    async def _key(self) -> bytes:
        if self._url_key is None:
            configured = self.config.url_signing_secret
            secret = (
                configured.get_secret_value().encode()
                if configured is not None
                else await self._key_source()
            )
            self._url_key = hmac.new(secret, b"coral-signed-url", hashlib.sha256).digest()
        return self._url_key


class AuthMiddleware:
    """Says who the caller is; each route's `RoleRequirement` (web/roles.py) says whether
    that is enough. Pure ASGI, so streaming responses (MJPEG, SSE) pass through untouched.

    `scope["state"]["identity"]` is set only for a known caller (so `/readyz` may say more
    to one); a missing or wrong token leaves it unset, and a route that needs a role
    answers 401.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.auth = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if not self.auth.enabled:
            scope.setdefault("state", {})["identity"] = ANONYMOUS_ADMIN
            await self.app(scope, receive, send)
            return
        try:
            identity = await self._identify(scope)
        except Exception as exc:  # the signing key could not be fetched
            log.warning("cannot check a signed URL: %s: %s", type(exc).__name__, exc)
            await error_response(503, "signed URLs cannot be checked right now")(
                scope, receive, send
            )
            return
        if identity is not None:
            scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)

    async def _identify(self, scope: Scope) -> Identity | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return self.auth.identify(token.strip()) if scheme.lower() == "bearer" else None
        query = scope.get("query_string", b"").decode("latin-1")
        if scope.get("method") in ("GET", "HEAD") and "sig=" in query:
            return await self.auth.verify_signed(scope["path"], query)
        return None
