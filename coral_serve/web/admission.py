"""Per-client admission control: a bounded number of requests in flight and a token-bucket
rate, so a flood of API requests is refused cheaply (429) before it costs the pipelines CPU.

Runs inside authentication, which says who the client is: a bearer token by its name, so
every device sharing a token shares its budget, and otherwise the peer address (a wrong
token is no client of its own, or a flood could make up a fresh one per request).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from coral_serve.config.admission import AdmissionConfig
from coral_serve.web.errors import error_response

__all__ = ["AdmissionMiddleware", "Budget"]

# Clients tracked at once; past it, the idle ones (nothing in flight, bucket full) go.
_MAX_CLIENTS = 10_000
# WebSocket close code "try again later" (RFC 6455 registry).
_TRY_AGAIN_LATER = 1013


@dataclass
class Budget:
    """One client's requests in flight and its token bucket."""

    capacity: int
    rate: float
    tokens: float = field(init=False)
    refilled_at: float = field(default_factory=time.monotonic)
    in_flight: int = 0

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.refilled_at)
        self.tokens = min(float(self.capacity), self.tokens + elapsed * self.rate)
        self.refilled_at = now

    def idle(self, now: float) -> bool:
        self.refill(now)
        return self.in_flight == 0 and self.tokens >= self.capacity

    def wait_for_token(self) -> int:
        """Whole seconds until the bucket holds a token again (at least 1)."""
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, config: AdmissionConfig, token_names: frozenset[str]):
        self.app = app
        self.config = config
        self._exempt = frozenset(config.exempt_paths)
        self._token_names = token_names
        self._clients: dict[str, Budget] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self._exempt:
            await self.app(scope, receive, send)
            return
        budget = self._budget(self._client(scope))
        refusal = self._refusal(budget)
        if refusal is not None:
            detail, retry_after = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": _TRY_AGAIN_LATER})
                return
            response = error_response(429, detail)
            response.headers["Retry-After"] = str(retry_after)
            await response(scope, receive, send)
            return
        budget.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            budget.in_flight -= 1

    def _refusal(self, budget: Budget) -> tuple[str, int] | None:
        """Why this request is refused and when to retry; None admits it (taking a token)."""
        if budget.in_flight >= self.config.max_in_flight:
            return (
                f"too many requests in flight from this client (at most "
                f"{self.config.max_in_flight}, http.admission.max_in_flight)",
                1,
            )
        budget.refill(time.monotonic())
        if budget.tokens < 1.0:
            return (
                f"request rate above {self.config.rate:g}/s for this client "
                f"(http.admission.rate, burst {self.config.burst})",
                budget.wait_for_token(),
            )
        budget.tokens -= 1.0
        return None

    def _client(self, scope: Scope) -> str:
        identity = scope.get("state", {}).get("identity")
        if identity is not None and identity.name in self._token_names:
            return f"token:{identity.name}"
        client = scope.get("client")
        return f"address:{client[0] if client else 'unknown'}"

    def _budget(self, client: str) -> Budget:
        budget = self._clients.get(client)
        if budget is None:
            if len(self._clients) >= _MAX_CLIENTS:
                self._forget_idle()
            budget = self._clients[client] = Budget(self.config.burst, self.config.rate)
        return budget

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for client in [key for key, budget in self._clients.items() if budget.idle(now)]:
            del self._clients[client]
