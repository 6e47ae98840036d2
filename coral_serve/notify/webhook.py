"""Webhook notifier: one signed POST per event revision.

`X-Coral-Signature: sha256=<hex>` is HMAC-SHA256 of the raw body with the configured secret,
so a receiver can check the sender; `Idempotency-Key` repeats the body's key so it can drop a
retried delivery. Redirects are not followed: the outbound policy judged this URL, not
wherever a redirect points.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

import httpx

from coral_serve.config.notifications import WebhookNotifierConfig
from coral_serve.notify.base import Message, Notifier, NotifierError, PermanentNotifierError
from coral_serve.schema.redact import masked_text, masked_uri

__all__ = ["OutboundCheck", "WebhookNotifier", "signature"]

OutboundCheck = Callable[[str], Awaitable[None]]
"""Raises when the outbound policy refuses the URL (services.outbound.check_outbound)."""

# Answers worth retrying: the receiver is busy, overloaded or broken for now.
_RETRIED = frozenset({408, 425, 429})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    def __init__(self, config: WebhookNotifierConfig, check_url: OutboundCheck) -> None:
        self._config = config
        self._check_url = check_url
        self._shown_url = masked_uri(config.url)
        self._client = httpx.AsyncClient(timeout=config.timeout, follow_redirects=False)

    async def deliver(self, message: Message) -> None:
        try:
            await self._check_url(self._config.url)
        except Exception as exc:  # the policy's refusal, or a name that does not resolve
            raise NotifierError(masked_text(str(exc))) from None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Coral-Signature": signature(self._config.secret.get_secret_value(), message.body),
        }
        try:
            response = await self._client.post(
                self._config.url, content=message.body, headers=headers
            )
        except httpx.HTTPError as exc:
            reason = masked_text(str(exc)) or type(exc).__name__
            raise NotifierError(f"POST {self._shown_url} failed: {reason}") from None
        status = response.status_code
        if response.is_success:
            return
        answer = f"POST {self._shown_url} answered HTTP {status}"
        if status >= 500 or status in _RETRIED:
            raise NotifierError(answer)
        raise PermanentNotifierError(answer)

    async def close(self) -> None:
        await self._client.aclose()
