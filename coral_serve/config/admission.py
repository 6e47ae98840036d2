"""`http.admission`: what one client may ask of the ingress, so an API flood cannot take
the CPU the pipelines need."""

from __future__ import annotations

from pydantic import Field

from coral_serve.schema.base import CoralBaseModel

__all__ = ["AdmissionConfig"]


class AdmissionConfig(CoralBaseModel):
    """A client is a bearer token (by its name) or, without one, the peer address."""

    enabled: bool = Field(
        default=True,
        description="Limit each client's requests; beyond a limit the answer is 429 with "
        "Retry-After.",
    )
    max_in_flight: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="Requests one client may have in flight at once. An open stream (SSE, "
        "MJPEG, WebSocket) counts until it closes; WebRTC media does not pass the ingress.",
    )
    rate: float = Field(
        default=20.0,
        gt=0,
        le=100_000,
        description="Requests per second one client may sustain (a token bucket).",
    )
    burst: int = Field(
        default=60,
        ge=1,
        le=100_000,
        description="Requests one client may send at once on top of the rate (the bucket's "
        "size), e.g. a dashboard loading its page.",
    )
    exempt_paths: list[str] = Field(
        default_factory=lambda: ["/healthz", "/readyz", "/metrics"],
        description="Paths never limited: probes and the metrics scrape.",
    )
